"""What the lifecycle is told (observations) and what it asks for (commands), and the
decision that pairs the new state with the commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, TypeAlias

from pipeline.lifecycle.state import Meeting, Outreach, StepKind

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
