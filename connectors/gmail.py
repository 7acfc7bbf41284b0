"""A Mailbox over the Gmail API (google-api-python-client, static discovery).

The connector gets an ``http`` object: in production ``google_auth_httplib2.AuthorizedHttp``
around ``connectors._google_http.default_http()`` (see ``connectors.google_open``); tests
wrap the same around an ``httplib2.Http`` that routes Google's hosts to the emulator.

How changes are read (one ``users.history.list`` when nothing happened):

- ``changes(None)`` asks ``users.getProfile`` for the current history id and reports
  nothing. Later calls read ``users.history.list`` from the cursor's history id
  (messageAdded, messageDeleted, labelAdded; every page), then fetch the headers of the new
  messages in batch requests of at most 50 (``format=metadata``).
- A new INBOX message is ``INBOUND`` (except the digest we delivered: it carries
  ``X-Outreach-Digest`` and comes from the person). A thread gaining a SENT message is
  ``SENT``; its key is our ``X-Outreach-Key`` header, else the draft of ours with the same
  Message-ID, else the one draft of ours in that thread that just disappeared (the thread
  is the robust link: PROVIDERS.md).
- Our drafts are remembered in a ledger (``connectors._ledger``) when created,
  because Gmail forgets a deleted draft entirely. A draft of ours whose thread saw a
  deletion (or a sent message) is checked with ``drafts.get`` (batched); when it is gone
  and no sent message claimed it, it is ``DRAFT_DELETED``. The keys already reported as
  sent or deleted travel in the cursor (as short digests, the last 2,000), so an older
  cursor reports the same changes again and a newer one never repeats them; the ledger
  marks them closed, and two days later they are no longer looked at.
- A history id too old for Gmail (404) means a full resync: the current history id is
  taken first, then the messages newer than the cursor's mark (the newest ``internalDate``
  it has seen, Gmail's own clock) are listed (``q=after:<seconds>``, filtered to the
  millisecond) and reported, and every pending draft of ours is checked. What was reported
  before is not reported again; a message inserted with an older date can be missed.

``create_draft`` is idempotent by key: the ledger first (``drafts.get``), else a search by
Message-ID (``messages.list q=rfc822msgid:``, the key header checked), else (our draft is
gone and its sent copy lost our headers) the first message sent in its thread since it
was made (``threads.get``), before creating;
the ledger records the attempt before the request, and a failed request is never resent
blindly (``NoResendHttp``; the retry looks again first), so a request whose answer was
lost does not leave two drafts. A reply carries threadId, In-Reply-To, References and
the caller's "Re:" Subject, as Gmail needs to keep it in the thread.

``deliver_to_self`` inserts the digest with ``messages.insert`` into INBOX, only to self.
Errors: see ``connectors._google_http``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import getaddresses
from functools import partial
from typing import Any

from connectors._google_http import (
    Caller,
    Retrier,
    RetryPolicy,
    Sleep,
    http_status,
    pin_refresh,
)
from connectors._ids import derived_message_id
from connectors._ledger import DraftLedger, MemoryLedger, Record
from connectors._mime import (
    Headers,
    ensure_delivery_headers,
    ensure_self_only,
    prepare_draft,
    read_headers,
    to_bytes,
)
from connectors.base import KEY_HEADER, DraftRef, MailChange, MailChangeKind, ThreadRef
from connectors.quota import GMAIL_UNITS, GMAIL_UNITS_PER_SECOND, HEADROOM, Quota, TokenBucket
from pipeline.errors import PermanentError, TransientError

DIGEST_HEADER = "X-Outreach-Digest"
"""Marks the digest ``deliver_to_self`` inserted, so that ``changes()`` does not report it."""

_METADATA = [
    "Message-ID",
    "In-Reply-To",
    "References",
    KEY_HEADER,
    DIGEST_HEADER,
    "From",
    "Date",
    "To",
    "Cc",
    "Bcc",
]
_HISTORY_TYPES = ["messageAdded", "messageDeleted", "labelAdded"]
_CURSOR_PREFIX = "gmail1:"
_DONE_LIMIT = 2000
_CLOCK_SLACK = timedelta(minutes=1)  # between our clock and Gmail's
_SETTLED_AFTER = timedelta(days=2)
"""A reported draft's ledger record is ignored this long after it was closed; until
then the cursor's digests keep it from being reported twice (and an older cursor,
replayed soon after, still reports it)."""

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class _Cursor:
    history_id: str
    mark: int  # the newest internalDate (ms) seen: a resync reports only what is newer
    done: tuple[str, ...]  # digests of keys already reported SENT or DRAFT_DELETED

    def encode(self) -> str:
        data = {"v": 1, "h": self.history_id, "w": self.mark, "done": list(self.done)}
        return _CURSOR_PREFIX + json.dumps(data, separators=(",", ":"))

    @classmethod
    def decode(cls, cursor: str | None) -> _Cursor | None:
        if not cursor or not cursor.startswith(_CURSOR_PREFIX):
            return None
        try:
            data = json.loads(cursor[len(_CURSOR_PREFIX) :])
            history_id, mark, done = str(data["h"]), int(data["w"]), data["done"]
        except (ValueError, KeyError, TypeError):
            return None
        if data.get("v") != 1 or not history_id.isdigit() or not isinstance(done, list):
            return None
        return cls(history_id, mark, tuple(str(d) for d in done))


@dataclass(frozen=True)
class _Meta:
    """What ``format=metadata`` told about one message."""

    id: str
    thread_id: str
    labels: frozenset[str]
    headers: Headers
    sender: str | None
    digest: bool
    millis: int

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.millis / 1000, UTC)


def _meta(data: Mapping[str, Any]) -> _Meta:
    payload = data.get("payload") or {}
    lines = [f"{h['name']}: {h['value']}" for h in payload.get("headers", [])]
    block = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace")
    headers = read_headers(block)
    values = {h["name"].lower(): h["value"] for h in payload.get("headers", [])}
    senders = getaddresses([values.get("from", "")])
    millis = int(data.get("internalDate") or 0)
    return _Meta(
        id=data["id"],
        thread_id=data["threadId"],
        labels=frozenset(data.get("labelIds") or ()),
        headers=headers,
        sender=senders[0][1].lower() if senders and senders[0][1] else None,
        digest=DIGEST_HEADER.lower() in values,
        millis=millis,
    )


class GmailMailbox:
    """The person's Gmail mailbox (see the module docstring)."""

    def __init__(
        self,
        address: str,
        http: Any,
        *,
        ledger: DraftLedger | None = None,
        quota: Quota | None = None,
        units: Mapping[str, int] = GMAIL_UNITS,
        retry: RetryPolicy | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = _utcnow,
        search_unknown_keys: bool = True,
        history_page_size: int = 500,
    ) -> None:
        from googleapiclient.discovery import build

        self._address = address
        self._service = build(
            "gmail", "v1", http=http, static_discovery=True, cache_discovery=False
        )
        pin_refresh(http)
        self._users = self._service.users()
        # building a resource walks the discovery document: once, not per call
        self._messages = self._users.messages()
        self._drafts = self._users.drafts()
        self._histories = self._users.history()
        self._threads = self._users.threads()
        self._ledger: DraftLedger = ledger if ledger is not None else MemoryLedger()
        self._retrier = Retrier(retry or RetryPolicy(), sleep)
        self._caller = Caller(
            quota if quota is not None else TokenBucket(GMAIL_UNITS_PER_SECOND * HEADROOM),
            units,
            self._retrier,
        )
        self._clock = clock
        self._search_unknown = search_unknown_keys
        self._page_size = history_page_size
        self._lock = threading.RLock()

    @property
    def address(self) -> str:
        return self._address

    def close(self) -> None:
        """Close the service's HTTP connections."""
        self._service.close()

    # -- the port ----------------------------------------------------------------------------

    def changes(self, cursor: str | None) -> tuple[list[MailChange], str]:
        with self._lock:
            state = _Cursor.decode(cursor)
            if state is None:
                return [], self._start().encode()
            try:
                records, history_id = self._history(state.history_id)
            except PermanentError as err:
                if http_status(err) == 404:
                    return self._resync(state)
                raise
            return self._interpret(state, records, history_id)

    def fetch_raw(self, provider_ids: Sequence[str]) -> dict[str, bytes]:
        with self._lock:
            messages = self._messages
            got = self._caller.batch(
                self._service,
                [
                    (pid, partial(messages.get, userId="me", id=pid, format="raw"))
                    for pid in dict.fromkeys(provider_ids)
                ],
                "gmail.users.messages.get",
                missing=(400, 404),
            )
            return {pid: _unb64(answer["raw"]) for pid, answer in got.items()}

    def create_draft(self, message: EmailMessage, key: str, thread: ThreadRef | None) -> DraftRef:
        draft = prepare_draft(message, key, thread, self._address)
        raw = to_bytes(draft)
        headers = read_headers(raw)
        assert headers.message_id is not None
        with self._lock:
            spent = 0.0
            for attempt in self._retrier.waits():
                try:
                    record = self._ledger.get(key)
                    message_id = record["message_id"] if record else headers.message_id
                    existing = self._existing(key, message_id, record)
                    if existing is not None:
                        return existing
                    thread_id = self._thread_id(thread)
                    self._ledger.put(key, self._record(headers, "creating", thread_id))
                    body: dict[str, Any] = {"message": {"raw": _b64(raw)}}
                    if thread_id:
                        body["message"]["threadId"] = thread_id
                    answer = self._caller.once(
                        self._drafts.create(userId="me", body=body),
                        "gmail.users.drafts.create",
                    )
                except TransientError as err:
                    spent += self._retrier.pause(err, attempt, spent)
                    continue
                created = answer["message"]
                record = self._record(headers, "draft", created.get("threadId"))
                record.update(draft_id=answer["id"], gmail_id=created["id"])
                self._ledger.put(key, record)
                return DraftRef(answer["id"], headers.message_id, created.get("threadId"))
        raise AssertionError("unreachable")  # pragma: no cover

    def discard_draft(self, key: str) -> bool:
        with self._lock:
            record = self._ledger.get(key)
            if record is None or record.get("state") not in ("draft", "withdrawn"):
                return False
            draft_id = record.get("draft_id")
            if not draft_id:
                return False
            # Marked first: a sync in between must not report it as deleted by the person.
            self._ledger.put(key, {**record, "state": "withdrawn"})
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

    def find_draft(self, key: str) -> DraftRef | None:
        with self._lock:
            record = self._ledger.get(key)
            message_id = record["message_id"] if record else derived_message_id(key, self.address)
            return self._existing(key, message_id, record, search=True)

    def deliver_to_self(self, message: EmailMessage) -> str:
        ensure_self_only(message, self._address)
        digest = ensure_delivery_headers(message, self._address, self._clock())
        del digest[DIGEST_HEADER]
        digest[DIGEST_HEADER] = "1"
        raw = to_bytes(digest)
        message_id = read_headers(raw).message_id
        with self._lock:
            spent = 0.0
            for attempt in self._retrier.waits():
                try:
                    if attempt and message_id:
                        # the first attempt may have landed though its answer was lost
                        for hit in self._search(message_id):
                            return str(hit["id"])
                    answer = self._caller.once(
                        self._messages.insert(
                            userId="me", body={"raw": _b64(raw), "labelIds": ["INBOX", "UNREAD"]}
                        ),
                        "gmail.users.messages.insert",
                    )
                    return str(answer["id"])
                except TransientError as err:
                    spent += self._retrier.pause(err, attempt, spent)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- reading changes ---------------------------------------------------------------------

    def _start(self) -> _Cursor:
        profile = self._caller.call(
            lambda: self._users.getProfile(userId="me"), "gmail.users.getProfile"
        )
        return _Cursor(str(profile["historyId"]), int(self._clock().timestamp() * 1000), ())

    def _history(self, start: str) -> tuple[list[dict[str, Any]], str]:
        history = self._histories
        records: list[dict[str, Any]] = []
        token: str | None = None
        latest = start
        while True:
            answer = self._caller.call(
                partial(
                    history.list,
                    userId="me",
                    startHistoryId=start,
                    historyTypes=_HISTORY_TYPES,
                    maxResults=self._page_size,
                    pageToken=token,
                ),
                "gmail.users.history.list",
            )
            records.extend(answer.get("history", []))
            latest = str(answer.get("historyId") or latest)
            token = answer.get("nextPageToken")
            if not token:
                break
        if records:
            # what happened after the pages were read is picked up next time
            latest = str(max(int(r["id"]) for r in records))
        return records, latest

    def _interpret(
        self, state: _Cursor, records: list[dict[str, Any]], history_id: str
    ) -> tuple[list[MailChange], str]:
        added: dict[str, tuple[str, frozenset[str]]] = {}
        deleted: dict[str, str] = {}
        for record in records:
            for item in record.get("messagesAdded", []):
                found = item["message"]
                added.setdefault(
                    found["id"], (found["threadId"], frozenset(found.get("labelIds", [])))
                )
            for item in record.get("labelsAdded", []):
                if "SENT" in item.get("labelIds", []):
                    found = item["message"]
                    added.setdefault(found["id"], (found["threadId"], frozenset({"SENT"})))
            for item in record.get("messagesDeleted", []):
                deleted[item["message"]["id"]] = item["message"]["threadId"]
        wanted = [
            mid
            for mid, (_, labels) in added.items()
            if mid not in deleted and labels & {"SENT", "INBOX"} and "DRAFT" not in labels
        ]
        metas = self._metadata(wanted)
        threads = set(deleted.values()) | {
            added[mid][0] for mid in wanted if "SENT" in added[mid][1]
        }
        seen = [metas[m] for m in wanted if m in metas]
        changes, done = self._report(state, seen, threads)
        mark = max([state.mark, *(meta.millis for meta in seen)])
        return changes, _Cursor(history_id, mark, done).encode()

    def _resync(self, state: _Cursor) -> tuple[list[MailChange], str]:
        """The history id is too old: report the messages newer than the cursor's mark."""
        fresh = self._start()
        messages = self._messages
        ids: list[str] = []
        token: str | None = None
        while True:
            answer = self._caller.call(
                partial(
                    messages.list,
                    userId="me",
                    q=f"after:{state.mark // 1000 - 1}",
                    maxResults=500,
                    pageToken=token,
                ),
                "gmail.users.messages.list",
            )
            ids.extend(m["id"] for m in answer.get("messages", []))
            token = answer.get("nextPageToken")
            if not token:
                break
        ids.reverse()  # oldest first
        metas = self._metadata(ids)
        kept = [
            metas[m]
            for m in ids
            if m in metas
            and metas[m].millis > state.mark
            and metas[m].labels & {"SENT", "INBOX"}
            and "DRAFT" not in metas[m].labels
        ]
        kept.sort(key=lambda meta: meta.millis)
        changes, done = self._report(state, kept, None)
        mark = max([state.mark, *(meta.millis for meta in kept)])
        return changes, _Cursor(fresh.history_id, mark, done).encode()

    def _metadata(self, ids: Sequence[str]) -> dict[str, _Meta]:
        messages = self._messages
        got = self._caller.batch(
            self._service,
            [
                (
                    mid,
                    partial(
                        messages.get,
                        userId="me",
                        id=mid,
                        format="metadata",
                        metadataHeaders=_METADATA,
                    ),
                )
                for mid in ids
            ],
            "gmail.users.messages.get",
        )
        return {mid: _meta(answer) for mid, answer in got.items()}

    def _report(
        self, state: _Cursor, metas: list[_Meta], threads: set[str] | None
    ) -> tuple[list[MailChange], tuple[str, ...]]:
        """The changes for these new messages, and our drafts in ``threads`` (None: all)
        that are gone; returns them and the updated digests of reported keys."""
        done = list(state.done)
        reported = set(done)
        now = self._clock()
        settled = (now - _SETTLED_AFTER).isoformat()
        ledger = self._ledger.all()
        ours = {
            key: record
            for key, record in ledger.items()
            if record.get("state") == "draft"
            and record.get("draft_id")
            and _digest(key) not in reported
            and not (record.get("closed") and record["closed"] < settled)
        }
        check = [k for k, r in ours.items() if threads is None or r.get("thread_id") in threads]
        drafts = self._drafts
        still = self._caller.batch(
            self._service,
            [
                (
                    key,
                    partial(drafts.get, userId="me", id=ours[key]["draft_id"], format="minimal"),
                )
                for key in check
            ],
            "gmail.users.drafts.get",
        )
        gone = [key for key in check if key not in still]
        claimed: set[str] = set()

        def close(key: str) -> None:
            claimed.add(key)
            if _digest(key) not in reported:
                reported.add(_digest(key))
                done.append(_digest(key))
            record = ledger.get(key)
            if record is not None and not record.get("closed"):
                self._ledger.put(key, {**record, "closed": now.isoformat()})

        changes: list[MailChange] = []
        for meta in metas:
            if "SENT" in meta.labels:
                key = self._sent_key(meta, ours, gone, claimed)
                if key is not None:
                    close(key)
                changes.append(self._change(MailChangeKind.SENT, meta, key))
            elif not (meta.digest and meta.sender == self._address.lower()):
                changes.append(self._change(MailChangeKind.INBOUND, meta, meta.headers.key))
        for key in gone:
            if key in claimed:
                continue
            close(key)
            record = ours[key]
            changes.append(
                MailChange(
                    kind=MailChangeKind.DRAFT_DELETED,
                    provider_id=record["draft_id"],
                    message_id=record["message_id"],
                    thread_id=record.get("thread_id"),
                    in_reply_to=record.get("in_reply_to"),
                    references=tuple(record.get("references") or ()),
                    key=key,
                    at=now,
                )
            )
        return changes, tuple(done[-_DONE_LIMIT:])

    @staticmethod
    def _sent_key(
        meta: _Meta, ours: Mapping[str, Record], gone: Sequence[str], claimed: set[str]
    ) -> str | None:
        if meta.headers.key:
            return meta.headers.key
        for key, record in ours.items():
            if key not in claimed and record["message_id"] == meta.headers.message_id:
                return key
        in_thread = [
            k for k in gone if k not in claimed and ours[k].get("thread_id") == meta.thread_id
        ]
        return in_thread[0] if len(in_thread) == 1 else None

    @staticmethod
    def _change(kind: MailChangeKind, meta: _Meta, key: str | None) -> MailChange:
        return MailChange(
            kind=kind,
            provider_id=meta.id,
            message_id=meta.headers.message_id,
            thread_id=meta.thread_id,
            in_reply_to=meta.headers.in_reply_to,
            references=meta.headers.references,
            key=key,
            at=meta.at,
            recipients=meta.headers.recipients,
        )

    # -- drafts ------------------------------------------------------------------------------

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

    def _existing(
        self, key: str, message_id: str, record: Record | None, *, search: bool = False
    ) -> DraftRef | None:
        """Our draft for ``key`` (or the message it became once sent), if there is one."""
        if record is not None and record.get("draft_id"):
            draft = self._draft(record["draft_id"])
            if draft is not None:
                return DraftRef(record["draft_id"], message_id, draft["message"]["threadId"])
        elif record is None and not (search or self._search_unknown):
            return None
        for hit in self._search(message_id):
            meta = self._metadata([hit["id"]]).get(hit["id"])
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
        if record is not None and record.get("draft_id") and record.get("thread_id"):
            return self._sent_in_thread(key, record)
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
                    metadataHeaders=_METADATA,
                ),
                "gmail.users.threads.get",
            )
        except PermanentError as err:
            if http_status(err) == 404:
                return None
            raise
        created = datetime.fromisoformat(record["created"]) - _CLOCK_SLACK
        others = {r.get("message_id") for k, r in self._ledger.all().items() if k != key}
        for meta in sorted((_meta(m) for m in thread.get("messages", [])), key=lambda m: m.millis):
            if (
                "SENT" in meta.labels
                and meta.at >= created
                and meta.headers.key in (None, key)
                and meta.headers.message_id not in others
            ):
                return DraftRef(meta.id, meta.headers.message_id or "", meta.thread_id)
        return None

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
