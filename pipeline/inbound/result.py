"""What understand() returns: the kind of a message, its intent, and what it says."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal, get_args

from pipeline.inbound.bounce import Bounce
from pipeline.inbound.calendar import Meeting
from pipeline.lifecycle import Intent as Intent  # one home: the lifecycle's word for it

Kind = Literal[
    "human_reply",
    "auto_reply",
    "bounce",
    "meeting_invite",
    "meeting_reply",
    "meeting_cancel",
    "other",
]
KINDS: tuple[Kind, ...] = get_args(Kind)
INTENTS: tuple[Intent, ...] = get_args(Intent)


@dataclass(frozen=True)
class Referral:
    """Someone introduced or suggested in a reply."""

    name: str | None
    email: str


@dataclass(frozen=True)
class Inbound:
    """What one inbound message is and says; fields not relevant to its kind are None."""

    kind: Kind
    reason: str
    intent: Intent | None = None
    reply_text: str | None = None
    return_date: date | None = None
    bounce: Bounce | None = None
    meeting: Meeting | None = None
    referrals: tuple[Referral, ...] = ()
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    subject: str = ""
    from_address: str | None = None
    from_name: str | None = None
    date: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON shape of ``outreach classify --json`` (without "file")."""
        meeting: dict[str, Any] | None = None
        if self.meeting is not None:
            meeting = {
                "method": self.meeting.method,
                "uid": self.meeting.uid,
                "start": _iso_z(self.meeting.start),
                "end": _iso_z(self.meeting.end),
                "organizer": self.meeting.organizer,
                "attendees": [
                    {"email": a.email, "partstat": a.partstat} for a in self.meeting.attendees
                ],
            }
        bounce: dict[str, Any] | None = None
        if self.bounce is not None:
            bounce = {"type": self.bounce.type, "recipients": list(self.bounce.recipients)}
        return {
            "kind": self.kind,
            "intent": self.intent,
            "reply_text": self.reply_text,
            "return_date": self.return_date.isoformat() if self.return_date else None,
            "bounce": bounce,
            "meeting": meeting,
            "referrals": [{"name": r.name, "email": r.email} for r in self.referrals],
            "reason": self.reason,
        }


def _iso_z(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
