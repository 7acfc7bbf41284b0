"""The lifecycle of one outreach: a pure function of (state, observation, now, policy).

`advance(outreach, observation, now, policy)` returns a `Decision`: the new `Outreach`
state and the commands the caller carries out (plan or cancel a step, put prep notes on
the calendar, suppress an address, ...). It never reads the clock, the network or the
database. The rules are those of DESIGN.md, "The lifecycle"; the choices DESIGN leaves
open are settled here:

- An observation that does not apply in the current stage, or that repeats one already
  applied, returns the same state and no commands: replays and out-of-order input are safe.
- Every planned step gets a sequence number never used before for its kind, so the
  store's key (account, contact, kind, seq) is new for every `PlanStep`.
- A step stays in `Outreach.planned` from `PlanStep` until it is sent, its draft is
  deleted, or it is cancelled; `DraftCreated` only marks it drafted.
- `Outreach.planned` is the one plan: the steps table is written from its commands only
  (`PlanStep`, `CancelStep`, `RescheduleStep`), so a due time changes here first (the
  pacing of first drafts comes in as `Started.not_before`).
- Drafts for the person are due at the next moment inside the send window (a workday,
  between `send_window_start` and `send_window_end` local time), except the scheduling
  reply (due at once) and the thank-you (due when the meeting ends, with a deadline
  `thank_you_within_hours` later).
- Nudges: after a first outreach, a resend or a nudge is sent, the next nudge is due
  `nudge_after_business_days` business days later (same local wall time, moved into the
  send window), while `nudges_sent < max_nudges`. Any human reply, a booked meeting or a
  deleted nudge draft stops nudges for good (`nudges_stopped`).
- Out of office: `paused_until` is the stated return date, or the local date of the
  automatic reply plus `ooo_default_days`. A pending nudge moves to the first send-window
  moment on or after the day *after* that date (a day to catch up), but never earlier
  than it already was. A tick on or after `paused_until` resumes the stage it paused.
- Replies are told apart by their time: a positive, neutral or decline reply whose `at`
  is not later than the last one applied is a repeat and ignored. An opt-out is always
  applied, whatever its time, in every stage but `opted_out` and `bounced`. Any new reply
  stops nudges and yields its referrals; positive and neutral move a waiting outreach
  (sent ... scheduling, paused, gone quiet) to `replied`; after the meeting they change
  no stage. A decline before the meeting (or of a booked one) ends the outreach.
- Bounces (of anything sent, in any stage after the first outreach went out): a soft
  bounce plans one `RESEND` (of the bounced message) after `soft_bounce_retry_days`
  calendar days and holds the nudges until it is sent; a second soft bounce counts as
  hard, and one in `declined` (of the thanks-anyway) is ignored. A hard bounce cancels every
  planned step, flags the contact and suppresses the address; the prep notes of a booked
  meeting stay, since the meeting is on the person's calendar whatever the address.
- Working hours: when the time zone, workdays or send window change, each planned draft
  that keeps to the send window (all but the scheduling reply and the thank-you) and is
  not yet made moves to the next send moment at or after its due time (or now, for one
  already due); one inside the new window stays.
- Terminal stages: `opted_out`, `bounced` (hard), `closed` (after a decline, once the
  thanks-anyway is sent or deleted, or at once without one) and `skipped`. Nothing is
  ever planned in them; only an opt-out still applies in `closed` and `skipped`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal, TypeAlias, assert_never
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.timeplan import (
    add_business_days,
    local_date,
    next_send_moment,
    start_of_local_day,
)

__all__ = [
    "IN_THREAD",
    "TERMINAL_STAGES",
    "AutoReply",
    "Bounced",
    "CancelStep",
    "Command",
    "CreateReferral",
    "Decision",
    "DraftCreated",
    "DraftDeleted",
    "FlagContact",
    "HumanReply",
    "Intent",
    "Meeting",
    "MeetingBooked",
    "MeetingCancelled",
    "MeetingMoved",
    "MessageSent",
    "Observation",
    "Outreach",
    "PlanStep",
    "PlannedStep",
    "Policy",
    "PutPrepNotes",
    "RemovePrepNotes",
    "RescheduleStep",
    "Restarted",
    "Stage",
    "Started",
    "StepKind",
    "StopKeepingInTouch",
    "SuppressAddress",
    "TimePassed",
    "WorkingHoursChanged",
    "advance",
    "new_outreach",
]


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

# Stages in which we wait for an answer to the first outreach (nudges happen here).
_AWAITING = frozenset({Stage.SENT, Stage.NUDGE_DRAFTED, Stage.NUDGED})
# Stages from which a booked meeting is accepted.
_BOOKABLE = _AWAITING | {Stage.REPLIED, Stage.SCHEDULING, Stage.PAUSED_OOO, Stage.GONE_QUIET}
# Stages in which an automatic reply pauses the outreach.
_PAUSABLE = _AWAITING | {Stage.REPLIED, Stage.SCHEDULING}
# Stages in which a decline ends the outreach.
_DECLINABLE = _BOOKABLE | {Stage.BOOKED}
# Stages in which nothing we sent can bounce.
_NOTHING_SENT = frozenset({Stage.PLANNED, Stage.OUTREACH_DRAFTED})

MAX_INTRODUCTIONS_PER_MESSAGE = 3
"""People introduced in one reply who get an outreach without the person's word; the
rest (a reply-all to a list is no introduction) wait in ``introductions_to_confirm``."""
_MAX_KEPT_TO_CONFIRM = 200


@dataclass(frozen=True)
class Policy:
    """The cadence and limits of outreach; every field can be set from settings."""

    nudge_after_business_days: int = 5
    max_nudges: int = 2
    ooo_default_days: int = 7
    soft_bounce_retry_days: int = 2
    thank_you_within_hours: int = 24
    keep_in_touch_days: int = 90
    thanks_anyway_on_decline: bool = True
    timezone: str = "UTC"
    workdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    send_window_start: time = time(8, 30)
    send_window_end: time = time(17, 0)
    prep_notes_lead_minutes: int = 60
    new_outreach_per_day: int = 10

    def __post_init__(self) -> None:
        minimums = {
            "nudge_after_business_days": 1,
            "max_nudges": 0,
            "ooo_default_days": 1,
            "soft_bounce_retry_days": 0,
            "thank_you_within_hours": 1,
            "keep_in_touch_days": 1,
            "prep_notes_lead_minutes": 0,
            "new_outreach_per_day": 1,
        }
        for key, minimum in minimums.items():
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{key} must be a whole number, got {value!r}")
            if value < minimum:
                raise ValueError(f"{key} must be at least {minimum}, got {value}")
        if not isinstance(self.thanks_anyway_on_decline, bool):
            raise ValueError(
                "thanks_anyway_on_decline must be true or false,"
                f" got {self.thanks_anyway_on_decline!r}"
            )
        if not isinstance(self.timezone, str):
            raise ValueError(f"timezone must be an IANA time zone name, got {self.timezone!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"timezone: unknown IANA time zone {self.timezone!r}") from err
        if (
            not isinstance(self.workdays, tuple)
            or not self.workdays
            or any(
                isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6
                for d in self.workdays
            )
        ):
            raise ValueError(
                f"workdays must be a non-empty list of weekday numbers 0 (Monday) to 6,"
                f" got {self.workdays!r}"
            )
        for key in ("send_window_start", "send_window_end"):
            value = getattr(self, key)
            if not isinstance(value, time) or value.tzinfo is not None:
                raise ValueError(f"{key} must be a local time of day, got {value!r}")
        if self.send_window_start >= self.send_window_end:
            raise ValueError(
                f"send_window_end must be later than send_window_start,"
                f" got {self.send_window_start} to {self.send_window_end}"
            )

    @property
    def zone(self) -> ZoneInfo:
        """The person's time zone."""
        return ZoneInfo(self.timezone)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Policy:
        """A policy from settings (a TOML table); missing keys keep their default.

        Times may be `datetime.time` (TOML local times) or "HH:MM" strings; workdays any
        sequence of weekday numbers. Raises ValueError naming the offending key.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown policy setting (known: {sorted(known)})")
        converted: dict[str, Any] = dict(values)
        for key in ("send_window_start", "send_window_end"):
            if isinstance(converted.get(key), str):
                try:
                    converted[key] = time.fromisoformat(converted[key])
                except ValueError as err:
                    raise ValueError(
                        f"{key} must be a time like 08:30, got {converted[key]!r}"
                    ) from err
        if "workdays" in converted and isinstance(converted["workdays"], list | tuple):
            converted["workdays"] = tuple(converted["workdays"])
        return cls(**converted)


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


# ---------------------------------------------------------------------------- observations


Intent: TypeAlias = Literal["positive", "neutral", "decline", "opt_out"]


@dataclass(frozen=True)
class Started:
    """The person started this outreach: plan the first outreach draft, at the next send
    moment and not before ``not_before`` (the day the pacing of first drafts gives it)."""

    at: datetime
    not_before: datetime | None = None


@dataclass(frozen=True)
class Restarted:
    """The person starts an ended outreach afresh (`outreach start --again`): a new
    first draft, numbered on from the old steps so their keys stay unique; ``not_before``
    as for `Started`."""

    at: datetime
    not_before: datetime | None = None


@dataclass(frozen=True)
class DraftCreated:
    """The draft for a planned step now exists in the mailbox."""

    at: datetime
    kind: StepKind
    seq: int


@dataclass(frozen=True)
class MessageSent:
    """The person sent the draft of a planned step."""

    at: datetime
    kind: StepKind
    seq: int


@dataclass(frozen=True)
class DraftDeleted:
    """The person deleted the draft of a planned step: they declined that step."""

    at: datetime
    kind: StepKind
    seq: int


@dataclass(frozen=True)
class HumanReply:
    """The contact answered; `referrals` are (name, email) of people they introduced."""

    at: datetime
    intent: Intent
    referrals: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AutoReply:
    """An automatic (out-of-office) reply, with the return date when it states one."""

    at: datetime
    return_date: date | None = None


@dataclass(frozen=True)
class Bounced:
    """A message we sent bounced; `hard` is a permanent failure."""

    at: datetime
    hard: bool


@dataclass(frozen=True)
class MeetingBooked:
    """A meeting with the contact is on the person's calendar."""

    at: datetime
    meeting: Meeting


@dataclass(frozen=True)
class MeetingMoved:
    """The booked meeting has new times."""

    at: datetime
    meeting: Meeting


@dataclass(frozen=True)
class MeetingCancelled:
    """The booked meeting was cancelled."""

    at: datetime
    uid: str


@dataclass(frozen=True)
class TimePassed:
    """A tick: time has reached `at`."""

    at: datetime


@dataclass(frozen=True)
class StopKeepingInTouch:
    """The person no longer wants keep-in-touch updates for this contact."""

    at: datetime


@dataclass(frozen=True)
class WorkingHoursChanged:
    """The person's time zone, workdays or send window changed: the planned drafts that
    keep to the send window move into the new one (never earlier than they were)."""

    at: datetime


Observation: TypeAlias = (
    Started
    | Restarted
    | DraftCreated
    | MessageSent
    | DraftDeleted
    | HumanReply
    | AutoReply
    | Bounced
    | MeetingBooked
    | MeetingMoved
    | MeetingCancelled
    | TimePassed
    | StopKeepingInTouch
    | WorkingHoursChanged
)


# -------------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class PlanStep:
    """Insert a step (key: account, contact, kind, seq) due at `due_at`."""

    kind: StepKind
    seq: int
    due_at: datetime
    deadline: datetime | None
    in_thread: bool


@dataclass(frozen=True)
class CancelStep:
    """The planned step is no longer wanted."""

    kind: StepKind
    seq: int


@dataclass(frozen=True)
class RescheduleStep:
    """The planned step is now due at `due_at`."""

    kind: StepKind
    seq: int
    due_at: datetime


@dataclass(frozen=True)
class PutPrepNotes:
    """Put (or move) the prep notes for this meeting on the calendar."""

    meeting: Meeting


@dataclass(frozen=True)
class RemovePrepNotes:
    """Remove the prep notes of the meeting with this uid."""

    uid: str


@dataclass(frozen=True)
class SuppressAddress:
    """Never plan anything to the contact's address again, in any outreach."""

    reason: str


@dataclass(frozen=True)
class FlagContact:
    """The contact needs the person's attention (for example another address)."""

    reason: str


@dataclass(frozen=True)
class CreateReferral:
    """A new contact referred by this one."""

    name: str
    email: str


Command: TypeAlias = (
    PlanStep
    | CancelStep
    | RescheduleStep
    | PutPrepNotes
    | RemovePrepNotes
    | SuppressAddress
    | FlagContact
    | CreateReferral
)


@dataclass(frozen=True)
class Decision:
    """The new state and the commands to carry out, in order."""

    outreach: Outreach
    commands: tuple[Command, ...] = ()


# ---------------------------------------------------------------------------------- advance


def advance(
    outreach: Outreach, observation: Observation, now: datetime, policy: Policy
) -> Decision:
    """Apply one observation; see the module docstring for the rules.

    Raises ValueError only for naive datetimes (a programming error, not bad input).
    """
    _require_aware(now, "now")
    _require_aware(observation.at, "observation.at")
    change = _Change(outreach, policy)
    match observation:
        case Started():
            _on_started(change, observation, now)
        case Restarted():
            _on_restarted(change, observation, now)
        case DraftCreated():
            _on_draft_created(change, observation)
        case MessageSent():
            _on_message_sent(change, observation)
        case DraftDeleted():
            _on_draft_deleted(change, observation)
        case HumanReply():
            _on_human_reply(change, observation, now)
        case AutoReply():
            _on_auto_reply(change, observation)
        case Bounced():
            _on_bounced(change, observation)
        case MeetingBooked():
            _on_meeting_booked(change, observation)
        case MeetingMoved():
            _on_meeting_moved(change, observation)
        case MeetingCancelled():
            _on_meeting_cancelled(change, observation)
        case TimePassed():
            _on_time_passed(change, observation)
        case StopKeepingInTouch():
            _on_stop_keeping_in_touch(change)
        case WorkingHoursChanged():
            _on_working_hours_changed(change, now)
        case _:  # pragma: no cover - the type checker proves no observation is left out
            assert_never(observation)
    return change.decision()


def _require_aware(at: datetime, name: str) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {at.isoformat()}")


class _Change:
    """The outreach being changed and the commands so far, for one `advance` call."""

    def __init__(self, outreach: Outreach, policy: Policy) -> None:
        self.original = outreach
        self.o = outreach
        self.policy = policy
        self.commands: list[Command] = []

    def decision(self) -> Decision:
        if self.o == self.original and not self.commands:
            return Decision(self.original, ())
        return Decision(self.o, tuple(self.commands))

    def set(self, **changes: Any) -> None:
        self.o = replace(self.o, **changes)

    @property
    def base_stage(self) -> Stage:
        """The stage underneath an out-of-office pause."""
        if self.o.stage == Stage.PAUSED_OOO and self.o.resume_stage is not None:
            return self.o.resume_stage
        return self.o.stage

    def set_base_stage(self, stage: Stage) -> None:
        """Change the stage, or the stage to resume when paused."""
        if self.o.stage == Stage.PAUSED_OOO:
            self.set(resume_stage=stage)
        else:
            self.set(stage=stage)

    def end_pause(self, stage: Stage) -> None:
        self.set(stage=stage, paused_until=None, resume_stage=None)

    def plan(self, kind: StepKind, due_at: datetime, deadline: datetime | None = None) -> None:
        if self.o.stage in TERMINAL_STAGES:
            return
        seq = self.o.next_seq.get(kind.value, 1)
        due_at = due_at.astimezone(UTC)
        deadline = None if deadline is None else deadline.astimezone(UTC)
        self.set(
            planned=(*self.o.planned, PlannedStep(kind, seq, due_at, deadline)),
            next_seq={**self.o.next_seq, kind.value: seq + 1},
        )
        self.commands.append(PlanStep(kind, seq, due_at, deadline, IN_THREAD[kind]))

    def cancel(self, *kinds: StepKind) -> None:
        """Cancel the planned steps of these kinds, or all of them when none is named."""
        keep: list[PlannedStep] = []
        for step in self.o.planned:
            if not kinds or step.kind in kinds:
                self.commands.append(CancelStep(step.kind, step.seq))
            else:
                keep.append(step)
        self.set(planned=tuple(keep))

    def finish(self, done: PlannedStep) -> None:
        """The step is over (sent or deleted): forget it, no command needed."""
        self.set(planned=tuple(step for step in self.o.planned if step != done))

    def awaiting_stage(self) -> Stage:
        return Stage.SENT if self.o.nudges_sent == 0 else Stage.NUDGED

    def resume_moment(self, paused_until: date) -> datetime:
        """First send-window moment on or after the day after the return date."""
        day_after = start_of_local_day(paused_until + timedelta(days=1), self.policy.zone)
        return next_send_moment(day_after, self.policy)

    def nudge_due(self, sent_at: datetime) -> datetime:
        policy = self.policy
        due = next_send_moment(
            add_business_days(
                sent_at, policy.nudge_after_business_days, policy.zone, policy.workdays
            ),
            policy,
        )
        if self.o.stage == Stage.PAUSED_OOO and self.o.paused_until is not None:
            return max(due, self.resume_moment(self.o.paused_until))
        return due

    def plan_next_nudge(self, sent_at: datetime) -> None:
        o = self.o
        if (
            not o.nudges_stopped
            and o.nudges_sent < self.policy.max_nudges
            and not o.pending(StepKind.NUDGE)
            and not o.pending(StepKind.RESEND)
            and self.base_stage in _AWAITING
        ):
            self.plan(StepKind.NUDGE, self.nudge_due(sent_at))

    def plan_keep_in_touch(self, after: datetime) -> None:
        if self.o.keep_in_touch and not self.o.pending(StepKind.KEEP_IN_TOUCH):
            due = after + timedelta(days=self.policy.keep_in_touch_days)
            self.plan(StepKind.KEEP_IN_TOUCH, next_send_moment(due, self.policy))

    def stop_nudges(self) -> None:
        self.set(nudges_stopped=True)
        self.cancel(StepKind.NUDGE, StepKind.RESEND)
        if self.base_stage == Stage.NUDGE_DRAFTED:
            self.set_base_stage(self.awaiting_stage())


def _first_draft_due(change: _Change, now: datetime, not_before: datetime | None) -> datetime:
    due = next_send_moment(now, change.policy)
    return max(due, not_before) if not_before is not None else due


def _on_started(change: _Change, obs: Started, now: datetime) -> None:
    o = change.o
    if o.stage != Stage.PLANNED or StepKind.FIRST_OUTREACH.value in o.next_seq:
        return
    change.plan(StepKind.FIRST_OUTREACH, _first_draft_due(change, now, obs.not_before))


def _on_restarted(change: _Change, obs: Restarted, now: datetime) -> None:
    o = change.o
    if o.stage not in RESTARTABLE_STAGES:
        return  # going on, or an end that must stay (an opt-out, a bounce): nothing to do
    change.o = replace(new_outreach(now, referral=o.referral), next_seq=o.next_seq)
    change.plan(StepKind.FIRST_OUTREACH, _first_draft_due(change, now, obs.not_before))


def _on_draft_created(change: _Change, obs: DraftCreated) -> None:
    step = change.o.find(obs.kind, obs.seq)
    if step is None or step.drafted:
        return
    change.set(
        planned=tuple(replace(s, drafted=True) if s == step else s for s in change.o.planned)
    )
    if obs.kind == StepKind.FIRST_OUTREACH and change.o.stage == Stage.PLANNED:
        change.set(stage=Stage.OUTREACH_DRAFTED)
    elif obs.kind == StepKind.NUDGE and change.base_stage in (Stage.SENT, Stage.NUDGED):
        change.set_base_stage(Stage.NUDGE_DRAFTED)


def _on_message_sent(change: _Change, obs: MessageSent) -> None:
    step = change.o.find(obs.kind, obs.seq)
    if step is not None:
        change.finish(step)
    elif not _revive(change, obs):
        return
    match obs.kind:
        case StepKind.FIRST_OUTREACH:
            change.set(stage=Stage.SENT, last_outbound_at=obs.at)
            change.plan_next_nudge(obs.at)
            if change.o.referral:
                change.plan(StepKind.REFERRER_NOTE, next_send_moment(obs.at, change.policy))
        case StepKind.RESEND:
            change.set(last_outbound_at=obs.at)
            change.plan_next_nudge(obs.at)
        case StepKind.NUDGE:
            change.set(nudges_sent=change.o.nudges_sent + 1, last_outbound_at=obs.at)
            if change.base_stage in _AWAITING:
                change.set_base_stage(Stage.NUDGED)
            change.plan_next_nudge(obs.at)
        case StepKind.SCHEDULING_REPLY:
            if change.base_stage == Stage.REPLIED:
                change.set_base_stage(Stage.SCHEDULING)
        case StepKind.THANK_YOU:
            if change.o.stage == Stage.MET:
                change.set(stage=Stage.THANKED)
            change.plan_keep_in_touch(obs.at)
        case StepKind.KEEP_IN_TOUCH:
            if change.o.stage in (Stage.MET, Stage.THANKED):
                change.set(stage=Stage.KEEPING_IN_TOUCH)
            change.plan_keep_in_touch(obs.at)
        case StepKind.THANKS_ANYWAY:
            if change.o.stage == Stage.DECLINED:
                change.set(stage=Stage.CLOSED)
        case StepKind.REFERRER_NOTE:
            pass


def _revive(change: _Change, obs: MessageSent) -> bool:
    """A step recorded as deleted whose mail was sent after all: forget the deletion and
    undo what it stopped, so that the caller carries on as for any sent step. False when
    the step was never deleted, or a first outreach was started again since."""
    entry = (obs.kind.value, obs.seq)
    if entry not in change.o.deleted:
        return False
    if obs.kind == StepKind.FIRST_OUTREACH and change.o.stage != Stage.SKIPPED:
        return False  # started again meanwhile: that outreach goes on as planned
    change.set(deleted=tuple(d for d in change.o.deleted if d != entry))
    if obs.kind == StepKind.NUDGE and change.o.last_human_reply_at is None:
        change.set(nudges_stopped=False)  # stopped by the deletion only, not by a reply
        if change.o.stage == Stage.GONE_QUIET:  # quiet only because nudging had stopped
            change.set(stage=change.awaiting_stage())
    return True


def _on_draft_deleted(change: _Change, obs: DraftDeleted) -> None:
    step = change.o.find(obs.kind, obs.seq)
    if step is None:
        return
    change.finish(step)
    change.set(deleted=(*change.o.deleted, (obs.kind.value, obs.seq)))
    match obs.kind:
        case StepKind.FIRST_OUTREACH:
            change.cancel()
            change.end_pause(Stage.SKIPPED)
        case StepKind.NUDGE:
            change.set(nudges_stopped=True)
            if change.base_stage == Stage.NUDGE_DRAFTED:
                change.set_base_stage(change.awaiting_stage())
        case StepKind.THANKS_ANYWAY:
            if change.o.stage == Stage.DECLINED:
                change.set(stage=Stage.CLOSED)
        case _:
            pass


def _on_human_reply(change: _Change, obs: HumanReply, now: datetime) -> None:
    o = change.o
    if o.stage in (Stage.OPTED_OUT, Stage.BOUNCED):
        return
    is_new = o.last_human_reply_at is None or obs.at > o.last_human_reply_at
    if is_new:
        change.set(last_human_reply_at=obs.at)
        taken = obs.referrals[:MAX_INTRODUCTIONS_PER_MESSAGE]
        change.commands.extend(CreateReferral(name, email) for name, email in taken)
        rest = obs.referrals[MAX_INTRODUCTIONS_PER_MESSAGE:]
        if rest:  # too many for an introduction: the person says which ones
            kept = (o.introductions_to_confirm + rest)[:_MAX_KEPT_TO_CONFIRM]
            change.set(introductions_to_confirm=kept)
    if obs.intent == "opt_out":
        # Applied whatever its time: a late opt-out is still an opt-out.
        change.cancel()
        if o.stage == Stage.BOOKED and o.meeting is not None:
            change.commands.append(RemovePrepNotes(o.meeting.uid))
        change.set(nudges_stopped=True, keep_in_touch=False)
        change.end_pause(Stage.OPTED_OUT)
        change.commands.append(SuppressAddress("opt_out"))
        return
    if not is_new or o.stage in TERMINAL_STAGES:
        return
    change.stop_nudges()
    if obs.intent == "decline":
        if o.stage in _DECLINABLE:
            _decline(change, now)
        return
    # positive or neutral (anything else is read as neutral)
    if o.stage in _BOOKABLE:
        change.end_pause(Stage.REPLIED)
        if obs.intent == "positive" and not change.o.pending(StepKind.SCHEDULING_REPLY):
            change.plan(StepKind.SCHEDULING_REPLY, now)


def _decline(change: _Change, now: datetime) -> None:
    o = change.o
    change.cancel()
    if o.stage == Stage.BOOKED and o.meeting is not None:
        change.commands.append(RemovePrepNotes(o.meeting.uid))
        change.set(meeting=None)
    if change.policy.thanks_anyway_on_decline:
        change.end_pause(Stage.DECLINED)
        change.plan(StepKind.THANKS_ANYWAY, next_send_moment(now, change.policy))
    else:
        change.end_pause(Stage.CLOSED)


def _on_auto_reply(change: _Change, obs: AutoReply) -> None:
    o = change.o
    if o.stage not in _PAUSABLE and o.stage != Stage.PAUSED_OOO:
        return
    policy = change.policy
    until = obs.return_date or local_date(obs.at, policy.zone) + timedelta(
        days=policy.ooo_default_days
    )
    if o.stage != Stage.PAUSED_OOO:
        change.set(stage=Stage.PAUSED_OOO, resume_stage=o.stage)
    change.set(paused_until=until)
    resume = change.resume_moment(until)
    for step in change.o.pending(StepKind.NUDGE):
        if step.due_at < resume:
            moved = replace(step, due_at=resume)
            change.set(planned=tuple(moved if s == step else s for s in change.o.planned))
            change.commands.append(RescheduleStep(step.kind, step.seq, resume))


def _on_bounced(change: _Change, obs: Bounced) -> None:
    o = change.o
    if o.stage in TERMINAL_STAGES or o.stage in _NOTHING_SENT:
        return
    if obs.hard or (o.resend_used and obs.at != o.soft_bounced_at):
        change.cancel()
        change.set(nudges_stopped=True)
        change.end_pause(Stage.BOUNCED)
        change.commands.append(FlagContact("hard_bounce"))
        change.commands.append(SuppressAddress("hard_bounce"))
        return
    if o.resend_used or o.stage == Stage.DECLINED:
        return  # the same soft bounce again, or a thanks-anyway: not worth a resend
    change.cancel(StepKind.NUDGE)
    if change.base_stage == Stage.NUDGE_DRAFTED:
        change.set_base_stage(change.awaiting_stage())
    change.set(resend_used=True, soft_bounced_at=obs.at)
    due = obs.at + timedelta(days=change.policy.soft_bounce_retry_days)
    change.plan(StepKind.RESEND, next_send_moment(due, change.policy))


def _on_meeting_booked(change: _Change, obs: MeetingBooked) -> None:
    o = change.o
    meeting = obs.meeting
    if meeting.uid in o.meetings_held:
        return
    if o.stage == Stage.BOOKED and o.meeting is not None and o.meeting.uid == meeting.uid:
        _on_meeting_moved(change, MeetingMoved(obs.at, meeting))
        return
    if o.stage not in _BOOKABLE:
        return
    change.stop_nudges()
    # Booked: an answer about scheduling still waiting (planned, or drafted and not sent)
    # is moot; a drafted one is taken back from Drafts like a moot nudge.
    change.cancel(StepKind.SCHEDULING_REPLY)
    change.end_pause(Stage.BOOKED)
    change.set(meeting=meeting)
    change.commands.append(PutPrepNotes(meeting))


def _on_meeting_moved(change: _Change, obs: MeetingMoved) -> None:
    o = change.o
    if o.stage != Stage.BOOKED or o.meeting is None or o.meeting.uid != obs.meeting.uid:
        return
    if o.meeting == obs.meeting:
        return
    change.set(meeting=obs.meeting)
    change.commands.append(PutPrepNotes(obs.meeting))


def _on_meeting_cancelled(change: _Change, obs: MeetingCancelled) -> None:
    o = change.o
    if o.stage != Stage.BOOKED or o.meeting is None or o.meeting.uid != obs.uid:
        return
    change.set(meeting=None, stage=Stage.SCHEDULING)
    change.commands.append(RemovePrepNotes(obs.uid))


def _on_time_passed(change: _Change, obs: TimePassed) -> None:
    # Apply rules until none applies, so that a repeated tick changes nothing. Each rule
    # leaves its stage, so there are never more rounds than stages; the bound is a guard.
    for _ in range(len(Stage)):
        if not _tick_once(change, obs.at):
            return


def _tick_once(change: _Change, at: datetime) -> bool:
    o = change.o
    policy = change.policy
    if o.stage == Stage.BOOKED and o.meeting is not None and at >= o.meeting.end:
        meeting = o.meeting
        change.set(stage=Stage.MET, meetings_held=(*o.meetings_held, meeting.uid))
        change.plan(
            StepKind.THANK_YOU,
            meeting.end,
            deadline=meeting.end + timedelta(hours=policy.thank_you_within_hours),
        )
        return True
    if o.stage == Stage.PAUSED_OOO and o.paused_until is not None:
        if local_date(at, policy.zone) >= o.paused_until:
            change.end_pause(o.resume_stage or change.awaiting_stage())
            return True
        return False
    if (
        o.stage in (Stage.SENT, Stage.NUDGED)
        and o.last_outbound_at is not None
        and not o.pending(StepKind.NUDGE)
        and not o.pending(StepKind.RESEND)
        and (o.nudges_stopped or o.nudges_sent >= policy.max_nudges)
        and at
        >= add_business_days(
            o.last_outbound_at, policy.nudge_after_business_days, policy.zone, policy.workdays
        )
    ):
        change.set(stage=Stage.GONE_QUIET)
        return True
    return False


def _on_stop_keeping_in_touch(change: _Change) -> None:
    if change.o.stage in TERMINAL_STAGES or not change.o.keep_in_touch:
        return
    change.set(keep_in_touch=False)
    change.cancel(StepKind.KEEP_IN_TOUCH)


_OFF_WINDOW = frozenset({StepKind.SCHEDULING_REPLY, StepKind.THANK_YOU})
"""Steps not bound to the send window: the scheduling reply is due at once, the thank-you
when the meeting ends."""


def _on_working_hours_changed(change: _Change, now: datetime) -> None:
    for step in change.o.planned:
        if step.drafted or step.kind in _OFF_WINDOW:
            continue  # made already, or not bound to the send window
        base = max(step.due_at, now)  # one due already waits for the window too
        due = next_send_moment(base, change.policy)
        if due != base:
            moved = replace(step, due_at=due)
            change.set(planned=tuple(moved if s == step else s for s in change.o.planned))
            change.commands.append(RescheduleStep(step.kind, step.seq, due))
