"""Understanding inbound mail: what kind of message this is, and what it says.

``understand(raw)`` is pure (no I/O, no clock) and never raises. It reads, in order:

1. bounces: a delivery-status report, or a failure notice from the mail system
   (``bounce``);
2. meetings: a text/calendar part or an .ics attachment: invitation, answer, cancellation
   (``calendar``, the one iCalendar reader of the project);
3. automatic mail: RFC 3834 Auto-Submitted (``no`` means a person), X-Autoreply,
   X-Autorespond, Exchange and Zimbra markers, Precedence, an empty Return-Path, read
   receipts, challenge-response, no-reply senders; then the subject ("Automatic reply:",
   "Abwesenheitsnotiz") and the wording of out-of-office text in several languages, with
   the return date (``automatic``, ``dates``);
4. otherwise a human reply: its new text (``quotes``), intent and referrals (``human``).

``mime`` reads the parts and texts of a message; ``result`` holds the returned type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from pipeline.inbound.automatic import as_machine_mail
from pipeline.inbound.bounce import Bounce, is_bounce, read_bounce
from pipeline.inbound.calendar import Attendee, Meeting, read_meeting
from pipeline.inbound.human import as_human_reply
from pipeline.inbound.message import Mail, read_mail
from pipeline.inbound.mime import addresses, all_text, calendar_parts, parse
from pipeline.inbound.result import INTENTS, KINDS, Inbound, Intent, Kind, Referral

__all__ = [
    "INTENTS",
    "KINDS",
    "Attendee",
    "Bounce",
    "Inbound",
    "Intent",
    "Kind",
    "Meeting",
    "Referral",
    "understand",
]


def _kind_of_method(method: str) -> Kind:
    if method == "CANCEL":
        return "meeting_cancel"
    if method in {"REPLY", "COUNTER"}:
        return "meeting_reply"
    return "meeting_invite"


def understand(
    raw: bytes,
    *,
    own_addresses: Iterable[str] = (),
    received_at: datetime | None = None,
) -> Inbound:
    """Understand one inbound message (raw RFC 5322 bytes, or a bare iCalendar object).

    ``received_at`` is the reference for relative dates ("back on Monday"); when None,
    the Date header is used. Never raises: unreadable input is kind ``other``.
    """
    try:
        return _understand(raw, own_addresses, received_at)
    except Exception as err:
        return Inbound(kind="other", reason=f"unreadable message ({type(err).__name__})")


def _understand(raw: bytes, own_addresses: Iterable[str], received_at: datetime | None) -> Inbound:
    raw = bytes(raw).lstrip()
    if not raw:
        return Inbound(kind="other", reason="empty message")
    if raw[:15].upper() == b"BEGIN:VCALENDAR":
        meeting, why = read_meeting(raw)
        if meeting is None:
            return Inbound(kind="other", reason=f"calendar file: {why}")
        return Inbound(kind=_kind_of_method(meeting.method), reason=why, meeting=meeting)
    if raw.startswith(b"From ") and b"\n" in raw:
        raw = raw.split(b"\n", 1)[1]  # an mbox separator line
    msg = parse(raw)
    if not msg.keys():
        return Inbound(kind="other", reason="no mail headers")
    mail = read_mail(msg)
    when = mail.base["date"]
    reference = received_at if received_at is not None else when
    return (
        _as_bounce(mail)
        or _as_meeting(mail)
        or as_machine_mail(mail, reference.date() if reference is not None else None)
        or as_human_reply(mail, {a.strip().lower() for a in own_addresses})
    )


def _as_bounce(mail: Mail) -> Inbound | None:
    why = is_bounce(
        mail.msg, mail.subject, mail.from_address, lambda: mail.visible or mail.everything()
    )
    if not why:
        return None
    to_addrs = [a for _, a in addresses(mail.msg, "To")]
    own_text = all_text(mail.msg, own_only=True)
    bounce = read_bounce(
        mail.msg, mail.subject, mail.from_address, to_addrs, own_text, mail.everything()
    )
    return Inbound(kind="bounce", reason=why, bounce=bounce, **mail.base)


_ITIP_METHODS = {"REQUEST", "REPLY", "CANCEL", "COUNTER", "DECLINECOUNTER", "REFRESH", "ADD"}


def _as_meeting(mail: Mail) -> Inbound | None:
    unreadable: str | None = None
    for data, method in calendar_parts(mail.msg):
        meeting, why = read_meeting(data, method)
        if meeting is not None:
            kind = _kind_of_method(meeting.method)
            return Inbound(kind=kind, reason=why, meeting=meeting, **mail.base)
        said = (method or "").upper() or _calendar_method(data)
        if said in _ITIP_METHODS:
            unreadable = unreadable or f"{said}: {why}"
    if unreadable is not None:
        # A calendar system wrote this (iTIP), even if its event cannot be read.
        reason = f"calendar message without a usable event ({unreadable})"
        return Inbound(kind="other", reason=reason, **mail.base)
    return None


def _calendar_method(data: bytes) -> str:
    found = re.search(rb"^METHOD:([A-Za-z-]+)", data[:20_000], re.MULTILINE)
    return found.group(1).decode("ascii").upper() if found else ""
