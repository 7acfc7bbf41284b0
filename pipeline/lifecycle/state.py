"""The state of one outreach: its stage, its plan of steps, what it remembers to make
replays harmless, and its JSON codec (`Outreach.to_dict` / `Outreach.from_dict`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any


def _require_aware(at: datetime, name: str) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {at.isoformat()}")


class Stage(StrEnum):
    """Where one outreach stands."""

    PLANNED = "planned"
    OUTREACH_DRAFTED = "outreach_drafted"
    SENT = "sent"
    NUDGE_DRAFTED = "nudge_drafted"
    NUDGED = "nudged"
    REPLIED = "replied"
    SCHEDULING = "scheduling"
    BOOKED = "booked"
    MET = "met"
    THANKED = "thanked"
    KEEPING_IN_TOUCH = "keeping_in_touch"
    PAUSED_OOO = "paused_ooo"
    BOUNCED = "bounced"
    DECLINED = "declined"
    OPTED_OUT = "opted_out"
    GONE_QUIET = "gone_quiet"
    SKIPPED = "skipped"
    CLOSED = "closed"


class StepKind(StrEnum):
    """What a planned step drafts."""

    FIRST_OUTREACH = "first_outreach"
    NUDGE = "nudge"
    RESEND = "resend"
    SCHEDULING_REPLY = "scheduling_reply"
    THANK_YOU = "thank_you"
    THANKS_ANYWAY = "thanks_anyway"
    REFERRER_NOTE = "referrer_note"
    KEEP_IN_TOUCH = "keep_in_touch"


# Whether the draft is a reply in the outreach's thread (a new message otherwise).
IN_THREAD: Mapping[StepKind, bool] = {
    StepKind.FIRST_OUTREACH: False,
    StepKind.NUDGE: True,
    StepKind.RESEND: True,
    StepKind.SCHEDULING_REPLY: True,
    StepKind.THANK_YOU: True,
    StepKind.THANKS_ANYWAY: True,
    StepKind.REFERRER_NOTE: False,
    StepKind.KEEP_IN_TOUCH: False,
}

TERMINAL_STAGES = frozenset({Stage.OPTED_OUT, Stage.BOUNCED, Stage.CLOSED, Stage.SKIPPED})


@dataclass(frozen=True)
class Meeting:
    """A meeting on the person's calendar; `start` and `end` are aware."""

    uid: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class PlannedStep:
    """A step planned and not finished (not yet sent, deleted or cancelled)."""

    kind: StepKind
    seq: int
    due_at: datetime
    deadline: datetime | None = None
    drafted: bool = False


@dataclass(frozen=True)
class Outreach:
    """The whole state of one outreach; `to_dict`/`from_dict` make it JSON-safe.

    `next_seq` maps a step kind's value to the next sequence number to plan for it.
    `nudges_stopped`, `last_human_reply_at` and `soft_bounced_at` make replays no-ops.
    """

    stage: Stage
    started_at: datetime
    referral: bool = False
    nudges_sent: int = 0
    last_outbound_at: datetime | None = None
    paused_until: date | None = None
    resume_stage: Stage | None = None
    resend_used: bool = False
    meeting: Meeting | None = None
    meetings_held: tuple[str, ...] = ()
    keep_in_touch: bool = True
    planned: tuple[PlannedStep, ...] = ()
    next_seq: Mapping[str, int] = field(default_factory=dict)
    nudges_stopped: bool = False
    last_human_reply_at: datetime | None = None
    soft_bounced_at: datetime | None = None
    introductions_to_confirm: tuple[tuple[str, str], ...] = ()
    # Steps whose draft the person deleted, as (kind, seq): revived if its mail turns out
    # to have been sent after all (an edited draft, a scheduled send, a late sync).
    deleted: tuple[tuple[str, int], ...] = ()

    def pending(self, kind: StepKind) -> tuple[PlannedStep, ...]:
        """The planned steps of one kind."""
        return tuple(step for step in self.planned if step.kind == kind)

    def find(self, kind: StepKind, seq: int) -> PlannedStep | None:
        """The planned step with this key, if it is still planned."""
        for step in self.planned:
            if step.kind == kind and step.seq == seq:
                return step
        return None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (times as ISO 8601 in UTC); `from_dict` reads it back."""
        return {
            "version": 1,
            "stage": self.stage.value,
            "started_at": _iso(self.started_at),
            "referral": self.referral,
            "nudges_sent": self.nudges_sent,
            "last_outbound_at": _iso_or_none(self.last_outbound_at),
            "paused_until": self.paused_until.isoformat() if self.paused_until else None,
            "resume_stage": self.resume_stage.value if self.resume_stage else None,
            "resend_used": self.resend_used,
            "meeting": (
                {
                    "uid": self.meeting.uid,
                    "start": _iso(self.meeting.start),
                    "end": _iso(self.meeting.end),
                }
                if self.meeting
                else None
            ),
            "meetings_held": list(self.meetings_held),
            "keep_in_touch": self.keep_in_touch,
            "planned": [
                {
                    "kind": step.kind.value,
                    "seq": step.seq,
                    "due_at": _iso(step.due_at),
                    "deadline": _iso_or_none(step.deadline),
                    "drafted": step.drafted,
                }
                for step in self.planned
            ],
            "next_seq": dict(sorted(self.next_seq.items())),
            "nudges_stopped": self.nudges_stopped,
            "last_human_reply_at": _iso_or_none(self.last_human_reply_at),
            "soft_bounced_at": _iso_or_none(self.soft_bounced_at),
            "introductions_to_confirm": [list(pair) for pair in self.introductions_to_confirm],
            "deleted": [list(pair) for pair in self.deleted],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Outreach:
        """Read back what `to_dict` wrote; raises ValueError on anything else."""
        if data.get("version", 1) != 1:
            raise ValueError(f"unknown outreach state version {data.get('version')!r}")
        try:
            meeting = data.get("meeting")
            resume = data.get("resume_stage")
            paused = data.get("paused_until")
            return cls(
                stage=Stage(data["stage"]),
                started_at=_parse_dt(data["started_at"]),
                referral=bool(data.get("referral", False)),
                nudges_sent=int(data.get("nudges_sent", 0)),
                last_outbound_at=_parse_dt_or_none(data.get("last_outbound_at")),
                paused_until=date.fromisoformat(paused) if paused else None,
                resume_stage=Stage(resume) if resume else None,
                resend_used=bool(data.get("resend_used", False)),
                meeting=(
                    Meeting(
                        uid=str(meeting["uid"]),
                        start=_parse_dt(meeting["start"]),
                        end=_parse_dt(meeting["end"]),
                    )
                    if meeting
                    else None
                ),
                meetings_held=tuple(str(uid) for uid in data.get("meetings_held", ())),
                keep_in_touch=bool(data.get("keep_in_touch", True)),
                planned=tuple(
                    PlannedStep(
                        kind=StepKind(step["kind"]),
                        seq=int(step["seq"]),
                        due_at=_parse_dt(step["due_at"]),
                        deadline=_parse_dt_or_none(step.get("deadline")),
                        drafted=bool(step.get("drafted", False)),
                    )
                    for step in data.get("planned", ())
                ),
                next_seq={str(k): int(v) for k, v in dict(data.get("next_seq", {})).items()},
                nudges_stopped=bool(data.get("nudges_stopped", False)),
                last_human_reply_at=_parse_dt_or_none(data.get("last_human_reply_at")),
                soft_bounced_at=_parse_dt_or_none(data.get("soft_bounced_at")),
                introductions_to_confirm=tuple(
                    (str(name), str(email))
                    for name, email in data.get("introductions_to_confirm", ())
                ),
                deleted=tuple((str(kind), int(seq)) for kind, seq in data.get("deleted", ())),
            )
        except (KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"not a stored outreach: {err!r}") from err


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def _iso_or_none(at: datetime | None) -> str | None:
    return None if at is None else _iso(at)


def _parse_dt(text: Any) -> datetime:
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO 8601 time, got {text!r}")
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"time without a UTC offset: {text!r}")
    return parsed


def _parse_dt_or_none(text: Any) -> datetime | None:
    return None if text is None else _parse_dt(text)


RESTARTABLE_STAGES = frozenset({Stage.SKIPPED, Stage.DECLINED, Stage.GONE_QUIET, Stage.CLOSED})
"""Ends the person may start afresh (`outreach start --again`); never an opt-out or a
bounce."""


def new_outreach(now: datetime, *, referral: bool = False) -> Outreach:
    """A fresh outreach: stage `planned`, nothing planned until `Started`."""
    _require_aware(now, "now")
    return Outreach(stage=Stage.PLANNED, started_at=now, referral=referral)
