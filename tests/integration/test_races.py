"""Races and crashes between the tick, the workers and the person, on SQLite and PostgreSQL.

Each test puts one interleaving in a fixed order: a worker dying between making a draft and
recording it, a reply synced while a nudge is being drafted, a meeting moved while its prep
notes are written. Whatever the order, the person never gets a moot or duplicate draft and
no step is stuck.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select, update

from connectors.base import CalendarEvent, DraftRef, ThreadRef
from pipeline.drafting import discard_step
from pipeline.errors import PermanentError
from pipeline.models import Account, Step
from pipeline.tick import sync_one
from tests.harness import DANA, MONDAY, SAM, World


class WorkerDied(BaseException):
    """Stands for SIGKILL: nothing after it in the worker runs."""


def around_create_draft(
    monkeypatch: pytest.MonkeyPatch, world: World, after: Any, *, only: str
) -> None:
    """Run ``after(ref)`` once, right after the mailbox made the draft whose key has ``only``."""
    original = world.mailbox.create_draft

    def create(message: EmailMessage, key: str, thread: ThreadRef | None) -> DraftRef:
        ref = original(message, key, thread)
        if only in key:
            monkeypatch.setattr(world.mailbox, "create_draft", original)
            after(ref)
        return ref

    monkeypatch.setattr(world.mailbox, "create_draft", create)


def test_a_draft_deleted_before_its_worker_recorded_it_is_not_made_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a worker that died after making Dana's draft but before recording it, when the
    person deletes that draft, then the step counts as declined and the retake after the
    lease does not put the draft back."""

    def die(_ref: DraftRef) -> None:
        raise WorkerDied

    around_create_draft(monkeypatch, world, die, only="/first_outreach/")
    with pytest.raises(WorkerDied):
        world.tick()
    assert ("first_outreach", 1, "drafting") in world.steps(DANA) + world.steps(SAM)
    dead = [d for d in world.mailbox.drafts() if "/first_outreach/" in (d.key or "")]
    assert dead[0].key is not None
    world.mailbox.delete_draft(dead[0].key)
    person = DANA if DANA in str(dead[0].message["To"]) else SAM
    world.clock.advance(seconds=world.app.settings.limits["step_lease_seconds"] + 60)
    world.tick()
    world.tick()
    assert world.steps(person) == [("first_outreach", 1, "deleted")]
    assert world.stage(person) == "skipped"
    assert not [d for d in world.mailbox.drafts() if person in str(d.message["To"])]


def test_a_nudge_made_moot_while_it_was_being_drafted_is_taken_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given the nudge being drafted, when Dana's reply is synced before the worker records
    it, then the nudge is withdrawn from the mailbox and the reply is answered instead."""
    first = world.send_first_outreach(DANA)
    world.clock.advance(days=7)

    def reply_meanwhile(_ref: DraftRef) -> None:
        world.reply(("Dana Kim", DANA), "Happy to talk next week.", to_draft=first)
        sync_one(world.app, "main")  # another tick, while this worker is still busy

    around_create_draft(monkeypatch, world, reply_meanwhile, only="/nudge/")
    world.tick()
    world.clock.advance(hours=1)
    world.tick()
    assert ("nudge", 1, "withdrawn") in world.steps(DANA)
    assert not [d for d in world.mailbox.drafts() if "/nudge/" in (d.key or "")]
    assert world.stage(DANA) == "replied"


def test_a_cancelled_step_whose_draft_is_not_made_yet_waits_for_it_before_giving_up(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given the withdrawal swept before the worker made the moot draft, then the step stays
    withdrawing until the draft appears and is taken back."""
    first = world.send_first_outreach(DANA)
    world.clock.advance(days=7)
    original = world.mailbox.create_draft

    def reply_and_withdraw_first(
        message: EmailMessage, key: str, thread: ThreadRef | None
    ) -> DraftRef:
        monkeypatch.setattr(world.mailbox, "create_draft", original)
        world.reply(("Dana Kim", DANA), "Sure, Tuesday works.", to_draft=first)
        sync_one(world.app, "main")  # another tick syncs the reply...
        with world.app.store.read() as session:
            nudge = session.scalars(select(Step.id).where(Step.key == key)).one()
        # ...and another worker sweeps the withdrawal: there is nothing to take back yet
        assert discard_step(world.app, nudge) == "waiting for the draft being made"
        assert ("nudge", 1, "withdrawing") in world.steps(DANA)
        return original(message, key, thread)

    monkeypatch.setattr(world.mailbox, "create_draft", reply_and_withdraw_first)
    world.tick()
    world.clock.advance(minutes=15)
    world.tick()
    assert ("nudge", 1, "withdrawn") in world.steps(DANA)
    assert not [d for d in world.mailbox.drafts() if "/nudge/" in (d.key or "")]


def test_a_draft_the_mailbox_refuses_for_good_fails_visibly_and_blocks_nobody(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given one draft per tick and Dana's refused for good, then her step fails with the
    reason (for `outreach deadletters`) and Sam's draft is made on the next tick."""
    limits = {**world.app.settings.limits, "drafts_per_tick": 1}
    world.app.settings = dataclasses.replace(world.app.settings, limits=limits)
    original = world.mailbox.create_draft

    def refuse_dana(message: EmailMessage, key: str, thread: ThreadRef | None) -> DraftRef:
        if DANA in str(message["To"]):
            raise PermanentError("550 recipient address rejected")
        return original(message, key, thread)

    monkeypatch.setattr(world.mailbox, "create_draft", refuse_dana)
    world.tick()
    world.tick()
    assert world.steps(DANA) == [("first_outreach", 1, "failed")]
    assert world.steps(SAM) == [("first_outreach", 1, "drafted")]


def test_steps_of_an_account_needing_reauthorization_are_not_claimed(world: World) -> None:
    with world.app.store.write() as session:
        session.execute(update(Account).values(needs_reauth=True, reauth_reason="revoked"))
    world.tick()
    assert world.steps(DANA) == [("first_outreach", 1, "planned")]
    assert world.mailbox.drafts() == []


def test_prep_notes_follow_a_meeting_moved_while_they_were_written(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.send_first_outreach(DANA)
    start = MONDAY + timedelta(days=3, hours=4)
    moved = start + timedelta(days=1)
    calendar = world.calendar
    world.book(("Dana Kim", DANA), start, uid="m1")
    original = calendar.put_event

    def put_then_moved(event: CalendarEvent, key: str) -> str:
        monkeypatch.setattr(calendar, "put_event", original)
        ref = original(event, key)
        calendar.move_event("m1", moved, moved + timedelta(minutes=30))
        sync_one(world.app, "main")  # another tick syncs the move meanwhile
        return ref

    monkeypatch.setattr(calendar, "put_event", put_then_moved)
    world.tick()
    world.clock.advance(minutes=15)
    world.tick()
    assert [e.end for e in calendar.events() if e.key] == [moved]
