"""The Gmail half of the Google emulator (see ``tests.emulators.google``)."""

from __future__ import annotations

import copy
import email.utils
from collections.abc import Callable
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, Message

from tests.emulators.core import (
    JSON,
    Answer,
)
from tests.emulators.google._wire import (
    _HEADERS,
    ApiError,
    GoogleState,
    _header,
    _json_body,
    _Message,
    _msgids,
    _norm_subject,
    _page,
    _raw_of,
    _search_time,
    b64url,
)


class GmailSide(GoogleState):
    """Gmail: the person's side (receive, send, edit, schedule, undo, delete) and the API
    handlers (messages, drafts, threads, history, search). Mixed into ``GoogleEmulator``,
    which holds the state and the lock."""

    # -- the other side of the mailbox -------------------------------------------------------

    def receive(self, raw: bytes, at: datetime | None = None) -> str:
        """A message arrives in the inbox; return its id."""
        with self._lock:
            headers = _HEADERS.parsebytes(raw)
            thread = self._thread_by_headers(headers)
            message = self._add_message(raw, ["INBOX", "UNREAD"], thread, at)
            self._record(added=[message])
            return message.id

    def person_sends(self, raw: bytes) -> str:
        """The person writes and sends a message of their own in Gmail."""
        with self._lock:
            thread = self._thread_by_headers(_HEADERS.parsebytes(raw))
            message = self._add_message(raw, ["SENT"], thread, None)
            self._record(added=[message])
            return message.id

    def send_draft(
        self,
        key_or_draft_id: str,
        edit: Callable[[EmailMessage], EmailMessage | None] | None = None,
        *,
        in_place: bool = False,
    ) -> str:
        """The person sends a draft (after ``edit``): the draft goes, a SENT message with a
        new id appears in the same thread, in one history record. Returns the new id.
        ``in_place``: the draft's own message loses DRAFT and gains SENT instead (a
        labelsRemoved and a labelsAdded record; the id stays)."""
        with self._lock:
            draft_id = self._find_draft(key_or_draft_id)
            old = self._messages[self._drafts[draft_id]]
            if in_place:
                del self._drafts[draft_id]
                old.labels = ["SENT"]
                self._sent_from[old.id] = draft_id
                self._record(relabelled=(old, ["SENT"], ["DRAFT"]))
                return old.id
            raw = self._edited(old.raw, edit, date=True)
            del self._drafts[draft_id]
            del self._messages[old.id]
            sent = self._add_message(raw, ["SENT"], old.thread_id, None)
            self._sent_from[sent.id] = draft_id
            self._record(added=[sent], deleted=[old])
            return sent.id

    def undo_send(self, sent_id: str) -> str:
        """The person clicks "Undo" right after sending: the sent message goes and the
        draft comes back under its old draft id (a new message id). Returns that id."""
        with self._lock:
            sent = self._messages.pop(sent_id)
            draft_id = self._sent_from.pop(sent_id)
            back = self._add_message(sent.raw, ["DRAFT"], sent.thread_id, None)
            self._drafts[draft_id] = back.id
            self._record(added=[back], deleted=[sent])
            return back.id

    def schedule_draft(
        self,
        key_or_draft_id: str,
        edit: Callable[[EmailMessage], EmailMessage | None] | None = None,
    ) -> str:
        """The person schedules a draft to be sent later: the draft goes, a message
        labelled SCHEDULED (neither DRAFT nor SENT) takes its place. Returns its id."""
        with self._lock:
            draft_id = self._find_draft(key_or_draft_id)
            old = self._messages[self._drafts.pop(draft_id)]
            del self._messages[old.id]
            raw = self._edited(old.raw, edit, date=True)
            waiting = self._add_message(raw, ["SCHEDULED"], old.thread_id, None)
            self._record(added=[waiting], deleted=[old])
            return waiting.id

    def send_scheduled(self, message_id: str) -> None:
        """The scheduled time comes: the message loses SCHEDULED and gains SENT."""
        with self._lock:
            message = self._messages[message_id]
            message.labels = [label for label in message.labels if label != "SCHEDULED"]
            message.labels.append("SENT")
            self.history_id += 1
            message.history_id = self.history_id
            self._record(relabelled=(message, ["SENT"], ["SCHEDULED"]))

    def edit_draft(
        self, key_or_draft_id: str, edit: Callable[[EmailMessage], EmailMessage | None]
    ) -> str:
        """The person edits a draft: Gmail stores a new message under the same draft id."""
        with self._lock:
            draft_id = self._find_draft(key_or_draft_id)
            old = self._messages[self._drafts[draft_id]]
            raw = self._edited(old.raw, edit, date=False)
            del self._messages[old.id]
            new = self._add_message(raw, ["DRAFT"], old.thread_id, None)
            self._drafts[draft_id] = new.id
            self._record(added=[new], deleted=[old])
            return new.id

    def delete_draft(self, key_or_draft_id: str) -> None:
        """The person discards a draft."""
        with self._lock:
            draft_id = self._find_draft(key_or_draft_id)
            old = self._messages.pop(self._drafts.pop(draft_id))
            self._record(deleted=[old])

    def delete_message(self, message_id: str) -> None:
        with self._lock:
            old = self._messages.pop(message_id)
            self._record(deleted=[old])

    def drafts(self) -> list[bytes]:
        with self._lock:
            return [self._messages[m].raw for m in self._drafts.values()]

    def draft_ids(self) -> dict[str, str]:
        with self._lock:
            return dict(self._drafts)

    def labelled(self, label: str) -> list[bytes]:
        with self._lock:
            return [m.raw for m in self._messages.values() if label in m.labels]

    def message(self, message_id: str) -> tuple[str, list[str], bytes]:
        """(thread id, labels, raw) of a stored message."""
        with self._lock:
            found = self._messages[message_id]
            return found.thread_id, list(found.labels), found.raw

    # -- gmail -------------------------------------------------------------------------------

    def _user(self, user: str) -> None:
        if user not in ("me", self.address):
            raise ApiError(403, "Delegation denied for " + self.address, "forbidden")

    def _profile(self, user: str, *, query: dict[str, list[str]], body: bytes) -> Answer:
        self._user(user)
        threads = {m.thread_id for m in self._messages.values()}
        return Answer.json(
            200,
            {
                "emailAddress": self.address,
                "messagesTotal": len(self._messages),
                "threadsTotal": len(threads),
                "historyId": str(self.history_id),
            },
        )

    def _messages_list(self, user: str, *, query: dict[str, list[str]], body: bytes) -> Answer:
        self._user(user)
        found = [m for m in self._candidates(query) if self._search(m, query)]
        found.sort(key=lambda m: (m.internal_date, int(m.id, 16)), reverse=True)
        page, token = _page(found, query, default=100, limit=500)
        data: JSON = {"resultSizeEstimate": len(found)}
        if page:
            data["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in page]
        if token:
            data["nextPageToken"] = token
        return Answer.json(200, data)

    def _candidates(self, query: dict[str, list[str]]) -> list[_Message]:
        """Every message, or only those with the Message-ID the query names (indexed)."""
        for term in " ".join(query.get("q", [])).split():
            name, _, value = term.partition(":")
            if name.lower() == "rfc822msgid":
                ids = self._ids_by_msgid.get(value.strip("<>").lower(), [])
                return [self._messages[i] for i in ids if i in self._messages]
        return list(self._messages.values())

    def _search(self, message: _Message, query: dict[str, list[str]]) -> bool:
        if query.get("q") and message.added > self._clock().timestamp() - self.search_lag:
            return False  # not indexed yet
        labels = query.get("labelIds", [])
        if any(label not in message.labels for label in labels):
            return False
        if "SPAM" in message.labels or "TRASH" in message.labels:
            return False
        for term in " ".join(query.get("q", [])).split():
            name, _, value = term.partition(":")
            name = name.lower()
            if name == "rfc822msgid":
                if message.rfc822msgid() != value.strip("<>").lower():
                    return False
            elif name in ("in", "label"):
                if (
                    value.upper() not in message.labels
                    and f"{value.upper()}S" not in message.labels
                ):
                    return False
            elif name in ("after", "before"):
                seconds = _search_time(value)
                if name == "after" and message.internal_date // 1000 <= seconds:
                    return False
                if name == "before" and message.internal_date // 1000 >= seconds:
                    return False
        return True

    def _message_json(self, message: _Message, query: dict[str, list[str]]) -> JSON:
        fmt = (query.get("format") or ["full"])[0]
        data: JSON = {"id": message.id, "threadId": message.thread_id}
        data["labelIds"] = list(message.labels)
        data.update(
            historyId=str(message.history_id),
            internalDate=str(message.internal_date),
            sizeEstimate=len(message.raw),
        )
        if fmt == "raw":
            data["raw"] = b64url(message.raw)
        elif fmt in ("metadata", "full"):
            headers = message.headers()
            wanted = {h.lower() for h in query.get("metadataHeaders", [])}
            data["snippet"] = ""
            data["payload"] = {
                "partId": "",
                "mimeType": headers.get_content_type(),
                "filename": "",
                "headers": [
                    {"name": k, "value": str(v)}
                    for k, v in headers.items()
                    if fmt == "full" or not wanted or k.lower() in wanted
                ],
            }
        return data

    def _messages_get(
        self, user: str, message_id: str, *, query: dict[str, list[str]], body: bytes
    ) -> Answer:
        self._user(user)
        found = self._messages.get(message_id)
        if found is None:
            raise ApiError(404, "Requested entity was not found.", "notFound")
        return Answer.json(200, self._message_json(found, query))

    def _messages_delete(
        self, user: str, message_id: str, *, query: dict[str, list[str]], body: bytes
    ) -> Answer:
        self._user(user)
        if message_id not in self._messages:
            raise ApiError(404, "Requested entity was not found.", "notFound")
        self.delete_message(message_id)
        return Answer(204)

    def _messages_insert(self, user: str, *, query: dict[str, list[str]], body: bytes) -> Answer:
        self._user(user)
        data = _json_body(body)
        raw = _raw_of(data)
        labels = list(data.get("labelIds") or [])
        thread = data.get("threadId")
        headers = _HEADERS.parsebytes(raw)
        thread_id = (
            self._thread_for(headers, thread) if thread else self._thread_by_headers(headers)
        )
        at = None
        if (query.get("internalDateSource") or ["receivedTime"])[0] == "dateHeader":
            date = _header(headers, "Date")
            at = email.utils.parsedate_to_datetime(date) if date else None
        message = self._add_message(raw, labels, thread_id, at)
        self._record(added=[message])
        return Answer.json(
            200, {"id": message.id, "threadId": message.thread_id, "labelIds": labels}
        )

    def _drafts_list(self, user: str, *, query: dict[str, list[str]], body: bytes) -> Answer:
        self._user(user)
        drafts = [
            (draft_id, self._messages[message_id]) for draft_id, message_id in self._drafts.items()
        ]
        wanted = {m.id for m in self._candidates(query)}
        found = [
            (d, m)
            for d, m in drafts
            if m.id in wanted and self._search(m, {"q": query.get("q", [])})
        ]
        found.sort(key=lambda dm: (dm[1].internal_date, int(dm[1].id, 16)), reverse=True)
        page, token = _page(found, query, default=100, limit=500)
        data: JSON = {"resultSizeEstimate": len(found)}
        if page:
            data["drafts"] = [
                {"id": d, "message": {"id": m.id, "threadId": m.thread_id}} for d, m in page
            ]
        if token:
            data["nextPageToken"] = token
        return Answer.json(200, data)

    def _drafts_create(self, user: str, *, query: dict[str, list[str]], body: bytes) -> Answer:
        self._user(user)
        data = _json_body(body).get("message") or {}
        raw = _raw_of(data)
        headers = _HEADERS.parsebytes(raw)
        thread_id = self._thread_for(headers, data.get("threadId"))
        message = self._add_message(raw, ["DRAFT"], thread_id, None)
        draft_id = f"r{next(self._draft_ids):019d}"
        self._drafts[draft_id] = message.id
        self._record(added=[message])
        return Answer.json(
            200,
            {
                "id": draft_id,
                "message": {
                    "id": message.id,
                    "threadId": message.thread_id,
                    "labelIds": ["DRAFT"],
                },
            },
        )

    def _drafts_get(
        self, user: str, draft_id: str, *, query: dict[str, list[str]], body: bytes
    ) -> Answer:
        self._user(user)
        if draft_id not in self._drafts:
            raise ApiError(404, "Requested entity was not found.", "notFound")
        message = self._messages[self._drafts[draft_id]]
        return Answer.json(200, {"id": draft_id, "message": self._message_json(message, query)})

    def _drafts_delete(
        self, user: str, draft_id: str, *, query: dict[str, list[str]], body: bytes
    ) -> Answer:
        self._user(user)
        if draft_id not in self._drafts:
            raise ApiError(404, "Requested entity was not found.", "notFound")
        self.delete_draft(draft_id)
        return Answer(204)

    def _threads_get(
        self, user: str, thread_id: str, *, query: dict[str, list[str]], body: bytes
    ) -> Answer:
        self._user(user)
        members = sorted(
            self._thread_members(thread_id), key=lambda m: (m.internal_date, int(m.id, 16))
        )
        if not members:
            raise ApiError(404, "Requested entity was not found.", "notFound")
        return Answer.json(
            200,
            {
                "id": thread_id,
                "historyId": str(max(m.history_id for m in members)),
                "messages": [self._message_json(m, query) for m in members],
            },
        )

    def _history_list(self, user: str, *, query: dict[str, list[str]], body: bytes) -> Answer:
        self._user(user)
        start_text = (query.get("startHistoryId") or [""])[0]
        if not start_text.isdigit():
            raise ApiError(400, "Invalid startHistoryId", "invalidArgument")
        start = int(start_text)
        if start < self._min_history:
            raise ApiError(404, "Requested entity was not found.", "notFound")
        types = set(query.get("historyTypes", [])) or {
            "messageAdded",
            "messageDeleted",
            "labelAdded",
            "labelRemoved",
        }
        label = next(iter(query.get("labelId") or []), None)
        wanted = {
            "messageAdded": "messagesAdded",
            "messageDeleted": "messagesDeleted",
            "labelAdded": "labelsAdded",
            "labelRemoved": "labelsRemoved",
        }
        records = []
        for record in self._history:
            if record["id"] <= start:
                continue
            out: JSON = {"id": str(record["id"]), "messages": []}
            for kind in types:
                key = wanted.get(kind)
                items = [
                    i
                    for i in record.get(key or "", [])
                    if label is None or label in i["message"]["labelIds"]
                ]
                if key and items:
                    out[key] = copy.deepcopy(items)
            if len(out) > 2:
                out["messages"] = [
                    {"id": i["message"]["id"], "threadId": i["message"]["threadId"]}
                    for k in wanted.values()
                    for i in out.get(k, [])
                ]
                if not self.history_labels:  # as Google documents: id and threadId only
                    for k in wanted.values():
                        for i in out.get(k, []):
                            i["message"] = {
                                "id": i["message"]["id"],
                                "threadId": i["message"]["threadId"],
                            }
                records.append(out)
        page, token = _page(records, query, default=self.history_page_size, limit=500)
        data: JSON = {"historyId": str(self.history_id)}
        if page:
            data["history"] = page
        if token:
            data["nextPageToken"] = token
        return Answer.json(200, data)

    # -- gmail internals ---------------------------------------------------------------------

    def _find_draft(self, key_or_draft_id: str) -> str:
        if key_or_draft_id in self._drafts:
            return key_or_draft_id
        for draft_id, message_id in self._drafts.items():
            if _header(self._messages[message_id].headers(), "X-Outreach-Key") == key_or_draft_id:
                return draft_id
        raise KeyError(f"no draft with key or id {key_or_draft_id!r}")

    def _edited(
        self, raw: bytes, edit: Callable[[EmailMessage], EmailMessage | None] | None, *, date: bool
    ) -> bytes:
        if edit is None and not date:
            return raw
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        if edit is not None:
            message = edit(message) or message
        if date and "Date" not in message:
            message["Date"] = email.utils.format_datetime(self._clock())
        return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))

    def _thread_members(self, thread_id: str) -> list[_Message]:
        return [m for m in self._messages.values() if m.thread_id == thread_id]

    def _thread_for(self, headers: Message, thread_id: str | None) -> str | None:
        """Gmail's rule for a message added with a thread id: it joins that thread only
        when it refers to a message of it and the Subject matches; else a new thread."""
        if not thread_id:
            return None
        members = self._thread_members(thread_id)
        if not members:
            raise ApiError(404, "Requested entity was not found.", "notFound")
        parents = set(_msgids(_header(headers, "In-Reply-To"))) | set(
            _msgids(_header(headers, "References"))
        )
        subject = _norm_subject(_header(headers, "Subject"))
        for member in members:
            own = member.headers()
            ids = set(_msgids(_header(own, "Message-ID")))
            if parents & ids and _norm_subject(_header(own, "Subject")) == subject:
                return thread_id
        return None

    def _thread_by_headers(self, headers: Message) -> str | None:
        """Received mail joins the thread of a message it refers to, Subject matching."""
        subject = _norm_subject(_header(headers, "Subject"))
        parents = _msgids(_header(headers, "In-Reply-To")) + list(
            reversed(_msgids(_header(headers, "References")))
        )
        for parent in parents:
            thread_id = self._by_msgid.get(parent)
            if thread_id is None:
                continue
            for member in self._thread_members(thread_id):
                if _norm_subject(_header(member.headers(), "Subject")) == subject:
                    return thread_id
        return None

    def _add_message(
        self, raw: bytes, labels: list[str], thread_id: str | None, at: datetime | None
    ) -> _Message:
        message_id = f"{next(self._ids):x}"
        self.history_id += 1
        moment = at or self._clock()
        stored = _Message(
            message_id,
            thread_id or message_id,
            labels,
            raw,
            int(moment.timestamp() * 1000),
            self.history_id,
            self._clock().timestamp(),
        )
        self._messages[message_id] = stored
        for own in _msgids(_header(stored.headers(), "Message-ID"))[:1]:
            self._by_msgid.setdefault(own, stored.thread_id)
            self._ids_by_msgid.setdefault(own.strip("<>").lower(), []).append(message_id)
        return stored

    def _record(
        self,
        added: list[_Message] | None = None,
        deleted: list[_Message] | None = None,
        *,
        relabelled: tuple[_Message, list[str], list[str]] | None = None,
    ) -> None:
        """One history record; ``relabelled``: (message, labels added, labels removed)."""
        self.history_id += 1

        def item(message: _Message) -> JSON:
            return {
                "message": {
                    "id": message.id,
                    "threadId": message.thread_id,
                    "labelIds": list(message.labels),
                }
            }

        record: JSON = {"id": self.history_id}
        for message in added or ():
            message.history_id = self.history_id  # a message's historyId: its last record
        if added:
            record["messagesAdded"] = [item(m) for m in added]
        if deleted:
            record["messagesDeleted"] = [item(m) for m in deleted]
        if relabelled is not None:
            message, plus, minus = relabelled
            if plus:
                record["labelsAdded"] = [{**item(message), "labelIds": plus}]
            if minus:
                record["labelsRemoved"] = [{**item(message), "labelIds": minus}]
        self._history.append(record)
