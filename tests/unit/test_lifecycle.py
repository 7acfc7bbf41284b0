"""The lifecycle rules of DESIGN.md, one test per rule (pipeline.lifecycle)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from pipeline.lifecycle import (
    AutoReply,
    Bounced,
    CancelStep,
    CreateReferral,
    Decision,
    DraftCreated,
    DraftDeleted,
    FlagContact,
    HumanReply,
    Meeting,
    MeetingBooked,
    MeetingCancelled,
    MeetingMoved,
    MessageSent,
    Observation,
    Outreach,
    PlannedStep,
    PlanStep,
    Policy,
    PutPrepNotes,
    RemovePrepNotes,
    RescheduleStep,
    Restarted,
    Stage,
    Started,
    StepKind,
    StopKeepingInTouch,
    SuppressAddress,
    TimePassed,
    WorkingHoursChanged,
    advance,
    new_outreach,
)

POLICY = Policy()  # UTC, Monday-Friday, 08:30-17:00, nudge after 5 business days, 2 nudges
WED = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a Wednesday inside the send window
K = StepKind


def at(days: float = 0, hours: float = 0) -> datetime:
    return WED + timedelta(days=days, hours=hours)


def run(
    outreach: Outreach, *observations: Observation, policy: Policy = POLICY
) -> tuple[Outreach, list[Decision]]:
    """Apply observations in order, each with now = its own time."""
    decisions = []
    for observation in observations:
        decision = advance(outreach, observation, observation.at, policy)
        decisions.append(decision)
        outreach = decision.outreach
    return outreach, decisions


def sent(referral: bool = False, policy: Policy = POLICY) -> Outreach:
    """An outreach whose first outreach was sent on Wednesday at 10:00."""
    outreach, _ = run(
        new_outreach(WED, referral=referral),
        Started(WED),
        DraftCreated(WED, K.FIRST_OUTREACH, 1),
        MessageSent(WED, K.FIRST_OUTREACH, 1),
        policy=policy,
    )
    return outreach


def nudged_twice() -> Outreach:
    """Both nudges were sent, the second one on Wednesday a fortnight after the outreach."""
    outreach, _ = run(
        sent(),
        MessageSent(at(7), K.NUDGE, 1),
        MessageSent(at(14), K.NUDGE, 2),
    )
    return outreach


def booked(meeting: Meeting) -> Outreach:
    outreach, _ = run(sent(), MeetingBooked(at(1), meeting))
    return outreach


MEETING = Meeting("uid-1", at(2, 4), at(2, 4.5))  # Friday 14:00-14:30


def commands(decision: Decision) -> list[Any]:
    return list(decision.commands)


# --------------------------------------------------------------------------- starting out


def test_new_outreach_is_planned_with_nothing_planned() -> None:
    """Given nothing, when an outreach is created, then it is `planned` with no steps."""
    outreach = new_outreach(WED)
    assert (outreach.stage, outreach.planned, outreach.started_at) == (Stage.PLANNED, (), WED)


def test_started_plans_the_first_outreach_at_the_next_send_moment() -> None:
    """Given a new outreach on Saturday, when started, then the first outreach is due Monday
    08:30."""
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    monday = datetime(2026, 11, 30, 8, 30, tzinfo=UTC)
    decision = advance(new_outreach(saturday), Started(saturday), saturday, POLICY)
    assert [PlanStep(K.FIRST_OUTREACH, 1, monday, None, False)] == commands(decision)
    assert (PlannedStep(K.FIRST_OUTREACH, 1, monday),) == decision.outreach.planned


def test_started_twice_plans_once() -> None:
    """Given a started outreach, when Started is observed again, then nothing changes."""
    outreach, _ = run(new_outreach(WED), Started(WED))
    assert Decision(outreach, ()) == advance(outreach, Started(at(1)), at(1), POLICY)


def test_draft_created_marks_the_step_drafted_and_the_stage() -> None:
    """Given a planned first outreach, when its draft exists, then `outreach_drafted`."""
    outreach, (_, decision) = run(
        new_outreach(WED), Started(WED), DraftCreated(WED, K.FIRST_OUTREACH, 1)
    )
    assert outreach.stage == Stage.OUTREACH_DRAFTED
    assert (PlannedStep(K.FIRST_OUTREACH, 1, WED, drafted=True),) == outreach.planned
    assert commands(decision) == []


def test_draft_for_a_step_never_planned_is_ignored() -> None:
    """Given a started outreach, when a draft appears for an unplanned key, then no change."""
    outreach, _ = run(new_outreach(WED), Started(WED))
    assert Decision(outreach, ()) == advance(outreach, DraftCreated(WED, K.NUDGE, 7), WED, POLICY)


def test_deleting_the_first_outreach_draft_skips_the_outreach() -> None:
    """Given a drafted first outreach, when the person deletes it, then `skipped`."""
    outreach, _ = run(
        new_outreach(WED),
        Started(WED),
        DraftCreated(WED, K.FIRST_OUTREACH, 1),
        DraftDeleted(at(hours=1), K.FIRST_OUTREACH, 1),
    )
    assert (outreach.stage, outreach.planned) == (Stage.SKIPPED, ())


def test_a_deleted_first_outreach_sent_after_all_is_revived() -> None:
    """Given a first outreach whose draft was deleted (`skipped`), when its mail turns out
    to have been sent, then `sent` with a nudge planned, as for any sent first outreach."""
    outreach, decisions = run(
        new_outreach(WED),
        Started(WED),
        DraftCreated(WED, K.FIRST_OUTREACH, 1),
        DraftDeleted(at(hours=1), K.FIRST_OUTREACH, 1),
        MessageSent(at(hours=2), K.FIRST_OUTREACH, 1),
    )
    assert outreach.stage == Stage.SENT
    assert [PlanStep(K.NUDGE, 1, at(7, 2), None, True)] == commands(decisions[-1])
    assert outreach.deleted == ()


def test_a_sent_step_that_was_never_deleted_or_planned_changes_nothing() -> None:
    outreach, _ = run(new_outreach(WED), Started(WED))
    assert Decision(outreach, ()) == advance(
        outreach, MessageSent(at(1), K.NUDGE, 1), at(1), POLICY
    )


def test_an_ended_outreach_restarts_with_a_new_first_draft_numbered_on() -> None:
    """Given a skipped outreach, when restarted, then `planned` with first outreach #2."""
    skipped, _ = run(
        new_outreach(WED),
        Started(WED),
        DraftCreated(WED, K.FIRST_OUTREACH, 1),
        DraftDeleted(at(hours=1), K.FIRST_OUTREACH, 1),
    )
    restarted, decisions = run(skipped, Restarted(at(1)))
    assert restarted.stage == Stage.PLANNED
    assert [PlanStep(K.FIRST_OUTREACH, 2, at(1), None, False)] == commands(decisions[-1])
    old_mail = MessageSent(at(1, 1), K.FIRST_OUTREACH, 1)  # the old draft, sent late
    assert advance(restarted, old_mail, at(1, 1), POLICY).outreach.stage == Stage.PLANNED


def test_an_opt_out_is_never_restarted() -> None:
    opted_out, _ = run(sent(), HumanReply(at(2), "opt_out"))
    assert Decision(opted_out, ()) == advance(opted_out, Restarted(at(3)), at(3), POLICY)


# ---------------------------------------------------------------------------------- nudges


def test_first_outreach_sent_plans_a_nudge_five_business_days_later_in_thread() -> None:
    """Given Wednesday's outreach draft, when sent, then `sent` and a nudge due next Wednesday."""
    outreach, decisions = run(
        new_outreach(WED), Started(WED), MessageSent(WED, K.FIRST_OUTREACH, 1)
    )
    assert [PlanStep(K.NUDGE, 1, at(7), None, True)] == commands(decisions[-1])
    assert (outreach.stage, outreach.last_outbound_at) == (Stage.SENT, WED)


def test_nudge_due_after_business_days_in_the_persons_time_zone() -> None:
    """Given a person in Tokyo who sends on Friday 23:00Z (Saturday there), then the nudge is
    due on the Friday after."""
    tokyo = Policy(timezone="Asia/Tokyo", send_window_start=time(0, 0), send_window_end=time(23))
    friday_utc = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)  # Saturday 08:00 in Tokyo
    _, decisions = run(
        new_outreach(friday_utc),
        Started(friday_utc),
        MessageSent(friday_utc, K.FIRST_OUTREACH, 1),
        policy=tokyo,
    )
    # 5 business days from Saturday in Tokyo: Friday 4 December, 08:00 JST.
    nudge_due = datetime(2026, 12, 3, 23, 0, tzinfo=UTC)
    assert [PlanStep(K.NUDGE, 1, nudge_due, None, True)] == commands(decisions[-1])


def test_nudge_drafted_then_sent_plans_the_next_nudge() -> None:
    """Given a sent outreach, when nudge 1 is drafted and sent, then `nudged`, nudge 2 planned."""
    outreach, (drafted, sent_nudge) = run(
        sent(), DraftCreated(at(7), K.NUDGE, 1), MessageSent(at(7, 1), K.NUDGE, 1)
    )
    assert drafted.outreach.stage == Stage.NUDGE_DRAFTED
    assert [PlanStep(K.NUDGE, 2, at(14, 1), None, True)] == commands(sent_nudge)
    assert (outreach.stage, outreach.nudges_sent) == (Stage.NUDGED, 1)


def test_no_nudge_beyond_max_nudges() -> None:
    """Given max_nudges = 2, when the second nudge is sent, then no third nudge is planned."""
    outreach = nudged_twice()
    assert (outreach.stage, outreach.nudges_sent, outreach.planned) == (Stage.NUDGED, 2, ())


def test_deleted_nudge_draft_stops_nudges() -> None:
    """Given a drafted nudge, when the person deletes it, then back to `sent`, no more nudges."""
    outreach, decisions = run(
        sent(), DraftCreated(at(7), K.NUDGE, 1), DraftDeleted(at(7, 1), K.NUDGE, 1)
    )
    assert (outreach.stage, outreach.planned, outreach.nudges_stopped) == (Stage.SENT, (), True)
    assert commands(decisions[-1]) == []


def test_gone_quiet_after_last_nudge_and_business_days_without_reply() -> None:
    """Given both nudges sent, when 5 business days pass without reply, then `gone_quiet`."""
    outreach = nudged_twice()
    just_before = advance(outreach, TimePassed(at(20, 23)), at(20, 23), POLICY)
    on_time = advance(outreach, TimePassed(at(21)), at(21), POLICY)
    assert Decision(outreach, ()) == just_before
    assert on_time.outreach.stage == Stage.GONE_QUIET


def test_gone_quiet_outreach_still_accepts_a_late_reply() -> None:
    """Given a quiet outreach, when a positive reply comes, then `replied`."""
    quiet, _ = run(nudged_twice(), TimePassed(at(21)))
    outreach, _ = run(quiet, HumanReply(at(30), "positive"))
    assert outreach.stage == Stage.REPLIED


# --------------------------------------------------------------------------------- replies


def test_positive_reply_cancels_nudges_and_plans_a_scheduling_reply_now() -> None:
    """Given a pending nudge, when a positive reply arrives, then the nudge is cancelled and a
    scheduling reply is due now, in the thread."""
    outreach, (decision,) = run(sent(), HumanReply(at(2), "positive"))
    expected = [CancelStep(K.NUDGE, 1), PlanStep(K.SCHEDULING_REPLY, 1, at(2), None, True)]
    assert expected == commands(decision)
    assert (outreach.stage, outreach.nudges_stopped) == (Stage.REPLIED, True)


def test_neutral_reply_stops_nudges_and_waits_for_the_person() -> None:
    """Given a pending nudge, when a neutral reply arrives, then `replied` and nothing planned."""
    outreach, (decision,) = run(sent(), HumanReply(at(2), "neutral"))
    assert [CancelStep(K.NUDGE, 1)] == commands(decision)
    assert (outreach.stage, outreach.planned) == (Stage.REPLIED, ())


def test_scheduling_reply_sent_moves_to_scheduling() -> None:
    """Given a positive reply, when the scheduling reply is sent, then `scheduling`."""
    outreach, _ = run(
        sent(), HumanReply(at(2), "positive"), MessageSent(at(2, 1), K.SCHEDULING_REPLY, 1)
    )
    assert (outreach.stage, outreach.planned) == (Stage.SCHEDULING, ())


def test_the_same_reply_twice_is_a_no_op() -> None:
    """Given a positive reply applied, when it is observed again, then nothing changes."""
    outreach, _ = run(sent(), HumanReply(at(2), "positive", (("Ann", "ann@example.org"),)))
    replay = HumanReply(at(2), "positive", (("Ann", "ann@example.org"),))
    assert Decision(outreach, ()) == advance(outreach, replay, at(3), POLICY)


def test_referrals_in_a_reply_create_one_referral_each() -> None:
    """Given a reply introducing two people, then one CreateReferral per person."""
    reply = HumanReply(at(2), "neutral", (("Ann", "ann@example.org"), ("Bo", "bo@example.org")))
    _, (decision,) = run(sent(), reply)
    referrals = [c for c in decision.commands if isinstance(c, CreateReferral)]
    assert [CreateReferral("Ann", "ann@example.org"), CreateReferral("Bo", "bo@example.org")] == (
        referrals
    )


def test_a_reply_naming_many_people_introduces_three_and_keeps_the_rest_to_confirm() -> None:
    """Given a reply-all naming 300 people, then three get an outreach and the other 297
    wait for the person to say which ones were meant."""
    people = tuple((f"P{n}", f"p{n}@example.org") for n in range(300))
    outreach, (decision,) = run(sent(), HumanReply(at(2), "neutral", people))
    referrals = [c for c in decision.commands if isinstance(c, CreateReferral)]
    assert [CreateReferral(n, e) for n, e in people[:3]] == referrals
    assert people[3:203] == outreach.introductions_to_confirm  # at most 200 kept
    assert Outreach.from_dict(json.loads(json.dumps(outreach.to_dict()))) == outreach


def test_decline_plans_one_thanks_anyway_then_closes() -> None:
    """Given a pending nudge, when they decline, then `declined` with a thanks-anyway; once it
    is sent, `closed`."""
    declined, (decision,) = run(sent(), HumanReply(at(2), "decline"))
    expected = [CancelStep(K.NUDGE, 1), PlanStep(K.THANKS_ANYWAY, 1, at(2), None, True)]
    assert expected == commands(decision)
    assert declined.stage == Stage.DECLINED
    closed, _ = run(declined, MessageSent(at(2, 1), K.THANKS_ANYWAY, 1))
    assert (closed.stage, closed.planned) == (Stage.CLOSED, ())


def test_decline_without_thanks_anyway_closes_at_once() -> None:
    """Given thanks_anyway_on_decline off, when they decline, then `closed`, nothing planned."""
    policy = replace(POLICY, thanks_anyway_on_decline=False)
    outreach, (decision,) = run(sent(policy=policy), HumanReply(at(2), "decline"), policy=policy)
    assert [CancelStep(K.NUDGE, 1)] == commands(decision)
    assert outreach.stage == Stage.CLOSED


def test_opt_out_cancels_everything_and_suppresses_the_address() -> None:
    """Given a referral outreach with a nudge and a referrer note, when they opt out, then all
    is cancelled, the address suppressed, stage `opted_out`."""
    outreach, (decision,) = run(sent(referral=True), HumanReply(at(2), "opt_out"))
    expected = [
        CancelStep(K.NUDGE, 1),
        CancelStep(K.REFERRER_NOTE, 1),
        SuppressAddress("opt_out"),
    ]
    assert expected == commands(decision)
    assert (outreach.stage, outreach.planned) == (Stage.OPTED_OUT, ())


def test_opted_out_ignores_everything_after() -> None:
    """Given an opt-out, when a positive reply, a booking or a tick follows, then nothing."""
    outreach, _ = run(sent(), HumanReply(at(2), "opt_out"))
    later: list[Observation] = [
        HumanReply(at(3), "positive"),
        MeetingBooked(at(3), MEETING),
        TimePassed(at(60)),
        Bounced(at(3), hard=False),
        AutoReply(at(3), None),
        Started(at(3)),
    ]
    for observation in later:
        assert Decision(outreach, ()) == advance(outreach, observation, at(3), POLICY)


# ----------------------------------------------------------------------- out of the office


def test_auto_reply_pauses_and_moves_the_nudge_to_the_day_after_the_return_date() -> None:
    """Given a nudge due Wednesday 2 Dec, when they are away until Friday 4 Dec, then paused
    and the nudge moves to Monday 7 Dec 08:30 (the day after is Saturday)."""
    outreach, (decision,) = run(sent(), AutoReply(at(0, 1), date(2026, 12, 4)))
    monday = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)
    assert [RescheduleStep(K.NUDGE, 1, monday)] == commands(decision)
    paused = (outreach.stage, outreach.resume_stage, outreach.paused_until)
    assert (Stage.PAUSED_OOO, Stage.SENT, date(2026, 12, 4)) == paused


def test_auto_reply_without_a_date_pauses_for_the_default_days() -> None:
    """Given no return date, then paused until ooo_default_days (7) after the auto reply."""
    outreach, (decision,) = run(sent(), AutoReply(at(0, 1), None))
    thursday = datetime(2026, 12, 3, 8, 30, tzinfo=UTC)  # the day after 2 December
    assert [RescheduleStep(K.NUDGE, 1, thursday)] == commands(decision)
    assert date(2026, 12, 2) == outreach.paused_until


def test_auto_reply_never_moves_a_nudge_earlier() -> None:
    """Given a nudge due next Wednesday, when they are back tomorrow, then the nudge stays."""
    outreach, (decision,) = run(sent(), AutoReply(at(0, 1), date(2026, 11, 26)))
    assert commands(decision) == []
    assert outreach.stage == Stage.PAUSED_OOO


def test_return_date_reached_resumes_the_paused_stage() -> None:
    """Given a pause until Friday 4 Dec, when a tick sees that day, then back to `sent`."""
    paused, _ = run(sent(), AutoReply(at(0, 1), date(2026, 12, 4)))
    before = advance(paused, TimePassed(at(8, 13)), at(8, 13), POLICY)  # Thursday 23:00
    resumed = advance(paused, TimePassed(at(9)), at(9), POLICY)
    assert Decision(paused, ()) == before
    assert (
        resumed.outreach.stage,
        resumed.outreach.paused_until,
        resumed.outreach.resume_stage,
    ) == (Stage.SENT, None, None)


def test_reply_during_a_pause_ends_it() -> None:
    """Given a paused outreach, when a positive reply comes, then `replied`, pause cleared."""
    outreach, _ = run(sent(), AutoReply(at(0, 1), None), HumanReply(at(3), "positive"))
    assert (outreach.stage, outreach.paused_until) == (Stage.REPLIED, None)


# --------------------------------------------------------------------------------- bounces


def test_hard_bounce_stops_everything_and_flags_the_contact() -> None:
    """Given a pending nudge, when the outreach hard-bounces, then `bounced`, flagged and
    suppressed."""
    outreach, (decision,) = run(sent(), Bounced(at(0, 1), hard=True))
    expected = [CancelStep(K.NUDGE, 1), FlagContact("hard_bounce"), SuppressAddress("hard_bounce")]
    assert expected == commands(decision)
    assert (outreach.stage, outreach.planned) == (Stage.BOUNCED, ())


def test_soft_bounce_plans_one_resend_and_holds_the_nudge() -> None:
    """Given a pending nudge, when the outreach soft-bounces, then the nudge is cancelled and a
    resend is due two days later; once the resend is sent, the nudge is planned again."""
    bounced, (decision,) = run(sent(), Bounced(at(0, 1), hard=False))
    expected = [CancelStep(K.NUDGE, 1), PlanStep(K.RESEND, 1, at(2, 1), None, True)]
    assert expected == commands(decision)
    assert (bounced.stage, bounced.resend_used) == (Stage.SENT, True)
    _, (resent,) = run(bounced, MessageSent(at(2, 1), K.RESEND, 1))
    assert [PlanStep(K.NUDGE, 2, at(9, 1), None, True)] == commands(resent)


def test_second_soft_bounce_counts_as_hard() -> None:
    """Given a resend after a soft bounce, when it soft-bounces too, then `bounced`."""
    outreach, _ = run(
        sent(),
        Bounced(at(0, 1), hard=False),
        MessageSent(at(2, 1), K.RESEND, 1),
        Bounced(at(2, 2), hard=False),
    )
    assert outreach.stage == Stage.BOUNCED


def test_the_same_soft_bounce_twice_is_a_no_op() -> None:
    """Given a soft bounce applied, when it is observed again, then nothing changes."""
    outreach, _ = run(sent(), Bounced(at(0, 1), hard=False))
    assert Decision(outreach, ()) == advance(outreach, Bounced(at(0, 1), False), at(1), POLICY)


# -------------------------------------------------------------------------------- meetings


def test_booked_meeting_cancels_nudges_and_puts_prep_notes() -> None:
    """Given a pending nudge, when a meeting is booked, then `booked` and prep notes."""
    outreach, (decision,) = run(sent(), MeetingBooked(at(1), MEETING))
    assert [CancelStep(K.NUDGE, 1), PutPrepNotes(MEETING)] == commands(decision)
    assert (outreach.stage, outreach.meeting) == (Stage.BOOKED, MEETING)


def test_moved_meeting_moves_the_prep_notes() -> None:
    """Given a booked meeting, when it moves an hour later, then prep notes with the new times."""
    moved = replace(
        MEETING, start=MEETING.start + timedelta(hours=1), end=MEETING.end + timedelta(hours=1)
    )
    outreach, (decision,) = run(booked(MEETING), MeetingMoved(at(1, 1), moved))
    assert [PutPrepNotes(moved)] == commands(decision)
    assert moved == outreach.meeting


def test_cancelled_meeting_removes_prep_notes_and_returns_to_scheduling() -> None:
    """Given a booked meeting, when it is cancelled, then prep notes removed, `scheduling`."""
    outreach, (decision,) = run(booked(MEETING), MeetingCancelled(at(1, 1), "uid-1"))
    assert [RemovePrepNotes("uid-1")] == commands(decision)
    assert (outreach.stage, outreach.meeting) == (Stage.SCHEDULING, None)


def test_cancelling_another_meeting_is_ignored() -> None:
    """Given a booked meeting, when another uid is cancelled, then nothing changes."""
    outreach = booked(MEETING)
    assert Decision(outreach, ()) == advance(outreach, MeetingCancelled(at(1), "x"), at(1), POLICY)


def test_meeting_over_plans_one_thank_you_due_at_its_end_within_the_deadline() -> None:
    """Given a booked meeting, when a tick sees its end passed, then `met` and one thank-you due
    at the end with a deadline 24 hours later; a second tick plans nothing."""
    outreach, (decision, again) = run(
        booked(MEETING), TimePassed(MEETING.end + timedelta(minutes=5)), TimePassed(at(3))
    )
    deadline = MEETING.end + timedelta(hours=24)
    assert [PlanStep(K.THANK_YOU, 1, MEETING.end, deadline, True)] == commands(decision)
    assert (outreach.stage, outreach.meetings_held) == (Stage.MET, ("uid-1",))
    assert commands(again) == []


def test_meeting_not_over_yet_plans_nothing() -> None:
    """Given a booked meeting, when a tick comes before its end, then nothing."""
    outreach = booked(MEETING)
    tick = TimePassed(MEETING.end - timedelta(minutes=1))
    assert Decision(outreach, ()) == advance(outreach, tick, tick.at, POLICY)


def test_thank_you_sent_plans_keep_in_touch_every_ninety_days() -> None:
    """Given a met meeting, when the thank-you is sent, then `thanked` and a keep-in-touch in
    90 days; when that is sent, `keeping_in_touch` and the next one 90 days on."""
    met, _ = run(booked(MEETING), TimePassed(at(3)))
    thanked, (decision,) = run(met, MessageSent(at(3), K.THANK_YOU, 1))
    assert [PlanStep(K.KEEP_IN_TOUCH, 1, at(93), None, False)] == commands(decision)
    assert thanked.stage == Stage.THANKED
    keeping, (decision,) = run(thanked, MessageSent(at(93), K.KEEP_IN_TOUCH, 1))
    assert [PlanStep(K.KEEP_IN_TOUCH, 2, at(183), None, False)] == commands(decision)
    assert keeping.stage == Stage.KEEPING_IN_TOUCH


def test_stop_keeping_in_touch_cancels_the_pending_update() -> None:
    """Given a planned keep-in-touch, when the person stops it, then it is cancelled."""
    thanked, _ = run(booked(MEETING), TimePassed(at(3)), MessageSent(at(3), K.THANK_YOU, 1))
    outreach, (decision,) = run(thanked, StopKeepingInTouch(at(4)))
    assert [CancelStep(K.KEEP_IN_TOUCH, 1)] == commands(decision)
    assert (outreach.keep_in_touch, outreach.planned) == (False, ())


# -------------------------------------------------------------------------------- referrals


def test_referral_outreach_sent_plans_a_note_to_the_referrer() -> None:
    """Given an outreach from a referral, when it is sent, then a referrer note is planned."""
    outreach = sent(referral=True)
    kinds = [(step.kind, step.seq) for step in outreach.planned]
    assert kinds == [(K.NUDGE, 1), (K.REFERRER_NOTE, 1)]


# ------------------------------------------------------------------------ state and policy


def test_state_round_trips_through_json() -> None:
    """Given a state with every field set, when stored as JSON and read back, then equal."""
    outreach, _ = run(sent(referral=True), AutoReply(at(0, 1), date(2026, 12, 4)))
    outreach = replace(outreach, meeting=MEETING, meetings_held=("old",))
    assert outreach == Outreach.from_dict(json.loads(json.dumps(outreach.to_dict())))


def test_from_dict_rejects_garbage() -> None:
    """A dict that is not a stored outreach raises ValueError."""
    with pytest.raises(ValueError):
        Outreach.from_dict({"stage": "nowhere"})


def test_policy_from_mapping_reads_settings() -> None:
    """Given a TOML-like table, then a policy with those values and defaults for the rest."""
    policy = Policy.from_mapping(
        {
            "max_nudges": 1,
            "timezone": "Europe/Paris",
            "workdays": [0, 1, 2],
            "send_window_start": "09:00",
        }
    )
    expected = replace(
        POLICY, max_nudges=1, timezone="Europe/Paris", workdays=(0, 1, 2), send_window_start=time(9)
    )
    assert expected == policy


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"nudge_every": 3}, "nudge_every"),
        ({"max_nudges": "2"}, "max_nudges"),
        ({"max_nudges": True}, "max_nudges"),
        ({"nudge_after_business_days": 0}, "nudge_after_business_days"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"workdays": [7]}, "workdays"),
        ({"send_window_start": "late"}, "send_window_start"),
        ({"send_window_start": "18:00"}, "send_window_end"),
        ({"thanks_anyway_on_decline": "yes"}, "thanks_anyway_on_decline"),
    ],
)
def test_policy_from_mapping_names_the_bad_key(values: dict[str, Any], key: str) -> None:
    """A bad setting raises ValueError whose message names the key."""
    with pytest.raises(ValueError, match=key):
        Policy.from_mapping(values)


def test_naive_now_is_a_programming_error() -> None:
    """A naive `now` raises ValueError rather than guessing a zone."""
    with pytest.raises(ValueError):
        advance(new_outreach(WED), Started(WED), datetime(2026, 11, 25, 10), POLICY)


# ------------------------------------------------------------------------- edge cases


def test_opt_out_with_a_booked_meeting_removes_its_prep_notes() -> None:
    """Given a booked meeting, when they opt out, then the prep notes go too."""
    outreach, (decision,) = run(booked(MEETING), HumanReply(at(1, 1), "opt_out"))
    assert commands(decision) == [RemovePrepNotes("uid-1"), SuppressAddress("opt_out")]
    assert outreach.stage == Stage.OPTED_OUT


def test_late_opt_out_is_still_applied_but_a_late_decline_is_not() -> None:
    """Given a reply at day 3 applied, when an older reply arrives, then a decline is ignored
    and an opt-out is honoured."""
    replied, _ = run(sent(), HumanReply(at(3), "neutral"))
    old_decline = HumanReply(at(2), "decline")
    assert advance(replied, old_decline, at(4), POLICY) == Decision(replied, ())
    opted_out, _ = run(replied, HumanReply(at(2), "opt_out"))
    assert opted_out.stage == Stage.OPTED_OUT


def test_opt_out_after_closing_still_suppresses_the_address() -> None:
    """Given a closed outreach, when they later ask not to be contacted, then suppressed."""
    closed, _ = run(sent(), HumanReply(at(2), "decline"), MessageSent(at(2, 1), K.THANKS_ANYWAY, 1))
    outreach, (decision,) = run(closed, HumanReply(at(5), "opt_out"))
    assert commands(decision) == [SuppressAddress("opt_out")]
    assert outreach.stage == Stage.OPTED_OUT


def test_decline_of_a_booked_meeting_removes_prep_notes_and_thanks_anyway() -> None:
    """Given a booked meeting, when they decline after all, then prep notes removed and a
    thanks-anyway planned."""
    outreach, (decision,) = run(booked(MEETING), HumanReply(at(1, 1), "decline"))
    expected = [RemovePrepNotes("uid-1"), PlanStep(K.THANKS_ANYWAY, 1, at(1, 1), None, True)]
    assert commands(decision) == expected
    assert (outreach.stage, outreach.meeting) == (Stage.DECLINED, None)


def test_a_held_meeting_cannot_be_booked_again() -> None:
    """Given a meeting held, when the same uid is booked again, then nothing (no second
    thank-you can follow)."""
    met, _ = run(booked(MEETING), TimePassed(at(3)))
    again = MeetingBooked(at(4), MEETING)
    assert advance(met, again, at(4), POLICY) == Decision(met, ())


def test_booking_the_same_uid_with_new_times_moves_the_meeting() -> None:
    """Given a booked meeting, when it is booked again with other times, then it moved."""
    moved = replace(MEETING, start=at(3, 4), end=at(3, 5))
    outreach, (decision,) = run(booked(MEETING), MeetingBooked(at(1, 1), moved))
    assert commands(decision) == [PutPrepNotes(moved)]
    assert outreach.meeting == moved


def test_nudge_sent_during_a_pause_plans_the_next_one_after_the_pause() -> None:
    """Given a drafted nudge and a pause until Friday 18 Dec, when the person sends the nudge
    anyway on 3 Dec, then the next nudge waits for Monday 21 Dec, not 10 Dec."""
    outreach, decisions = run(
        sent(),
        DraftCreated(at(7), K.NUDGE, 1),
        AutoReply(at(7, 1), date(2026, 12, 18)),
        MessageSent(at(8), K.NUDGE, 1),
    )
    monday = datetime(2026, 12, 21, 8, 30, tzinfo=UTC)
    assert commands(decisions[-1]) == [PlanStep(K.NUDGE, 2, monday, None, True)]
    assert (outreach.stage, outreach.resume_stage) == (Stage.PAUSED_OOO, Stage.NUDGED)


def test_one_tick_resumes_a_pause_and_finds_the_outreach_quiet() -> None:
    """Given both nudges sent and a pause long over, when one tick comes, then `gone_quiet`
    at once, and the same tick again changes nothing."""
    paused, _ = run(nudged_twice(), AutoReply(at(14, 1), date(2026, 12, 10)))
    quiet, (_, again) = run(paused, TimePassed(at(40)), TimePassed(at(40)))
    assert quiet.stage == Stage.GONE_QUIET
    assert again == Decision(quiet, ())


def test_keep_in_touch_off_plans_no_update_after_the_thank_you() -> None:
    """Given the person stopped keeping in touch, when the thank-you is sent, then nothing."""
    met, _ = run(booked(MEETING), TimePassed(at(3)), StopKeepingInTouch(at(3)))
    thanked, (decision,) = run(met, MessageSent(at(3, 1), K.THANK_YOU, 1))
    assert commands(decision) == []
    assert thanked.stage == Stage.THANKED


def test_reply_before_any_outreach_prevents_nudges_later() -> None:
    """Given the contact wrote first, when the first outreach is sent, then no nudge."""
    outreach, decisions = run(
        new_outreach(WED),
        Started(WED),
        HumanReply(WED, "neutral"),
        MessageSent(at(0, 1), K.FIRST_OUTREACH, 1),
    )
    assert commands(decisions[-1]) == []
    assert outreach.stage == Stage.SENT


def test_positive_reply_while_scheduling_plans_another_scheduling_reply() -> None:
    """Given a scheduling reply sent, when they answer with a time, then `replied` and a
    new scheduling reply with a new sequence number."""
    scheduling, _ = run(
        sent(), HumanReply(at(2), "positive"), MessageSent(at(2, 1), K.SCHEDULING_REPLY, 1)
    )
    outreach, (decision,) = run(scheduling, HumanReply(at(3), "positive"))
    assert commands(decision) == [PlanStep(K.SCHEDULING_REPLY, 2, at(3), None, True)]
    assert outreach.stage == Stage.REPLIED


# ------------------------------------------------------------------------ working hours


def test_new_working_hours_move_a_nudge_into_the_new_send_window_once() -> None:
    """Given a nudge due next Wednesday at 10:00 UTC, when the person moves to Tokyo
    (19:00 there, after the window), then it moves to Thursday 08:30 in Tokyo; told again,
    nothing changes."""
    tokyo = Policy(timezone="Asia/Tokyo")
    (nudge,) = sent().pending(K.NUDGE)
    assert nudge.due_at == at(7)
    decision = advance(sent(), WorkingHoursChanged(at(1)), at(1), tokyo)
    thursday_morning_in_tokyo = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)
    assert commands(decision) == [RescheduleStep(K.NUDGE, 1, thursday_morning_in_tokyo)]
    (moved,) = decision.outreach.pending(K.NUDGE)
    assert moved.due_at == thursday_morning_in_tokyo
    again = advance(decision.outreach, WorkingHoursChanged(at(1)), at(1), tokyo)
    assert (again.outreach, commands(again)) == (decision.outreach, [])


def test_new_working_hours_leave_the_thank_you_at_the_end_of_the_meeting() -> None:
    """The thank-you is due when the meeting ends, whatever the send window."""
    outreach, _ = run(booked(MEETING), TimePassed(at(2, 5)))
    (thanks,) = outreach.pending(K.THANK_YOU)
    decision = advance(
        outreach, WorkingHoursChanged(at(2, 5)), at(2, 5), Policy(timezone="Asia/Tokyo")
    )
    assert not any(
        isinstance(c, RescheduleStep) and c.kind == K.THANK_YOU for c in decision.commands
    )
    assert decision.outreach.pending(K.THANK_YOU) == (thanks,)
