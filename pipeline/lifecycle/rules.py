"""The rules: `advance(outreach, observation, now, policy)`, one handler per observation
(see the package docstring for what they decide)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, assert_never

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
from pipeline.lifecycle.state import (
    IN_THREAD,
    RESTARTABLE_STAGES,
    TERMINAL_STAGES,
    Outreach,
    PlannedStep,
    Stage,
    StepKind,
    _require_aware,
    new_outreach,
)
from pipeline.timeplan import (
    add_business_days,
    local_date,
    next_send_moment,
    start_of_local_day,
)

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
