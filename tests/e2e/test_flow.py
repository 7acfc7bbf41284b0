"""The whole lifecycle of outreach on in-memory connectors, tick by tick.

Given a person who imported contacts and started outreach, when the other side answers in
the ways real people do, then the pipeline drafts (never sends) the right message at the
right time, exactly once.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.digest import build_digest, deliver_digest
from pipeline.drafting import create_draft
from pipeline.quickread import session_query
from pipeline.status import build_status
from pipeline.steps import due_work
from tests.harness import DANA, MONDAY, SAM, World


def test_first_outreach_is_drafted_once_and_never_sent(world: World) -> None:
    world.tick()
    world.tick()
    assert sorted(str(d.message["To"]) for d in world.mailbox.drafts()) == [
        f"Dana Kim <{DANA}>",
        f"Sam Ortiz <{SAM}>",
    ]
    assert world.mailbox.sent() == []
    assert world.stage(DANA) == "outreach_drafted"


def test_a_tick_started_while_another_runs_does_nothing_and_says_why(world: World) -> None:
    """Given a tick still running (cron started the next one too early), when another
    tick starts on the same database, then it stops at once without drafting, and the
    next tick after the first one ended does the work."""
    with world.app.store.exclusive("tick") as held:
        assert held
        skipped = world.tick()
    assert skipped.skipped is not None and "still running" in skipped.line()
    assert world.mailbox.drafts() == []
    assert world.tick().drafts_created == 2


def test_a_digest_delivery_started_while_another_runs_delivers_nothing(
    world: World, tmp_path: Path
) -> None:
    """Given a digest being delivered for the account, when a second delivery starts (a
    hand-run command while cron's runs), then it delivers nothing and says why; once the
    first is done, the day's digest goes out once."""
    target = tmp_path / "digest.eml"
    day = MONDAY.date()
    with world.app.store.exclusive("digest-main"):
        busy = deliver_digest(world.app, "main", day, destination=str(target), force=False)
    assert (busy.delivered, busy.reason) == (False, "another digest delivery is running right now")
    assert not target.exists()
    first = deliver_digest(world.app, "main", day, destination=str(target), force=False)
    again = deliver_digest(world.app, "main", day, destination=str(target), force=False)
    assert (first.delivered, again.delivered) == (True, False)
    assert target.exists()


def test_sending_the_draft_moves_to_sent_and_a_nudge_follows_in_the_thread(world: World) -> None:
    first = world.send_first_outreach(DANA)
    assert world.stage(DANA) == "sent"
    world.clock.advance(days=4)  # Friday: only four business days
    world.tick()
    assert [d for d in world.mailbox.drafts() if "/nudge/" in (d.key or "")] == []
    world.clock.advance(days=3)  # Monday: five business days have passed
    world.tick()
    nudge = world.draft_for(DANA, "nudge")
    assert nudge.message["In-Reply-To"] == first.message["Message-ID"]
    assert str(nudge.message["Subject"]).startswith("Re: ")
    assert nudge.thread_id == first.thread_id


def test_a_positive_reply_stops_nudges_and_drafts_an_answer(world: World) -> None:
    first = world.send_first_outreach(DANA)
    world.clock.advance(days=1)
    world.reply(
        ("Dana Kim", DANA), "Happy to chat! Does Thursday at 2pm work for you?", to_draft=first
    )
    world.tick()
    assert world.stage(DANA) == "replied"
    assert world.draft_for(DANA, "scheduling_reply") is not None
    world.clock.advance(days=10)
    world.tick()
    assert ("nudge", 1, "cancelled") in world.steps(DANA)
    assert [d for d in world.mailbox.drafts() if "/nudge/" in (d.key or "")] == []


def test_the_answer_about_scheduling_replies_to_their_message(world: World) -> None:
    """The scheduling answer is In-Reply-To the contact's reply, in the same thread."""
    first = world.send_first_outreach(DANA)
    world.clock.advance(days=1)
    theirs = world.reply(("Dana Kim", DANA), "Happy to chat! Thursday?", to_draft=first)
    world.tick()
    reply_id = next(m for m in world.mailbox.inbox() if m.provider_id == theirs).message[
        "Message-ID"
    ]
    answer = world.draft_for(DANA, "scheduling_reply").message
    assert answer["In-Reply-To"] == reply_id
    assert answer["References"].split() == [first.message["Message-ID"], reply_id]


def test_a_booked_meeting_takes_back_the_unsent_answer_about_scheduling(world: World) -> None:
    """Given an answer about scheduling waiting in Drafts, when Dana books a time on the
    calendar herself, then the answer is moot and leaves Drafts."""
    first = world.send_first_outreach(DANA)
    world.clock.advance(days=1)
    world.reply(("Dana Kim", DANA), "Happy to chat! I'll send an invite.", to_draft=first)
    world.tick()
    assert world.draft_for(DANA, "scheduling_reply") is not None
    world.book(("Dana Kim", DANA), MONDAY + timedelta(days=3), uid="chat-1")
    world.tick()
    world.tick()
    assert world.stage(DANA) == "booked"
    assert ("scheduling_reply", 1, "withdrawn") in world.steps(DANA)
    assert [d for d in world.mailbox.drafts() if "/scheduling_reply/" in (d.key or "")] == []


def test_an_out_of_office_reply_waits_until_the_return_date(world: World) -> None:
    first = world.send_first_outreach(DANA)
    world.reply(
        ("Dana Kim", DANA),
        "I am out of the office until March 20, 2026 with limited access to email.",
        to_draft=first,
        subject="Automatic reply: " + str(first.message["Subject"]),
        headers={"Auto-Submitted": "auto-replied"},
    )
    world.tick()
    assert world.stage(DANA) == "paused_ooo"
    world.clock.advance(days=8)  # past the usual five business days, before the return
    world.tick()
    assert [d for d in world.mailbox.drafts() if "/nudge/" in (d.key or "")] == []
    world.clock.now = datetime(2026, 3, 23, 15, 0, tzinfo=UTC)
    world.tick()
    assert world.draft_for(DANA, "nudge") is not None


def test_an_opt_out_ends_everything_for_that_address(world: World) -> None:
    first = world.send_first_outreach(DANA)
    world.reply(
        ("Dana Kim", DANA),
        "Please remove me from your list and do not contact me again.",
        to_draft=first,
    )
    world.tick()
    assert world.stage(DANA) == "opted_out"
    world.clock.advance(days=30)
    world.tick()
    assert [d for d in world.mailbox.drafts() if DANA in str(d.message["To"])] == []


def test_a_booked_meeting_gets_prep_notes_and_then_a_thank_you(world: World) -> None:
    world.send_first_outreach(DANA)
    start = MONDAY + timedelta(days=3, hours=4)
    world.book(("Dana Kim", DANA), start, uid="meet-dana-1")
    world.tick()
    assert world.stage(DANA) == "booked"
    prep = [e for e in world.calendar.events() if e.key]
    assert len(prep) == 1
    assert prep[0].end == start
    assert "Dana" in prep[0].summary
    world.calendar.move_event(
        "meet-dana-1", start + timedelta(days=1), start + timedelta(days=1, minutes=30)
    )
    world.tick()
    prep = [e for e in world.calendar.events() if e.key]
    assert [p.end for p in prep] == [start + timedelta(days=1)]
    world.clock.now = start + timedelta(days=1, minutes=45)
    world.tick()
    assert world.stage(DANA) == "met"
    thank_you = world.draft_for(DANA, "thank_you")
    assert "Dana" in thank_you.message.get_content()
    digest = build_digest(world.app, "main", (world.clock.now).date())
    text = digest.get_body(("plain",))
    assert text is not None
    assert "Dana Kim" in text.get_content()


def test_prep_notes_say_where_the_conversation_happens(world: World) -> None:
    """Given a booking whose description holds a video-call link, then the prep notes
    carry the place and the link."""
    world.send_first_outreach(DANA)
    world.book(
        ("Dana Kim", DANA),
        MONDAY + timedelta(days=3, hours=4),
        uid="meet-dana-2",
        location="Online",
        description="Join: https://example.zoom.us/j/123456?pwd=abc (passcode in the invite)",
    )
    world.tick()
    (prep,) = [e for e in world.calendar.events() if e.key]
    assert "Online (https://example.zoom.us/j/123456?pwd=abc)" in prep.description


def test_a_deleted_draft_means_the_person_declined_that_step(world: World) -> None:
    world.tick()
    world.mailbox.delete_draft(world.draft_for(SAM, "first_outreach").key)
    world.tick()
    assert world.stage(SAM) == "skipped"
    world.clock.advance(days=20)
    world.tick()
    assert [d for d in world.mailbox.drafts() if SAM in str(d.message["To"])] == []


def test_keep_in_touch_updates_follow_a_thank_you_until_stopped(world: World) -> None:
    world.send_first_outreach(DANA)
    start = MONDAY + timedelta(days=2)
    world.book(("Dana Kim", DANA), start, uid="meet-dana-2")
    world.tick()
    world.clock.now = start + timedelta(hours=1)
    world.tick()
    world.mailbox.send_draft(world.draft_for(DANA, "thank_you").key)
    world.tick()
    assert world.stage(DANA) == "thanked"
    assert ("keep_in_touch", 1, "planned") in world.steps(DANA)
    from sqlalchemy import select

    from pipeline import lifecycle as lc
    from pipeline.models import Outreach as OutreachRow
    from pipeline.outreach import observe

    with world.app.store.write() as session:
        row = session.scalars(select(OutreachRow).where(OutreachRow.email == DANA)).one()
        observe(
            session, row, lc.StopKeepingInTouch(at=world.clock()), world.clock(), world.app.policy
        )
    assert ("keep_in_touch", 1, "cancelled") in world.steps(DANA)
    world.clock.advance(days=120)
    world.tick()
    assert [d for d in world.mailbox.drafts() if "/keep_in_touch/" in (d.key or "")] == []


def test_a_nudge_draft_waiting_when_they_reply_is_taken_back(world: World) -> None:
    """So the person cannot send a follow-up to someone who has just answered."""
    first = world.send_first_outreach(DANA)
    world.clock.advance(days=7)
    world.tick()
    assert world.draft_for(DANA, "nudge") is not None
    world.reply(("Dana Kim", DANA), "Sorry for the delay! Happy to talk next week.", to_draft=first)
    summary = world.tick()
    assert [d for d in world.mailbox.drafts() if "/nudge/" in (d.key or "")] == []
    assert ("nudge", 1, "withdrawn") in world.steps(DANA)
    assert summary.drafts_withdrawn == 1
    assert world.stage(DANA) == "replied"  # not "skipped": the person declined nothing


def test_the_note_back_to_a_referrer_is_listed_under_the_referrer(world: World) -> None:
    """Given Dana introduced Lee and the outreach to Lee was sent, then the note back to
    Dana is listed, in status and the digest, as a draft to Dana (whom it is written
    to), not to Lee."""
    world.dana_introduces_lee()
    note = world.draft_for(DANA, "referrer_note")
    assert DANA in str(note.message["To"])
    with world.app.store.read() as session:
        waiting = build_status(session_query(session), world.clock()).waiting_on_you
    notes = [w for w in waiting if w.get("step") == "referrer_note"]
    assert [(w["contact"], w["email"]) for w in notes] == [("Dana Kim", DANA)]
    digest = str(build_digest(world.app, "main", world.clock().date()).get_body(("plain",)))
    assert "note back to the referrer to Dana Kim" in digest


def test_the_morning_digest_waits_for_the_tick_still_making_drafts(world: World) -> None:
    """Given a tick holding its lock while it makes the morning's drafts, when the digest
    is delivered meanwhile, then it waits, and lists the drafts that tick made."""
    holding, release = threading.Event(), threading.Event()

    def running_tick() -> None:
        with world.app.store.exclusive("tick") as held:
            assert held
            holding.set()
            release.wait(10)
            for step_id in due_work(world.app, world.clock(), 10)[0]:
                create_draft(world.app, step_id)

    thread = threading.Thread(target=running_tick)
    thread.start()
    holding.wait(10)
    threading.Timer(0.3, release.set).start()
    result = deliver_digest(world.app, "main", MONDAY.date(), destination="inbox", force=False)
    thread.join(10)
    assert result.delivered
    assert "DRAFTS WAITING FOR YOU (2)" in str(result.message.get_body(("plain",)))
