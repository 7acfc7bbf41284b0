"""A Mailbox over the Gmail API (google-api-python-client, static discovery).

The connector gets an ``http`` object: in production ``google_auth_httplib2.AuthorizedHttp``
around ``connectors._google_http.default_http()`` (see ``connectors.google_open``); tests
wrap the same around an ``httplib2.Http`` that routes Google's hosts to the emulator.

How changes are read (one ``users.history.list`` when nothing happened):

- ``changes(None)`` asks ``users.getProfile`` for the current history id and reports
  nothing. Later calls read ``users.history.list`` from the cursor's history id (every
  page), and fetch each message that may be new in INBOX or SENT ONCE, with
  ``format=raw`` in batch requests of at most 50: the labels come from that answer, never
  from the history records (``connectors._gmail_read``), and the bytes are kept for the
  ``fetch_raw`` that follows (so a tick of 500 new messages costs 1 + 10 requests).
- A new INBOX message is ``INBOUND`` (except the digest we delivered: it carries
  ``X-Outreach-Digest`` and comes from the person). A SENT message is ``SENT``; its key is
  our ``X-Outreach-Key`` header, else the draft of ours with the same Message-ID, else
  the scheduled message it became, else the one draft of ours in that thread that just
  disappeared (the thread is the robust link: PROVIDERS.md).
- A message labelled SCHEDULED (the person scheduled our draft to go later) claims its
  draft: the draft is neither sent nor deleted until the message goes out (a ``SENT``
  then, whether Gmail relabels it or adds a new message).
- Our drafts are remembered in a ledger (``connectors._ledger``) when created, because
  Gmail forgets a deleted draft entirely. A draft of ours whose thread saw a deletion (or
  a sent message) is checked with ``drafts.get`` (batched); when it is gone and nothing
  claimed it for ``deleted_after`` (a grace period: an undo send, a late sync), it is
  ``DRAFT_DELETED``. The keys already reported as sent or deleted travel in the cursor
  (as short digests, the last 2,000), so an older cursor reports the same changes again
  and a newer one never repeats them; the ledger marks them closed, two days later
  they are no longer looked at, and 30 days later their records are dropped (with the
  other records that can no longer matter: ``connectors._gmail_drafts.settled_long_ago``).
- A history id too old for Gmail (404) means a full resync: the current history id is
  taken first, then the messages newer than the cursor's mark (the newest ``internalDate``
  it has seen, Gmail's own clock) are listed (``q=after:<seconds>``, filtered to the
  millisecond) and reported, and every pending draft of ours is checked. What was reported
  before is not reported again; a message inserted with an older date can be missed.
  Search lags behind new mail, so the next cursor reads history from the newest message
  the listing showed, not from now: what arrived meanwhile comes through history.

Drafts (``create_draft`` is idempotent by key, 10 units in the normal case): see
``connectors._gmail_drafts``. ``deliver_to_self`` inserts the digest with
``messages.insert`` into INBOX, only to self, with the same write-ahead record.
Errors: see ``connectors._google_http``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import partial
from typing import Any

from connectors._gmail_drafts import SEARCH_LAG, DraftKeeper, settled_long_ago
from connectors._gmail_read import (
    DIGEST_HEADER,
    HISTORY_TYPES,
    SCHEDULED,
    Cursor,
    Meta,
    candidates,
    key_digest,
    meta_of_raw,
    unb64,
)
from connectors._google_http import Caller, Retrier, RetryPolicy, Sleep, http_status, pin_refresh
from connectors._ledger import DraftLedger, MemoryLedger, Record
from connectors.base import DraftRef, MailChange, MailChangeKind, ThreadRef
from connectors.quota import GMAIL_UNITS, GMAIL_UNITS_PER_SECOND, HEADROOM, Quota, TokenBucket
from pipeline.errors import PermanentError

__all__ = ["DIGEST_HEADER", "GmailMailbox"]

_DONE_LIMIT = 2000
_SETTLED_AFTER = timedelta(days=2)
"""A reported draft's ledger record is ignored this long after it was closed; until
then the cursor's digests keep it from being reported twice (and an older cursor,
replayed soon after, still reports it)."""
RAW_CACHE_BYTES = 64 * 1024 * 1024
"""At most this many bytes of the messages ``changes()`` fetched are kept for
``fetch_raw``; beyond it, ``fetch_raw`` asks Gmail again."""

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


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
        search_unknown_keys: bool | None = None,
        history_page_size: int = 500,
        deleted_after: timedelta = timedelta(0),
        search_lag: timedelta = SEARCH_LAG,
        raw_cache_bytes: int = RAW_CACHE_BYTES,
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
        self._ledger: DraftLedger = ledger if ledger is not None else MemoryLedger()
        self._retrier = Retrier(retry or RetryPolicy(), sleep)
        self._caller = Caller(
            quota if quota is not None else TokenBucket(GMAIL_UNITS_PER_SECOND * HEADROOM),
            units,
            self._retrier,
        )
        self._clock = clock
        if search_unknown_keys is None:
            # a ledger file that did not exist may be one that was lost: look before creating
            search_unknown_keys = bool(getattr(self._ledger, "fresh", False))
        self._keeper = DraftKeeper(
            address,
            self._service,
            self._caller,
            self._ledger,
            clock,
            search_unknown_keys=search_unknown_keys,
            search_lag=search_lag,
        )
        self._page_size = history_page_size
        self._deleted_after = deleted_after
        self._raw_budget = raw_cache_bytes
        self._raw: dict[str, bytes] = {}
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
            self._raw = {}
            state = Cursor.decode(cursor)
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
            found: dict[str, bytes] = {}
            rest: list[str] = []
            for pid in dict.fromkeys(provider_ids):
                kept = self._raw.pop(pid, None)
                if kept is None:
                    rest.append(pid)
                else:
                    found[pid] = kept
            if rest:
                messages = self._messages
                got = self._caller.batch(
                    self._service,
                    [
                        (pid, partial(messages.get, userId="me", id=pid, format="raw"))
                        for pid in rest
                    ],
                    "gmail.users.messages.get",
                    missing=(400, 404),
                )
                found.update({pid: unb64(answer["raw"]) for pid, answer in got.items()})
            return found

    def create_draft(self, message: EmailMessage, key: str, thread: ThreadRef | None) -> DraftRef:
        with self._lock:
            return self._keeper.create(message, key, thread)

    def discard_draft(self, key: str) -> bool:
        with self._lock:
            return self._keeper.discard(key)

    def find_draft(self, key: str) -> DraftRef | None:
        with self._lock:
            return self._keeper.find(key)

    def deliver_to_self(self, message: EmailMessage) -> str:
        with self._lock:
            return self._keeper.deliver_to_self(message)

    # -- reading changes ---------------------------------------------------------------------

    def _start(self) -> Cursor:
        profile = self._caller.call(
            lambda: self._users.getProfile(userId="me"), "gmail.users.getProfile"
        )
        return Cursor(str(profile["historyId"]), int(self._clock().timestamp() * 1000), ())

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
                    historyTypes=HISTORY_TYPES,
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
        self, state: Cursor, records: list[dict[str, Any]], history_id: str
    ) -> tuple[list[MailChange], str]:
        digest = candidates(records)
        # our own drafts' creation is no news; a relabelled one may have been sent
        made = {r.get("gmail_id") for r in self._ledger.all().values() if r.get("state") == "draft"}
        wanted = [
            mid
            for mid in digest.added
            if mid not in digest.deleted and (mid not in made or mid in digest.relabelled)
        ]
        fetched = self._fetch(wanted)
        seen = [fetched[m][0] for m in wanted if m in fetched]
        threads = set(digest.deleted.values()) | {
            m.thread_id for m in seen if m.labels & {"SENT", SCHEDULED}
        }
        changes, done = self._report(state, seen, threads, set(digest.deleted))
        self._keep_raw(changes, fetched)
        mark = max([state.mark, *(m.millis for m in seen if m.reportable)])
        return changes, Cursor(history_id, mark, done).encode()

    def _resync(self, state: Cursor) -> tuple[list[MailChange], str]:
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
        fetched = self._fetch(ids)
        kept = [
            fetched[m][0]
            for m in ids
            if m in fetched
            and fetched[m][0].millis > state.mark
            and (fetched[m][0].reportable or SCHEDULED in fetched[m][0].labels)
        ]
        kept.sort(key=lambda meta: meta.millis)
        changes, done = self._report(state, kept, None, set())
        self._keep_raw(changes, fetched)
        mark = max([state.mark, *(meta.millis for meta in kept if meta.reportable)])
        # Gmail's search lags: what arrived after the newest message it showed may not be
        # listed yet, so history is read again from that message on (not from now)
        listed = [meta.history_id for meta, _ in fetched.values() if meta.history_id]
        start = min([int(fresh.history_id), max(listed, default=int(fresh.history_id))])
        return changes, Cursor(str(start), mark, done).encode()

    def _fetch(self, ids: Sequence[str]) -> dict[str, tuple[Meta, bytes]]:
        """Each message once, whole (``format=raw``): its labels, headers and bytes."""
        messages = self._messages
        got = self._caller.batch(
            self._service,
            [(mid, partial(messages.get, userId="me", id=mid, format="raw")) for mid in ids],
            "gmail.users.messages.get",
        )
        return {mid: meta_of_raw(answer) for mid, answer in got.items()}

    def _keep_raw(
        self, changes: Sequence[MailChange], fetched: Mapping[str, tuple[Meta, bytes]]
    ) -> None:
        budget = self._raw_budget
        for change in changes:
            if change.kind in (MailChangeKind.INBOUND, MailChangeKind.SENT):
                raw = fetched[change.provider_id][1]
                if len(raw) <= budget:
                    self._raw[change.provider_id] = raw
                    budget -= len(raw)

    def _report(
        self, state: Cursor, metas: list[Meta], threads: set[str] | None, deleted: set[str]
    ) -> tuple[list[MailChange], tuple[str, ...]]:
        """The changes for these new messages, and our drafts in ``threads`` (None: all)
        that are gone; returns them and the updated digests of reported keys."""
        done = list(state.done)
        reported = set(done)
        now = self._clock()
        settled = (now - _SETTLED_AFTER).isoformat()
        ledger = self._ledger.all()
        if any(settled_long_ago(record, now) for record in ledger.values()):
            self._ledger.prune(lambda _key, record: settled_long_ago(record, now))
        ours = {
            key: record
            for key, record in ledger.items()
            if record.get("state") == "draft"
            and record.get("draft_id")
            and key_digest(key) not in reported
            and not (record.get("closed") and record["closed"] < settled)
        }
        check = [
            k
            for k, r in ours.items()
            if not r.get("scheduled")
            and (threads is None or r.get("thread_id") in threads or r.get("missed"))
        ]
        still = self._keeper.drafts_present({key: ours[key]["draft_id"] for key in check})
        gone = [key for key in check if key not in still]
        # a scheduled message of ours deleted without going out: its draft is gone too
        gone += [k for k, r in ours.items() if r.get("scheduled") in deleted]
        claimed: set[str] = set()

        def close(key: str) -> None:
            claimed.add(key)
            if key_digest(key) not in reported:
                reported.add(key_digest(key))
                done.append(key_digest(key))
            record = ledger.get(key)
            if record is not None and not record.get("closed"):
                self._ledger.put(key, {**record, "closed": now.isoformat()})

        changes: list[MailChange] = []
        for meta in metas:
            if SCHEDULED in meta.labels and not meta.reportable:
                key = _sent_key(meta, ours, ledger, gone, claimed)
                if key in ours:
                    claimed.add(key)
                    if ours[key].get("scheduled") != meta.id:
                        self._ledger.put(key, {**ours[key], "scheduled": meta.id, "missed": None})
            elif not meta.reportable:
                continue
            elif "SENT" in meta.labels:
                key = _sent_key(meta, ours, ledger, gone, claimed)
                if key is not None:
                    close(key)
                changes.append(meta.change(MailChangeKind.SENT, key))
            elif not (meta.digest and meta.sender == self._address.lower()):
                changes.append(meta.change(MailChangeKind.INBOUND, meta.headers.key))
        for key in dict.fromkeys(gone):
            if key in claimed or not self._grace_over(key, ours[key], now):
                continue
            close(key)
            changes.append(_deleted(key, ours[key], now))
        for key in check:
            if key in still and ours[key].get("missed"):  # back again (an undo send)
                self._ledger.put(key, {**ours[key], "missed": None})
        return changes, tuple(done[-_DONE_LIMIT:])

    def _grace_over(self, key: str, record: Record, now: datetime) -> bool:
        """Whether a vanished draft has been missing for ``deleted_after`` (noted when
        first missed, in the ledger, so that every process and cursor agrees)."""
        if self._deleted_after <= timedelta(0):
            return True
        missed = record.get("missed")
        if not missed:
            self._ledger.put(key, {**record, "missed": now.isoformat()})
            return False
        return now - datetime.fromisoformat(missed) >= self._deleted_after


def _sent_key(
    meta: Meta,
    ours: Mapping[str, Record],
    ledger: Mapping[str, Record],
    gone: Sequence[str],
    claimed: set[str],
) -> str | None:
    """The key of the draft a sent (or scheduled) message came from, if it is ours."""
    if meta.headers.key:
        return meta.headers.key
    for key, record in ours.items():
        if key not in claimed and (
            record["message_id"] == meta.headers.message_id or record.get("scheduled") == meta.id
        ):
            return key
    in_thread = [k for k in gone if k not in claimed and ours[k].get("thread_id") == meta.thread_id]
    if len(in_thread) == 1:
        return in_thread[0]
    # reported as deleted already (the grace period was short): its Message-ID still links it
    for key, record in ledger.items():
        if record.get("state") == "draft" and record.get("message_id") == meta.headers.message_id:
            return key
    return None


def _deleted(key: str, record: Record, now: datetime) -> MailChange:
    return MailChange(
        kind=MailChangeKind.DRAFT_DELETED,
        provider_id=record["draft_id"],
        message_id=record["message_id"],
        thread_id=record.get("thread_id"),
        in_reply_to=record.get("in_reply_to"),
        references=tuple(record.get("references") or ()),
        key=key,
        at=now,
    )
