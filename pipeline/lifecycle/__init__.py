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

from typing import TYPE_CHECKING

from pipeline.lazy import attributes_loaded_when_used

if TYPE_CHECKING:
    from pipeline.lifecycle.messages import (
        AutoReply,
        Bounced,
        CancelStep,
        Command,
        CreateReferral,
        Decision,
        DraftCreated,
        DraftDeleted,
        FlagContact,
        HumanReply,
        Intent,
        MeetingBooked,
        MeetingCancelled,
        MeetingMoved,
        MessageSent,
        Observation,
        PlanStep,
        PutPrepNotes,
        RemovePrepNotes,
        RescheduleStep,
        Restarted,
        Started,
        StopKeepingInTouch,
        SuppressAddress,
        TimePassed,
        WorkingHoursChanged,
    )
    from pipeline.lifecycle.policy import Policy
    from pipeline.lifecycle.rules import MAX_INTRODUCTIONS_PER_MESSAGE, advance
    from pipeline.lifecycle.state import (
        IN_THREAD,
        RESTARTABLE_STAGES,
        TERMINAL_STAGES,
        Meeting,
        Outreach,
        PlannedStep,
        Stage,
        StepKind,
        new_outreach,
    )

# Each name loads its module when first used, so that what needs only the Policy (opening
# a workspace for `outreach status`) does not pay for the rules and the messages.
_HOMES = {
    "AutoReply": "messages",
    "Bounced": "messages",
    "CancelStep": "messages",
    "Command": "messages",
    "CreateReferral": "messages",
    "Decision": "messages",
    "DraftCreated": "messages",
    "DraftDeleted": "messages",
    "FlagContact": "messages",
    "HumanReply": "messages",
    "Intent": "messages",
    "MeetingBooked": "messages",
    "MeetingCancelled": "messages",
    "MeetingMoved": "messages",
    "MessageSent": "messages",
    "Observation": "messages",
    "PlanStep": "messages",
    "PutPrepNotes": "messages",
    "RemovePrepNotes": "messages",
    "RescheduleStep": "messages",
    "Restarted": "messages",
    "Started": "messages",
    "StopKeepingInTouch": "messages",
    "SuppressAddress": "messages",
    "TimePassed": "messages",
    "WorkingHoursChanged": "messages",
    "Policy": "policy",
    "MAX_INTRODUCTIONS_PER_MESSAGE": "rules",
    "advance": "rules",
    "IN_THREAD": "state",
    "RESTARTABLE_STAGES": "state",
    "TERMINAL_STAGES": "state",
    "Meeting": "state",
    "Outreach": "state",
    "PlannedStep": "state",
    "Stage": "state",
    "StepKind": "state",
    "new_outreach": "state",
}


__getattr__ = attributes_loaded_when_used(__name__, _HOMES)


__all__ = [
    "IN_THREAD",
    "MAX_INTRODUCTIONS_PER_MESSAGE",
    "RESTARTABLE_STAGES",
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
