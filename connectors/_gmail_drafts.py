"""Our drafts in Gmail, made once per key whatever is lost on the way (for
``connectors.gmail``).

The ledger (``connectors._ledger``) is the write-ahead record: before ``drafts.create``
the attempt is written (state ``creating``, with the time it was attempted), after it the
ids Gmail answered (state ``draft``); an attempt that Gmail answered with an error that
proves nothing was made (4xx, 429) is marked ``failed``. So:

- a key with no record was never attempted: ``drafts.create`` at once, 10 units, no
  look-up. Unless the ledger file is new (``search_unknown_keys``): it may be one that
  was lost, so unknown keys are looked up by search until a look-up finds nothing (a
  lost ledger's drafts are found; a new workspace's first look-up finds none, and from
  then on its drafts cost 10 units too);
- a key whose record is ``draft`` is looked up by ``drafts.get`` (the person may have sent
  it: then the sent copy, by Message-ID search, else the first message sent in its
  thread since, ``threads.get``);
- a key whose attempt is in doubt (``creating``: the connection dropped, a time-out, a
  5xx, a worker killed mid-request) pays a search by Message-ID. Gmail's search lags
  behind a create, so "not found" is only believed once ``search_lag`` has passed since
  the attempt; before that the connector says ``TransientError`` with the time left as
  ``retry_after`` (it never creates on the word of a search that may not have caught up,
  and never waits long in-process: the queue retries).

A failed request is never resent blindly (``NoResendHttp``; the retry looks first). A
reply carries threadId, In-Reply-To, References and the caller's "Re:" Subject, as Gmail
needs to keep it in the thread. ``deliver_to_self`` keeps the same kind of record for
the digest (key ``digest:<Message-ID>``).

A record is forgotten ``FORGET_AFTER`` after it settled (``settled_long_ago``; the
mailbox prunes the ledger when it reads changes): a draft reported sent or deleted
(``closed``), a digest delivered, an attempt refused (``failed``: the same as no record),
a draft we withdrew. By then no retry, replayed cursor or late sent copy still asks for
it: the pipeline drafts a key only while its step is open, and a step whose draft was
reported sent or deleted is finished. An attempt in doubt (``creating``) and a draft not
yet reported are never forgotten: they are what keeps a draft from being made twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from email.message import EmailMessage
from functools import partial
from typing import Any

from connectors._gmail_read import (
    DIGEST_HEADER,
    METADATA_HEADERS,
    b64,
    meta_of_metadata,
)
from connectors._google_http import Caller, http_status
from connectors._ids import derived_message_id
from connectors._ledger import DraftLedger, Record
from connectors._mime import (
    Headers,
    ensure_delivery_headers,
    ensure_self_only,
    prepare_draft,
    read_headers,
    to_bytes,
)
from connectors.base import DraftRef, ThreadRef
from pipeline.errors import OutreachError, PermanentError, TransientError

SEARCH_LAG = timedelta(minutes=2)
"""How long after a create Gmail's search may still not show the message (configurable)."""
_CLOCK_SLACK = timedelta(minutes=1)  # between our clock and Gmail's
FORGET_AFTER = timedelta(days=30)
"""How long a settled record is kept: far beyond a queue's retry, a step's lease, the two
days a reported draft is still looked at, and the week Gmail keeps a history id."""


def settled_long_ago(record: Record, now: datetime) -> bool:
    """Whether a ledger record can no longer matter (see the module docstring)."""
    state = record.get("state")
    if state == "draft":
        settled = record.get("closed")  # reported sent or deleted; else still open
    elif state == "withdrawn":
        settled = record.get("withdrawn") or record.get("created")
    elif state in ("delivered", "failed"):
        settled = record.get("attempted") or record.get("created")
    else:  # "creating": in doubt, whatever its age
        settled = None
    return settled is not None and now - datetime.fromisoformat(settled) > FORGET_AFTER


def _proves_nothing_made(err: OutreachError) -> bool:
    """An answer that says the request was refused (a 4xx or 429): nothing was made. A
    dropped connection, a time-out or a 5xx leaves the attempt in doubt."""
    status = http_status(err)
    return status is not None and status < 500


class DraftKeeper:
    """Creates, finds and discards our drafts, and delivers the digest (see the module
    docstring)."""

    def __init__(
        self,
        address: str,
        service: Any,
        caller: Caller,
        ledger: DraftLedger,
        clock: Callable[[], datetime],
        *,
        search_unknown_keys: bool,
        search_lag: timedelta,
    ) -> None:
        self._address = address
        self._service = service
        users = service.users()
        self._messages = users.messages()
        self._drafts = users.drafts()
        self._threads = users.threads()
        self._caller = caller
        self._retrier = caller.retrier
        self._ledger = ledger
        self._clock = clock
        self._search_unknown = search_unknown_keys
        self._search_lag = search_lag

    # -- creating ----------------------------------------------------------------------------

    def create(self, message: EmailMessage, key: str, thread: ThreadRef | None) -> DraftRef:
        draft = prepare_draft(message, key, thread, self._address)
        raw = to_bytes(draft)
        headers = read_headers(raw)
        assert headers.message_id is not None
        spent = 0.0
        for attempt in self._retrier.waits():
            try:
                record = self._ledger.get(key)
                existing = self._before_create(key, headers.message_id, record)
                if existing is not None:
                    return existing
                thread_id = self._thread_id(thread)
                pending = self._record(headers, "creating", thread_id)
                pending["attempted"] = self._clock().isoformat()
                self._ledger.put(key, pending)
                body: dict[str, Any] = {"message": {"raw": b64(raw)}}
                if thread_id:
                    body["message"]["threadId"] = thread_id
                try:
                    answer = self._caller.once(
                        self._drafts.create(userId="me", body=body), "gmail.users.drafts.create"
                    )
                except OutreachError as err:
                    if _proves_nothing_made(err):
                        self._ledger.put(key, {**pending, "state": "failed"})
                    raise
            except TransientError as err:
                spent += self._retrier.pause(err, attempt, spent)
                continue
            created = answer["message"]
            done = self._record(headers, "draft", created.get("threadId"))
            done.update(draft_id=answer["id"], gmail_id=created["id"])
            self._ledger.put(key, done)
            return DraftRef(answer["id"], headers.message_id, created.get("threadId"))
        raise AssertionError("unreachable")  # pragma: no cover

    def _before_create(self, key: str, message_id: str, record: Record | None) -> DraftRef | None:
        """What already stands for ``key``: nothing to look up when it was never
        attempted (or refused); a search when an attempt is in doubt."""
        if record is None:
            if not self._search_unknown:
                return None
            found = self.existing(key, message_id, None)
            self._search_unknown = found is not None
            return found
        state = record.get("state")
        if state == "failed":
            return None
        if state != "creating":
            return self.existing(key, record["message_id"], record)
        found = self._search_ours(key, record["message_id"])
        if found is not None:
            return found
        self._not_before_lag(record)
        return None

    def _not_before_lag(self, record: Record) -> None:
        """Raise ``TransientError`` while a search could still be behind the attempt."""
        attempted = datetime.fromisoformat(record.get("attempted") or record["created"])
        left = (attempted + self._search_lag - self._clock()).total_seconds()
        if left > 0:
            raise TransientError(
                "gmail: an earlier attempt may have made this message and Gmail's search "
                "may not show it yet; trying again later",
                retry_after=left,
            )

    # -- finding -----------------------------------------------------------------------------

    def find(self, key: str) -> DraftRef | None:
        record = self._ledger.get(key)
        message_id = record["message_id"] if record else derived_message_id(key, self._address)
        if record is not None and record.get("state") in ("creating", "failed"):
            return self._search_ours(key, message_id)
        return self.existing(key, message_id, record, search=True)

    def existing(
        self, key: str, message_id: str, record: Record | None, *, search: bool = False
    ) -> DraftRef | None:
        """Our draft for ``key`` (or the message it became once sent), if there is one."""
        if record is not None and record.get("draft_id"):
            draft = self._draft(record["draft_id"])
            if draft is not None:
                return DraftRef(record["draft_id"], message_id, draft["message"]["threadId"])
        elif record is None and not (search or self._search_unknown):
            return None
        found = self._search_ours(key, message_id)
        if found is not None:
            return found
        if record is not None and record.get("draft_id") and record.get("thread_id"):
            return self._sent_in_thread(key, record)
        return None

    def _search_ours(self, key: str, message_id: str) -> DraftRef | None:
        """The draft or sent message with this Message-ID (and no other key), by search."""
        for hit in self._search(message_id):
            meta = self._metadata(hit["id"])
            if meta is None or (meta.headers.key and meta.headers.key != key):
                continue
            if "DRAFT" in meta.labels:
                draft_id = self._draft_id(message_id, meta.id)
                if draft_id is None:
                    continue
                found = self._record(meta.headers, "draft", meta.thread_id)
                found.update(draft_id=draft_id, gmail_id=meta.id)
                self._ledger.put(key, found)
                return DraftRef(draft_id, message_id, meta.thread_id)
            if "SENT" in meta.labels:
                return DraftRef(meta.id, message_id, meta.thread_id)
        return None

    def _sent_in_thread(self, key: str, record: Record) -> DraftRef | None:
        """The sent copy of our vanished draft when Gmail's interface changed its headers:
        the first message sent in the draft's thread since the draft was made that carries
        no other key and is no other draft of ours."""
        try:
            thread = self._caller.call(
                lambda: self._threads.get(
                    userId="me",
                    id=record["thread_id"],
                    format="metadata",
                    metadataHeaders=METADATA_HEADERS,
                ),
                "gmail.users.threads.get",
            )
        except PermanentError as err:
            if http_status(err) == 404:
                return None
            raise
        created = datetime.fromisoformat(record["created"]) - _CLOCK_SLACK
        others = {r.get("message_id") for k, r in self._ledger.all().items() if k != key}
        metas = sorted(map(meta_of_metadata, thread.get("messages", [])), key=lambda m: m.millis)
        for meta in metas:
            if (
                "SENT" in meta.labels
                and meta.at >= created
                and meta.headers.key in (None, key)
                and meta.headers.message_id not in others
            ):
                return DraftRef(meta.id, meta.headers.message_id or "", meta.thread_id)
        return None

    def drafts_present(self, draft_ids: Mapping[str, str]) -> set[str]:
        """Which of these drafts (key -> draft id) still exist (one batch per 50)."""
        drafts = self._drafts
        still = self._caller.batch(
            self._service,
            [
                (key, partial(drafts.get, userId="me", id=draft_id, format="minimal"))
                for key, draft_id in draft_ids.items()
            ],
            "gmail.users.drafts.get",
        )
        return set(still)

    # -- discarding and delivering -----------------------------------------------------------

    def discard(self, key: str) -> bool:
        record = self._ledger.get(key)
        if record is None or record.get("state") not in ("draft", "withdrawn"):
            return False
        draft_id = record.get("draft_id")
        if not draft_id:
            return False
        # Marked first: a sync in between must not report it as deleted by the person.
        self._ledger.put(
            key, {**record, "state": "withdrawn", "withdrawn": self._clock().isoformat()}
        )
        try:
            self._caller.call(
                lambda: self._drafts.delete(userId="me", id=draft_id),
                "gmail.users.drafts.delete",
            )
        except PermanentError as err:
            if http_status(err) == 404:
                return False
            raise
        return True

    def deliver_to_self(self, message: EmailMessage) -> str:
        ensure_self_only(message, self._address)
        digest = ensure_delivery_headers(message, self._address, self._clock())
        del digest[DIGEST_HEADER]
        digest[DIGEST_HEADER] = "1"
        raw = to_bytes(digest)
        headers = read_headers(raw)
        message_id = headers.message_id or ""
        key = f"digest:{message_id}"
        spent = 0.0
        for attempt in self._retrier.waits():
            try:
                record = self._ledger.get(key)
                if record is not None and record.get("state") == "delivered":
                    return str(record["gmail_id"])
                if record is not None and record.get("state") == "creating":
                    # an earlier attempt may have landed though its answer was lost
                    for hit in self._search(message_id):
                        return str(hit["id"])
                    self._not_before_lag(record)
                pending = self._record(headers, "creating", None)
                pending["attempted"] = self._clock().isoformat()
                self._ledger.put(key, pending)
                answer = self._caller.once(
                    self._messages.insert(
                        userId="me", body={"raw": b64(raw), "labelIds": ["INBOX", "UNREAD"]}
                    ),
                    "gmail.users.messages.insert",
                )
                self._ledger.put(key, {**pending, "state": "delivered", "gmail_id": answer["id"]})
                return str(answer["id"])
            except TransientError as err:
                spent += self._retrier.pause(err, attempt, spent)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- small reads -------------------------------------------------------------------------

    def _record(self, headers: Headers, state: str, thread_id: str | None) -> Record:
        return {
            "state": state,
            "message_id": headers.message_id,
            "draft_id": None,
            "gmail_id": None,
            "thread_id": thread_id,
            "in_reply_to": headers.in_reply_to,
            "references": list(headers.references),
            "created": self._clock().isoformat(),
        }

    def _metadata(self, gmail_id: str) -> Any:
        try:
            data = self._caller.call(
                lambda: self._messages.get(
                    userId="me", id=gmail_id, format="metadata", metadataHeaders=METADATA_HEADERS
                ),
                "gmail.users.messages.get",
            )
        except PermanentError as err:
            if http_status(err) == 404:
                return None
            raise
        return meta_of_metadata(data)

    def _draft(self, draft_id: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self._caller.call(
                lambda: self._drafts.get(userId="me", id=draft_id, format="minimal"),
                "gmail.users.drafts.get",
            )
        except PermanentError as err:
            if http_status(err) == 404:
                return None
            raise
        return found

    def _search(self, message_id: str) -> list[dict[str, Any]]:
        answer = self._caller.call(
            lambda: self._messages.list(
                userId="me", q=f"rfc822msgid:{message_id.strip('<>')}", maxResults=10
            ),
            "gmail.users.messages.list",
        )
        return list(answer.get("messages", []))

    def _draft_id(self, message_id: str, gmail_id: str) -> str | None:
        answer = self._caller.call(
            lambda: self._drafts.list(
                userId="me", q=f"rfc822msgid:{message_id.strip('<>')}", maxResults=10
            ),
            "gmail.users.drafts.list",
        )
        for draft in answer.get("drafts", []):
            if draft["message"]["id"] == gmail_id:
                return str(draft["id"])
        return None

    def _thread_id(self, thread: ThreadRef | None) -> str | None:
        """The Gmail thread of a reply: given, else the thread of the message replied to."""
        if thread is None:
            return None
        if thread.thread_id:
            return thread.thread_id
        if thread.in_reply_to:
            for hit in self._search(thread.in_reply_to):
                return str(hit["threadId"])
        return None
