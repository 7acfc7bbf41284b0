"""Properties of the lifecycle over random observation sequences (Hypothesis).

A sequence is a list of abstract actions ("send the 2nd planned step", "a decline reply",
"an hour passes", ...) that `_Run` turns into observations against the current state, so
most observations are meaningful and some are out of order, repeated or about steps that
were never planned. After every observation `_Run.check` asserts the rules of DESIGN.md:

- every PlanStep key (kind, seq) is new across the whole sequence, and the steps the
  state lists as planned are exactly those planned and not yet finished or cancelled;
- at most one draft per step key: a DraftCreated for an already drafted step is a no-op;
- no nudge is planned, rescheduled or pending after any human reply;
- nothing is planned or rescheduled once the address opted out or hard-bounced, and an
  opted-out outreach answers every later observation with no command at all;
- at most max_nudges nudges (sent plus pending), and none due before
  nudge_after_business_days business days after the last message sent, nor before the
  day after the return date while paused out of office;
- exactly one thank-you per meeting held (the tick after its end), due at the end and by
  end + thank_you_within_hours, never a second one for the same meeting uid;
- applying the same observation twice changes nothing the second time;
- the state survives to_dict -> JSON -> from_dict unchanged.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.lifecycle import (
    AutoReply,
    Bounced,
    CancelStep,
    Decision,
    DraftCreated,
    DraftDeleted,
    FlagContact,
    HumanReply,
    Intent,
    Meeting,
    MeetingBooked,
    MeetingCancelled,
    MeetingMoved,
    MessageSent,
    Observation,
    Outreach,
    PlanStep,
    Policy,
    RescheduleStep,
    Stage,
    Started,
    StepKind,
    StopKeepingInTouch,
    SuppressAddress,
    TimePassed,
    advance,
    new_outreach,
)
from pipeline.timeplan import add_business_days, next_send_moment, start_of_local_day

# Sized so that the whole module runs in about 15 s.
PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Paris",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/Santiago",
]

policies = st.builds(
    Policy,
    nudge_after_business_days=st.integers(1, 6),
    max_nudges=st.integers(0, 3),
    ooo_default_days=st.integers(1, 10),
    soft_bounce_retry_days=st.integers(0, 3),
    thank_you_within_hours=st.integers(1, 48),
    keep_in_touch_days=st.integers(1, 120),
    thanks_anyway_on_decline=st.booleans(),
    timezone=st.sampled_from(ZONES),
    workdays=st.sampled_from([(0, 1, 2, 3, 4), (6, 0, 1, 2, 3), (0, 1, 2, 3, 4, 5, 6), (2,)]),
    send_window_start=st.sampled_from([time(0, 0), time(8, 30), time(10, 0)]),
    send_window_end=st.sampled_from([time(17, 0), time(23, 59)]),
)

starts = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)

minutes = st.one_of(st.integers(0, 120), st.integers(0, 60 * 24 * 8), st.integers(0, 60 * 24 * 120))
index = st.integers(0, 5)
uids = st.sampled_from(["m1", "m2", "m3"])
intents: st.SearchStrategy[Intent] = st.sampled_from(
    ["positive", "positive", "positive", "neutral", "neutral", "decline", "opt_out"]
)

# Actions are plain tuples: ("name", minutes_to_wait, *arguments). `_WEIGHTS` lists each
# name as often as it should come up: "progress" (the natural next event) most, steps that
# end the outreach (deleting a draft, a hard bounce, a decline or opt-out) less, so that
# most sequences get far into the lifecycle.
_ARGUMENTS: dict[str, st.SearchStrategy[tuple[Any, ...]]] = {
    "progress": st.tuples(st.booleans(), uids),
    "tick": st.tuples(),
    "send": st.tuples(index),
    "draft": st.tuples(index),
    "reply": st.tuples(intents, st.integers(0, 2), st.integers(0, 3)),
    "book": st.tuples(uids, st.integers(-48, 240), st.integers(15, 90)),
    "auto": st.tuples(st.one_of(st.none(), st.integers(-2, 20))),
    "bounce": st.tuples(st.sampled_from([False, False, True])),
    "move": st.tuples(st.booleans(), st.integers(-24, 48)),
    "cancel_meeting": st.tuples(st.booleans()),
    "delete": st.tuples(index, st.integers(0, 3)),
    "stray": st.tuples(st.sampled_from(list(StepKind)), st.integers(1, 4)),
    "started": st.tuples(),
    "stop_keeping_in_touch": st.tuples(),
    "replay": st.tuples(),
}
_WEIGHTS = {"progress": 8, "tick": 3, "send": 2, "reply": 3, "book": 2, "auto": 2}
_NAMES = [name for name in _ARGUMENTS for _ in range(_WEIGHTS.get(name, 1))]


_ACTIONS = {
    name: st.tuples(st.just(name), minutes, arguments).map(lambda a: (a[0], a[1], *a[2]))
    for name, arguments in _ARGUMENTS.items()
}
actions = st.sampled_from(_NAMES).flatmap(_ACTIONS.__getitem__)
sequences = st.lists(actions, min_size=5, max_size=40)


@dataclass
class _Run:
    """Plays actions against the lifecycle and checks every decision."""

    policy: Policy
    now: datetime
    outreach: Outreach
    planned_keys: set[tuple[StepKind, int]] = field(default_factory=set)
    drafts: Counter[tuple[StepKind, int]] = field(default_factory=Counter)
    thank_yous: Counter[str] = field(default_factory=Counter)
    human_replied: bool = False
    opted_out: bool = False
    hard_bounced: bool = False
    last: Observation | None = None

    # ------------------------------------------------------------------ observations

    def observation(self, action: tuple[Any, ...]) -> Observation | None:
        name, wait, *args = action
        self.now += timedelta(minutes=wait)
        now, o = self.now, self.outreach
        planned = o.planned

        def pick(i: int) -> tuple[StepKind, int] | None:
            if not planned:
                return None
            step = planned[i % len(planned)]
            return step.kind, step.seq

        match name:
            case "started":
                return Started(now)
            case "draft" | "send" | "delete":
                key = pick(args[0])
                if key is None or (
                    name == "delete" and key[0] == StepKind.FIRST_OUTREACH and args[1]
                ):
                    return TimePassed(now)
                kind, seq = key
                if name == "draft":
                    return DraftCreated(now, kind, seq)
                if name == "send":
                    return MessageSent(now, kind, seq)
                return DraftDeleted(now, kind, seq)
            case "stray":
                return MessageSent(now, args[0], args[1])
            case "reply":
                intent, referrals, lag_days = args
                people = tuple((f"P{i}", f"p{i}@example.org") for i in range(referrals))
                return HumanReply(now - timedelta(days=lag_days), intent, people)
            case "auto":
                offset = args[0]
                back = None if offset is None else now.date() + timedelta(days=offset)
                return AutoReply(now, back)
            case "bounce":
                return Bounced(now, hard=args[0])
            case "book":
                uid, start_hours, length = args
                start = now + timedelta(hours=start_hours)
                return MeetingBooked(now, Meeting(uid, start, start + timedelta(minutes=length)))
            case "move" | "cancel_meeting":
                current = o.meeting
                uid = current.uid if current is not None and args[0] else "m9"
                if name == "cancel_meeting":
                    return MeetingCancelled(now, uid)
                start = now + timedelta(hours=args[1])
                return MeetingMoved(now, Meeting(uid, start, start + timedelta(minutes=30)))
            case "progress":
                return self.progress(*args)
            case "stop_keeping_in_touch":
                return StopKeepingInTouch(now)
            case "replay":
                return self.last
            case _:
                return TimePassed(now)

    def progress(self, draft_first: bool, uid: str) -> Observation:
        """The natural next event: the person acts on a step, a meeting gets booked, held."""
        now, o = self.now, self.outreach
        if o.planned:
            step = min(o.planned, key=lambda s: s.due_at)
            if draft_first and not step.drafted:
                return DraftCreated(now, step.kind, step.seq)
            return MessageSent(max(now, step.due_at), step.kind, step.seq)
        if o.stage == Stage.BOOKED and o.meeting is not None:
            self.now = max(now, o.meeting.end + timedelta(minutes=1))
            return TimePassed(self.now)
        if o.stage in (Stage.SENT, Stage.NUDGED, Stage.REPLIED, Stage.SCHEDULING):
            start = now + timedelta(days=2)
            return MeetingBooked(now, Meeting(uid, start, start + timedelta(minutes=30)))
        return TimePassed(now)

    def play(self, action: tuple[Any, ...]) -> None:
        observation = self.observation(action)
        if observation is None:
            return
        before = self.outreach
        decision = advance(before, observation, self.now, self.policy)
        self.check(before, observation, decision)
        self.outreach = decision.outreach
        self.last = observation

    # ------------------------------------------------------------------------ checks

    def check(self, before: Outreach, obs: Observation, decision: Decision) -> None:
        after = decision.outreach
        plans = [c for c in decision.commands if isinstance(c, PlanStep)]
        self.check_idempotent(obs, decision)
        self.check_round_trip(after)
        self.check_steps(before, obs, decision)
        self.check_drafts(before, obs, after)
        if isinstance(obs, HumanReply):
            self.human_replied = True
        self.check_nudges(decision)
        self.check_terminal(before, decision, plans)
        self.check_thank_you(before, obs, after, plans)

    def check_idempotent(self, obs: Observation, decision: Decision) -> None:
        again = advance(decision.outreach, obs, self.now, self.policy)
        assert again == Decision(decision.outreach, ()), f"not idempotent: {obs}"

    def check_round_trip(self, after: Outreach) -> None:
        stored = json.loads(json.dumps(after.to_dict()))
        assert Outreach.from_dict(stored) == after

    def check_steps(self, before: Outreach, obs: Observation, decision: Decision) -> None:
        """Every plan is new; the state's planned steps follow from the commands."""
        keys = {(s.kind, s.seq) for s in before.planned}
        for command in decision.commands:
            match command:
                case PlanStep(kind=kind, seq=seq, due_at=due_at):
                    assert (kind, seq) not in self.planned_keys, f"planned twice: {command}"
                    assert due_at.tzinfo is not None
                    self.planned_keys.add((kind, seq))
                    keys.add((kind, seq))
                case CancelStep(kind=kind, seq=seq) | RescheduleStep(kind=kind, seq=seq):
                    assert (kind, seq) in keys, f"{command} of a step not planned"
                    if isinstance(command, CancelStep):
                        keys.discard((kind, seq))
        if isinstance(obs, MessageSent | DraftDeleted):
            keys.discard((obs.kind, obs.seq))
        after_keys = [(s.kind, s.seq) for s in decision.outreach.planned]
        assert len(after_keys) == len(set(after_keys))
        assert keys == set(after_keys)

    def check_drafts(self, before: Outreach, obs: Observation, after: Outreach) -> None:
        """At most one draft per step key: the sweep drafts only undrafted planned steps."""
        if not isinstance(obs, DraftCreated):
            return
        step = before.find(obs.kind, obs.seq)
        if step is not None and not step.drafted:
            self.drafts[(obs.kind, obs.seq)] += 1
            assert self.drafts[(obs.kind, obs.seq)] == 1
            now_step = after.find(obs.kind, obs.seq)
            assert now_step is not None and now_step.drafted
        else:
            assert before == after

    def check_nudges(self, decision: Decision) -> None:
        after, policy = decision.outreach, self.policy
        pending = after.pending(StepKind.NUDGE)
        assert after.nudges_sent + len(pending) <= policy.max_nudges
        assert len(pending) <= 1
        nudge_commands = [
            c
            for c in decision.commands
            if isinstance(c, PlanStep | RescheduleStep) and c.kind == StepKind.NUDGE
        ]
        paused = after.stage == Stage.PAUSED_OOO
        assert paused == (after.paused_until is not None) == (after.resume_stage is not None)
        if after.paused_until is not None:
            day_after = start_of_local_day(after.paused_until + timedelta(days=1), policy.zone)
            back = next_send_moment(day_after, policy)
            assert all(step.due_at >= back for step in pending), "nudge during the pause"
        if self.human_replied:
            assert not pending, "a nudge is pending after a human reply"
            assert not nudge_commands, "a nudge was planned after a human reply"
        for command in nudge_commands:
            assert after.last_outbound_at is not None
            earliest = add_business_days(
                after.last_outbound_at,
                policy.nudge_after_business_days,
                policy.zone,
                policy.workdays,
            )
            assert command.due_at >= earliest, f"nudge due too early: {command}"

    def check_terminal(self, before: Outreach, decision: Decision, plans: list[PlanStep]) -> None:
        after = decision.outreach
        if self.opted_out:
            assert decision == Decision(before, ()), "opted-out outreach acted"
        if self.opted_out or self.hard_bounced:
            assert not plans
            assert not any(isinstance(c, RescheduleStep) for c in decision.commands)
        if after.stage == Stage.OPTED_OUT and before.stage != Stage.OPTED_OUT:
            assert not plans and not after.planned
            assert SuppressAddress("opt_out") in decision.commands
            self.opted_out = True
        if after.stage == Stage.BOUNCED and before.stage != Stage.BOUNCED:
            assert not plans and not after.planned
            assert FlagContact("hard_bounce") in decision.commands
            assert SuppressAddress("hard_bounce") in decision.commands
            self.hard_bounced = True

    def check_thank_you(
        self, before: Outreach, obs: Observation, after: Outreach, plans: list[PlanStep]
    ) -> None:
        thanks = [p for p in plans if p.kind == StepKind.THANK_YOU]
        meeting = before.meeting
        held_now = (
            isinstance(obs, TimePassed)
            and before.stage == Stage.BOOKED
            and meeting is not None
            and obs.at >= meeting.end
        )
        if not held_now:
            assert not thanks
            assert after.meetings_held == before.meetings_held
            return
        assert meeting is not None
        assert len(thanks) == 1
        deadline = meeting.end + timedelta(hours=self.policy.thank_you_within_hours)
        assert thanks[0].due_at == meeting.end
        assert thanks[0].deadline == deadline
        self.thank_yous[meeting.uid] += 1
        assert self.thank_yous[meeting.uid] == 1, "a second thank-you for one meeting"
        assert after.meetings_held == (*before.meetings_held, meeting.uid)


def _play(policy: Policy, start: datetime, referral: bool, script: list[Any]) -> _Run:
    run = _Run(policy, start, new_outreach(start, referral=referral))
    run.play(("started", 0))
    for action in script:
        run.play(action)
    return run


@PROPERTY_SETTINGS
@given(policies, starts, st.booleans(), sequences)
def test_lifecycle_rules_hold_over_random_sequences(
    policy: Policy, start: datetime, referral: bool, script: list[Any]
) -> None:
    """Whatever happens, in any order, every rule in the module docstring holds."""
    _play(policy, start, referral, script)


# A path that reaches the meeting quickly: outreach sent, a yes, a meeting booked.
_TO_MEETING: list[Any] = [
    ("send", 0, 0),
    ("reply", 60, "positive", 0, 0),
    ("book", 60, "m1", 24, 30),
]


@PROPERTY_SETTINGS
@given(policies, starts, sequences)
def test_lifecycle_rules_hold_after_a_meeting_is_booked(
    policy: Policy, start: datetime, script: list[Any]
) -> None:
    """From a booked meeting on (thank-yous, keep in touch, moves), every rule holds."""
    run = _play(policy, start, False, [*_TO_MEETING, *script])
    if run.outreach.meetings_held:
        assert sum(run.thank_yous.values()) == len(set(run.outreach.meetings_held))


@settings(PROPERTY_SETTINGS, max_examples=100)
@given(policies, starts, sequences, sequences)
def test_opted_out_plans_nothing_ever(
    policy: Policy, start: datetime, prefix: list[Any], suffix: list[Any]
) -> None:
    """Once the contact opts out, no observation ever yields a command again."""
    run = _play(policy, start, True, [*prefix, ("reply", 1, "opt_out", 0, 0)])
    assert run.outreach.stage in (Stage.OPTED_OUT, Stage.BOUNCED)
    opted_out = run.outreach
    for action in suffix:
        run.play(action)
    if opted_out.stage == Stage.OPTED_OUT:
        assert run.outreach == opted_out


@settings(PROPERTY_SETTINGS, max_examples=100)
@given(policies, starts, st.integers(0, 4), st.lists(minutes, max_size=12))
def test_silence_ends_gone_quiet_after_max_nudges(
    policy: Policy, start: datetime, nudges_to_send: int, waits: list[int]
) -> None:
    """Without any reply, the person sending every nudge, the outreach goes quiet only after
    max_nudges nudges, and each nudge waited the business days."""
    run = _play(policy, start, False, [("send", 0, 0)])
    for _ in range(nudges_to_send + policy.max_nudges):
        run.play(("tick", 60 * 24 * 10))
        run.play(("send", 0, 0))
    for wait in waits:
        run.play(("tick", wait))
    run.play(("tick", 60 * 24 * 60))
    assert run.outreach.nudges_sent == policy.max_nudges
    assert run.outreach.stage == Stage.GONE_QUIET
