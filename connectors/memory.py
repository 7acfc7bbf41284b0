"""In-memory Mailbox and Calendar: for tests, dry runs and the demo.

Besides the ports, each class has methods that play the other side of the conversation
(the person in their mail client, the contacts writing back, other people's calendars):
``receive``, ``send_draft``, ``send_message``, ``delete_draft`` and ``add_external_event``,
``move_event``, ``cancel_event``, ``remove_event``. ``fail_next`` makes the next port call
raise, to exercise retries. Calls are serialised by a lock, so the in-process worker's
threads can share one instance.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Concatenate, ParamSpec, TypeVar

from connectors._ids import derived_uid
from connectors._journal import Journal
from connectors._mime import (
    Headers,
    ensure_delivery_headers,
    ensure_self_only,
    prepare_draft,
    read_headers,
    to_bytes,
)
from connectors.base import (
    CalendarEvent,
    DraftRef,
    EventChange,
    EventChangeKind,
    MailChange,
    MailChangeKind,
    ThreadRef,
)
from pipeline.errors import OutreachError, PermanentError

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _Guarded:
    """Serialises calls: the in-process worker runs actors on several threads."""

    def __init__(self) -> None:
        self._lock = threading.RLock()


_S = TypeVar("_S", bound=_Guarded)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _locked(method: Callable[Concatenate[_S, _P], _R]) -> Callable[Concatenate[_S, _P], _R]:
    @functools.wraps(method)
    def guarded(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return method(self, *args, **kwargs)

    return guarded


class _Faults:
    def __init__(self) -> None:
        self._pending: list[tuple[OutreachError, str | None]] = []

    def fail_next(self, error: OutreachError, times: int = 1, only: str | None = None) -> None:
        self._pending.extend([(error, only)] * times)

    def check(self, call: str) -> None:
        """Raise the first pending error meant for ``call`` (or for any call)."""
        for index, (error, only) in enumerate(self._pending):
            if only is None or only == call:
                del self._pending[index]
                raise error


@dataclass(frozen=True)
class StoredMessage:
    """A message as the in-memory mailbox holds it (test-side view)."""

    provider_id: str
    folder: str  # "inbox", "drafts" or "sent"
    raw: bytes
    thread_id: str
    key: str | None
    at: datetime

    @property
    def message(self) -> EmailMessage:
        """The message parsed with the modern email policy."""
        parsed = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def headers(self) -> Headers:
        return read_headers(self.raw)


class InMemoryMailbox(_Guarded):
    """A Mailbox held in memory, with Gmail-like opaque message and thread ids."""

    def __init__(self, address: str = "me@example.org", *, clock: Clock = _utcnow) -> None:
        super().__init__()
        self._address = address
        self._clock = clock
        self._messages: dict[str, StoredMessage] = {}
        self._thread_of: dict[str, str] = {}  # Message-ID -> thread id
        self._journal: Journal[MailChange] = Journal()
        self._ids = itertools.count(1)
        self._thread_ids = itertools.count(1)
        self._faults = _Faults()

    @property
    def address(self) -> str:
        return self._address

    # -- the port ------------------------------------------------------------------------

    @_locked
    def changes(self, cursor: str | None) -> tuple[list[MailChange], str]:
        self._faults.check("changes")
        position = self._journal.position(cursor)
        found = [] if position is None else self._journal.since(position)
        return found, self._journal.cursor()

    @_locked
    def fetch_raw(self, provider_ids: Sequence[str]) -> dict[str, bytes]:
        self._faults.check("fetch_raw")
        return {pid: self._messages[pid].raw for pid in provider_ids if pid in self._messages}

    @_locked
    def create_draft(self, message: EmailMessage, key: str, thread: ThreadRef | None) -> DraftRef:
        self._faults.check("create_draft")
        existing = self.find_draft(key)
        if existing is not None:
            return existing
        draft = prepare_draft(message, key, thread, self._address)
        raw = to_bytes(draft)
        headers = read_headers(raw)
        thread_id = (thread.thread_id if thread else None) or self._thread_for(headers)
        stored = self._store("drafts", raw, thread_id, key, self._clock())
        assert headers.message_id is not None
        return DraftRef(stored.provider_id, headers.message_id, thread_id)

    @_locked
    def discard_draft(self, key: str) -> bool:
        self._faults.check("discard_draft")
        for stored in self._in("drafts"):
            if stored.key == key:
                del self._messages[stored.provider_id]
                return True
        return False

    @_locked
    def find_draft(self, key: str) -> DraftRef | None:
        self._faults.check("find_draft")
        for folder in ("drafts", "sent"):
            for stored in self._messages.values():
                if stored.folder == folder and stored.key == key:
                    message_id = stored.headers.message_id or ""
                    return DraftRef(stored.provider_id, message_id, stored.thread_id)
        return None

    @_locked
    def deliver_to_self(self, message: EmailMessage) -> str:
        self._faults.check("deliver_to_self")
        ensure_self_only(message, self._address)
        now = self._clock()
        raw = to_bytes(ensure_delivery_headers(message, self._address, now))
        stored = self._store("inbox", raw, self._thread_for(read_headers(raw)), None, now)
        return stored.provider_id

    # -- playing the other side ----------------------------------------------------------

    @_locked
    def fail_next(self, error: OutreachError, times: int = 1, only: str | None = None) -> None:
        """Make the next ``times`` port calls (of the method named ``only``, when given)
        raise ``error``."""
        self._faults.fail_next(error, times, only)

    @_locked
    def receive(self, raw: bytes, at: datetime | None = None) -> str:
        """A message arrives in the inbox; return its provider id."""
        when = at or self._clock()
        headers = read_headers(raw)
        stored = self._store("inbox", raw, self._thread_for(headers), None, when)
        self._journal.append([self._change(MailChangeKind.INBOUND, stored, headers)])
        return stored.provider_id

    @_locked
    def send_draft(
        self,
        key_or_draft_id: str,
        at: datetime | None = None,
        edit: Callable[[EmailMessage], EmailMessage | None] | None = None,
    ) -> str:
        """The person sends a draft (after ``edit``, which may change the message in place
        or return a new one): it leaves Drafts and a copy lands in Sent, in the same
        thread. Returns the sent copy's provider id."""
        draft = self._draft(key_or_draft_id)
        when = at or self._clock()
        message = draft.message
        if edit is not None:
            message = edit(message) or message
        if "Date" not in message:
            message["Date"] = when
        raw = to_bytes(message)
        del self._messages[draft.provider_id]
        sent = self._store("sent", raw, draft.thread_id, draft.key, when)
        headers = read_headers(raw)
        self._journal.append(
            [self._change(MailChangeKind.SENT, sent, headers, key=headers.key or draft.key)]
        )
        return sent.provider_id

    @_locked
    def send_message(self, raw: bytes, at: datetime | None = None) -> str:
        """The person writes and sends a message of their own (no draft of ours)."""
        when = at or self._clock()
        headers = read_headers(raw)
        sent = self._store("sent", raw, self._thread_for(headers), headers.key, when)
        self._journal.append([self._change(MailChangeKind.SENT, sent, headers)])
        return sent.provider_id

    @_locked
    def delete_draft(self, key_or_draft_id: str, at: datetime | None = None) -> None:
        """The person deletes a draft: the step is declined."""
        draft = self._draft(key_or_draft_id)
        del self._messages[draft.provider_id]
        headers = draft.headers
        change = MailChange(
            kind=MailChangeKind.DRAFT_DELETED,
            provider_id=draft.provider_id,
            message_id=headers.message_id,
            thread_id=draft.thread_id,
            in_reply_to=headers.in_reply_to,
            references=headers.references,
            key=draft.key,
            at=at or self._clock(),
        )
        self._journal.append([change])

    @_locked
    def drafts(self) -> list[StoredMessage]:
        return self._in("drafts")

    @_locked
    def sent(self) -> list[StoredMessage]:
        return self._in("sent")

    @_locked
    def inbox(self) -> list[StoredMessage]:
        return self._in("inbox")

    # -- internals -----------------------------------------------------------------------

    def _in(self, folder: str) -> list[StoredMessage]:
        return [m for m in self._messages.values() if m.folder == folder]

    def _draft(self, key_or_draft_id: str) -> StoredMessage:
        for stored in self._in("drafts"):
            if key_or_draft_id in (stored.provider_id, stored.key):
                return stored
        raise KeyError(f"no draft with key or id {key_or_draft_id!r}")

    def _thread_for(self, headers: Headers) -> str:
        for parent in (headers.in_reply_to, *reversed(headers.references)):
            if parent is not None and parent in self._thread_of:
                return self._thread_of[parent]
        return f"t{next(self._thread_ids)}"

    def _store(
        self, folder: str, raw: bytes, thread_id: str, key: str | None, at: datetime
    ) -> StoredMessage:
        stored = StoredMessage(f"m{next(self._ids)}", folder, raw, thread_id, key, at)
        self._messages[stored.provider_id] = stored
        message_id = read_headers(raw).message_id
        if message_id is not None:
            self._thread_of.setdefault(message_id, thread_id)
        return stored

    @staticmethod
    def _change(
        kind: MailChangeKind, stored: StoredMessage, headers: Headers, key: str | None = None
    ) -> MailChange:
        return MailChange(
            kind=kind,
            provider_id=stored.provider_id,
            message_id=headers.message_id,
            thread_id=stored.thread_id,
            in_reply_to=headers.in_reply_to,
            references=headers.references,
            key=key or headers.key,
            at=stored.at,
            recipients=headers.recipients,
        )


class InMemoryCalendar(_Guarded):
    """A Calendar held in memory; its provider event ids are the events' uids."""

    def __init__(self) -> None:
        super().__init__()
        self._events: dict[str, CalendarEvent] = {}
        self._journal: Journal[EventChange] = Journal()
        self._faults = _Faults()

    # -- the port ------------------------------------------------------------------------

    @_locked
    def changes(self, cursor: str | None) -> tuple[list[EventChange], str]:
        self._faults.check("changes")
        position = self._journal.position(cursor)
        if position is None:
            snapshot = [
                EventChange(EventChangeKind.UPSERTED, event.uid, event)
                for event in self._events.values()
            ]
            return snapshot, self._journal.cursor()
        return self._journal.since(position), self._journal.cursor()

    @_locked
    def put_event(self, event: CalendarEvent, key: str) -> str:
        self._faults.check("put_event")
        existing = self._by_key(key)
        uid = existing.uid if existing else (event.uid or derived_uid(key))
        ours = replace(event, uid=uid, key=key)
        if ours != existing:
            self._upsert(ours)
        return uid

    @_locked
    def delete_event(self, key: str) -> bool:
        self._faults.check("delete_event")
        existing = self._by_key(key)
        if existing is None:
            return False
        self.remove_event(existing.uid)
        return True

    # -- playing the other side ----------------------------------------------------------

    @_locked
    def fail_next(self, error: OutreachError, times: int = 1, only: str | None = None) -> None:
        """Make the next ``times`` port calls (of the method named ``only``, when given)
        raise ``error``."""
        self._faults.fail_next(error, times, only)

    @_locked
    def add_external_event(self, event: CalendarEvent) -> str:
        """Someone else's event (an accepted invitation, a booking) appears or changes."""
        if not event.uid:
            raise PermanentError("an external event needs a uid")
        self._upsert(event)
        return event.uid

    @_locked
    def move_event(self, uid: str, start: datetime, end: datetime) -> None:
        """The organiser reschedules an event."""
        self._upsert(replace(self._events[uid], start=start, end=end))

    @_locked
    def cancel_event(self, uid: str) -> None:
        """The organiser cancels an event: it stays, with status ``cancelled``."""
        self._upsert(replace(self._events[uid], status="cancelled"))

    @_locked
    def remove_event(self, uid: str) -> None:
        """The event is deleted from the calendar altogether."""
        del self._events[uid]
        self._journal.append([EventChange(EventChangeKind.DELETED, uid, None)])

    @_locked
    def events(self) -> list[CalendarEvent]:
        return list(self._events.values())

    # -- internals -----------------------------------------------------------------------

    def _by_key(self, key: str) -> CalendarEvent | None:
        return next((e for e in self._events.values() if e.key == key), None)

    def _upsert(self, event: CalendarEvent) -> None:
        self._events[event.uid] = event
        self._journal.append([EventChange(EventChangeKind.UPSERTED, event.uid, event)])
