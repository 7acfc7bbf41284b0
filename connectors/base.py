"""The ports: what the pipeline needs from a mailbox and a calendar, and nothing more.

Every implementation (in-memory, Maildir + vdir, Gmail + Google Calendar, Outlook) returns
these frozen dataclasses, never a vendor payload, and raises only the project's errors
(``pipeline.errors``), translated at the boundary with ``raise ... from err``:

- ``TransientError(retry_after=...)``: try again later (429, 5xx, time-outs, a locked file).
- ``PermanentError``: retrying will not help (bad request, bad address, refused recipient).
- ``AuthError``: the person must re-authorize the account.

Cursors are opaque strings owned by the implementation. The caller stores the cursor a
``changes()`` call returned in the same transaction as what it made of those changes, and
passes it back next time; passing an older cursor again reports the same changes again
(as far back as the implementation keeps them), so a failed transaction loses nothing.
A cursor the implementation does not recognise (another store, a reset state) is treated
like ``None``.

All datetimes are timezone-aware and in UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from enum import StrEnum
from typing import Protocol, runtime_checkable

KEY_HEADER = "X-Outreach-Key"
"""Mail header carrying the idempotency key of the step that produced a draft."""

KEY_PROPERTY = "X-OUTREACH-KEY"
"""iCalendar property carrying the idempotency key of an event the pipeline wrote."""


def _as_utc(value: datetime, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field} must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class ThreadRef:
    """Where a reply belongs: the provider's thread id and the RFC 5322 threading headers.

    ``in_reply_to`` and ``references`` hold Message-IDs with their angle brackets.
    ``reply_to_id`` is the provider's id of the message answered, when known (Graph
    creates a reply draft in its conversation from that message); connectors without
    such a call ignore it.
    """

    thread_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...] = ()
    reply_to_id: str | None = None


@dataclass(frozen=True)
class DraftRef:
    """A draft the pipeline created (or, once sent, the sent copy that replaced it).

    ``draft_id`` is the provider's id of the draft; ``message_id`` is the Message-ID header
    (angle brackets included); ``thread_id`` is the provider's thread, when it has threads.
    """

    draft_id: str
    message_id: str
    thread_id: str | None


class MailChangeKind(StrEnum):
    """What happened in the mailbox.

    - ``INBOUND``: a new message arrived in the inbox.
    - ``SENT``: a message left the mailbox (the person sent one of our drafts, or wrote and
      sent something themselves). A draft that was sent is reported as ``SENT``, never as
      ``DRAFT_DELETED``.
    - ``DRAFT_DELETED``: a draft the pipeline created disappeared without being sent: the
      person declined that step. Reported once, carrying the draft's key.
    - ``UNREADABLE``: a message in the mailbox that cannot be read at all (``reason``
      says why, never quoting it). Reported once, so the person can be told; it is then
      skipped like any message already seen.
    """

    INBOUND = "inbound"
    SENT = "sent"
    DRAFT_DELETED = "draft_deleted"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class MailChange:
    """One change reported by ``Mailbox.changes``.

    ``provider_id`` identifies the message for ``fetch_raw`` (for ``DRAFT_DELETED``: the
    vanished draft's id, which can no longer be fetched). ``message_id``, ``in_reply_to``
    and ``references`` are the RFC 5322 headers (angle brackets included). ``key`` is our
    ``X-Outreach-Key`` when the message carries it, or when the implementation matched a
    sent message to a draft it created (by Message-ID or thread), or the key of the
    deleted draft. ``at``: when it was received, sent or (for a deletion) noticed.
    ``recipients``: the addresses the message was written to (To, Cc, Bcc; lowercased):
    what survives when the person edits a draft before sending it.
    """

    kind: MailChangeKind
    provider_id: str
    message_id: str | None
    thread_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...] = ()
    key: str | None = None
    at: datetime | None = None
    reason: str | None = None
    recipients: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.at is not None:
            object.__setattr__(self, "at", _as_utc(self.at, "MailChange.at"))


@runtime_checkable
class Mailbox(Protocol):
    """The person's own mailbox. Every outbound message is a draft; only the digest is
    delivered, and only to the person."""

    @property
    def address(self) -> str:
        """The person's own address (addr-spec, no display name)."""
        ...

    def changes(self, cursor: str | None) -> tuple[list[MailChange], str]:
        """Return what changed since ``cursor`` and the cursor to pass next time.

        ``cursor=None`` starts now: nothing historic is reported, only a cursor. Each call
        is incremental (it never re-reads the whole mailbox). Messages the implementation
        delivered with ``deliver_to_self`` and drafts being created are not reported.
        Changes come in the order they were noticed.
        """
        ...

    def fetch_raw(self, provider_ids: Sequence[str]) -> dict[str, bytes]:
        """Return the raw RFC 5322 bytes of each message, keyed by provider id.

        Implementations fetch in batches. An id that no longer exists (the person deleted
        the message) is left out of the result rather than raising.
        """
        ...

    def create_draft(self, message: EmailMessage, key: str, thread: ThreadRef | None) -> DraftRef:
        """Put ``message`` in the Drafts folder, marked with ``key``; idempotent by key.

        If a draft or a sent message carrying ``key`` already exists, return it and create
        nothing. The message is not modified: the implementation works on a copy to which
        it adds the ``X-Outreach-Key`` header, a Message-ID derived from the key when the
        message has none, and, for a reply (``thread``), In-Reply-To and References when
        the message lacks them. Raises ``PermanentError`` for a message it cannot store.
        """
        ...

    def find_draft(self, key: str) -> DraftRef | None:
        """Return the draft (or, once sent, the sent message) carrying ``key``, if any.

        A draft the person deleted is not found.
        """
        ...

    def discard_draft(self, key: str) -> bool:
        """Remove OUR draft carrying ``key`` while it is still a draft, because the step
        became moot (the contact answered before the person sent the nudge). Never touches
        a sent message, and is not reported as ``DRAFT_DELETED``. Returns False when there
        is no such draft (already sent, deleted by the person, or never made); calling it
        again is harmless.
        """
        ...

    def deliver_to_self(self, message: EmailMessage) -> str:
        """Deliver the digest into the person's own inbox; return its provider id.

        Raises ``PermanentError`` unless the only recipient (To, no Cc or Bcc) is
        ``address``: this is the one message the pipeline sends without the person.
        """
        ...


@dataclass(frozen=True)
class Attendee:
    """An invited person and their answer: ``partstat`` is the iCalendar PARTSTAT
    (``NEEDS-ACTION``, ``ACCEPTED``, ``DECLINED``, ``TENTATIVE``, ``DELEGATED``)."""

    email: str
    name: str | None
    partstat: str = "NEEDS-ACTION"


@dataclass(frozen=True)
class CalendarEvent:
    """One timed event (all-day events are not meetings and are never reported).

    ``start`` and ``end`` are aware and normalised to UTC. ``status`` is ``confirmed``,
    ``tentative`` or ``cancelled``. ``organizer`` and attendee emails are bare addresses.
    ``key`` is our ``X-OUTREACH-KEY`` property, set on events the pipeline wrote.
    """

    uid: str
    summary: str
    start: datetime
    end: datetime
    organizer: str | None
    attendees: tuple[Attendee, ...]
    status: str = "confirmed"
    description: str = ""
    location: str | None = None
    key: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _as_utc(self.start, "CalendarEvent.start"))
        object.__setattr__(self, "end", _as_utc(self.end, "CalendarEvent.end"))
        object.__setattr__(self, "attendees", tuple(self.attendees))


class EventChangeKind(StrEnum):
    """``UPSERTED``: an event appeared or changed (a cancelled event is an upsert with
    status ``cancelled``). ``DELETED``: the event is gone from the calendar.
    ``UNREADABLE``: an item of the calendar that looks broken (it does not parse, or its
    times are out of any sensible range); ``uid`` names the item as the provider knows
    it and ``reason`` says why. Ordinary events that are no meetings (all-day events,
    week-long blocks) are not reported at all."""

    UPSERTED = "upserted"
    DELETED = "deleted"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class EventChange:
    """One change reported by ``Calendar.changes``; ``event`` is None for ``DELETED`` and
    ``UNREADABLE``, ``reason`` is set for ``UNREADABLE`` only."""

    kind: EventChangeKind
    uid: str
    event: CalendarEvent | None
    reason: str | None = None


@runtime_checkable
class Calendar(Protocol):
    """The person's calendar: meetings to notice, prep notes to write."""

    def changes(self, cursor: str | None) -> tuple[list[EventChange], str]:
        """Return what changed since ``cursor`` and the cursor to pass next time.

        ``cursor=None`` reports every current event as ``UPSERTED`` (upcoming meetings
        matter), then later calls are incremental. Our own events (``key`` set) are
        reported too; the caller recognises them by ``key``.
        """
        ...

    def put_event(self, event: CalendarEvent, key: str) -> str:
        """Create, or update in place, OUR event identified by ``key``; return its
        provider id. Idempotent: the same call twice leaves one event. ``event.uid`` is
        used for a new event when set, else a uid derived from ``key``; an update keeps
        the uid the event already has."""
        ...

    def delete_event(self, key: str) -> bool:
        """Remove OUR event identified by ``key``; return False when there was none."""
        ...
