"""Drafting in batches, on SQLite and PostgreSQL: the workers take the due steps a batch at
a time (one transaction claims the batch, one records it), and whatever fails or crashes
part-way through a batch, each step still gets exactly one draft."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import event, select

from connectors.base import DraftRef, ThreadRef
from pipeline.compose import TemplateSet
from pipeline.drafting import create_drafts
from pipeline.errors import AccountUnavailableError, TransientError
from pipeline.models import Meeting, Note, Step, Suppression
from pipeline.models import Outreach as OutreachRow
from pipeline.steps import due_work
from pipeline.store import WRITE_OPTION
from tests.harness import DANA, MONDAY, SAM, TWO_CONTACTS, World, started_world
from workers.dispatch import batch_drafts

T = TypeVar("T")
FOUR_CONTACTS = (
    TWO_CONTACTS
    + "Lee Chen,lee.chen@example.org,City Data Lab,analyst,a department seminar\n"
    + "Ria Das,ria.das@example.org,Civic Metrics,data engineer,a meetup talk\n"
)


def claim_both(world: World) -> list[int]:
    """What a tick does before dispatching: claim the due steps (Dana's and Sam's)."""
    steps, _, _ = due_work(world.app, world.clock(), 100)
    assert len(steps) == 2
    return steps


def drafts_per_key(world: World) -> Counter[str]:
    return Counter(str(draft.key) for draft in world.mailbox.drafts())


def fail_call(world: World, monkeypatch: pytest.MonkeyPatch, number: int, error: Exception) -> None:
    """The mailbox raises ``error`` on its ``number``-th create_draft call (1-based)."""
    original = world.mailbox.create_draft
    calls = Counter[str]()

    def create(message: EmailMessage, key: str, thread: ThreadRef | None) -> DraftRef:
        calls["n"] += 1
        if calls["n"] == number:
            raise error
        return original(message, key, thread)

    monkeypatch.setattr(world.mailbox, "create_draft", create)


def test_a_batch_is_claimed_in_one_write_transaction_and_recorded_in_another(
    world: World,
) -> None:
    """Given Dana's and Sam's first drafts due, when one batch drafts both, then each has
    one draft and the batch took two write transactions, not two per draft."""
    steps = claim_both(world)
    writes = Counter[str]()

    def count(connection: Any) -> None:
        if connection.get_execution_options().get(WRITE_OPTION):
            writes["n"] += 1

    event.listen(world.app.store.engine, "begin", count)
    try:
        outcomes = create_drafts(world.app, steps)
    finally:
        event.remove(world.app.store.engine, "begin", count)
    assert [o.outcome for o in outcomes] == ["created", "created"]
    assert writes["n"] == 2
    assert world.steps(DANA)[0][2] == world.steps(SAM)[0][2] == "drafted"
    assert set(drafts_per_key(world).values()) == {1}


def test_a_transient_failure_keeps_the_drafts_made_and_gives_the_rest_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a mailbox that fails the batch's second draft for a moment, then the first
    draft is recorded, the second step is given back and the error raised for a retry,
    and the retry of the whole batch makes the missing draft only."""
    steps = claim_both(world)
    fail_call(world, monkeypatch, 2, TransientError("try again in a moment"))
    with pytest.raises(TransientError):
        create_drafts(world.app, steps)
    statuses = sorted(s[0][2] for s in (world.steps(DANA), world.steps(SAM)))
    assert statuses == ["drafted", "queued"]
    retry = create_drafts(world.app, steps)
    assert sorted(o.outcome for o in retry) == ["created", "exists"]
    assert world.steps(DANA)[0][2] == world.steps(SAM)[0][2] == "drafted"
    assert sorted(drafts_per_key(world).values()) == [1, 1]


def test_an_unavailable_mailbox_leaves_the_rest_of_its_batch_waiting(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a mailbox that cannot be used (a read-only disk) at the batch's first draft,
    then no other draft of that account is attempted: both steps wait for the next tick,
    and the account says why."""
    steps = claim_both(world)
    fail_call(world, monkeypatch, 1, AccountUnavailableError("read-only file system"))
    outcomes = create_drafts(world.app, steps)
    assert [o.outcome for o in outcomes] == ["waiting", "waiting"]
    assert world.mailbox.drafts() == []
    assert world.steps(DANA)[0][2] == world.steps(SAM)[0][2] == "queued"
    world.clock.advance(minutes=5)
    world.tick()
    assert sorted(drafts_per_key(world).values()) == [1, 1]


def test_a_crash_before_the_record_leaves_one_draft_per_step_after_the_lease(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a worker that made both drafts of its batch and died before recording them,
    when the lease has passed and a tick hands the steps out again, then the connector
    finds each draft by its key: still one draft per step, both recorded."""

    class WorkerDied(BaseException):
        """Stands for SIGKILL between the drafts and their record."""

    steps = claim_both(world)
    store = world.app.store
    original = store.write_steps
    calls = Counter[str]()

    def write_steps(step_ids: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:  # the record
            raise WorkerDied
        return original(step_ids)

    monkeypatch.setattr(store, "write_steps", write_steps)
    with pytest.raises(WorkerDied):
        create_drafts(world.app, steps)
    monkeypatch.setattr(store, "write_steps", original)
    assert len(world.mailbox.drafts()) == 2
    assert world.steps(DANA)[0][2] == world.steps(SAM)[0][2] == "drafting"
    world.tick()  # within the lease: nobody takes them
    assert world.steps(DANA)[0][2] == "drafting"
    lease = world.app.settings.limits["step_lease_seconds"]
    world.clock.advance(seconds=lease + 1)
    world.tick()
    assert world.steps(DANA)[0][2] == world.steps(SAM)[0][2] == "drafted"
    assert sorted(drafts_per_key(world).values()) == [1, 1]
    with world.app.store.read() as session:
        ids = set(session.scalars(select(Step.provider_draft_id).where(Step.id.in_(steps))))
    assert ids == {d.provider_id for d in world.mailbox.drafts()}


def test_the_draft_jobs_are_handed_out_in_batches_and_the_rest_as_they_were() -> None:
    jobs: list[tuple[str, Any]] = [("create_draft", n) for n in range(45)]
    jobs += [("discard_draft", 7), ("prep_meeting", 3)]
    batched = batch_drafts(jobs, size=20)
    assert batched == [
        ("create_drafts", list(range(20))),
        ("create_drafts", list(range(20, 40))),
        ("create_drafts", list(range(40, 45))),
        ("discard_draft", 7),
        ("prep_meeting", 3),
    ]
    assert batch_drafts([("prep_meeting", 1)]) == [("prep_meeting", 1)]


def test_a_batch_of_steps_not_yet_due_claims_nothing(world: World) -> None:
    """Given a batch handed out early (a clock behind the tick's), then no step is
    claimed: each is reported not due and stays where it was."""
    steps = claim_both(world)
    world.clock.advance(days=-30)
    assert [o.outcome for o in create_drafts(world.app, steps)] == ["not_due", "not_due"]
    assert world.steps(DANA)[0][2] == world.steps(SAM)[0][2] == "queued"
    assert world.mailbox.drafts() == []


# A first message that shows what drafting read for it besides its contact.
SHOWS_NOTES_AND_MEETING = """\
Subject: Hello {{ contact.first_name }}

Notes: {{ notes | default("none") }}
Meeting: {% if meeting is defined %}{{ meeting.summary }}{% else %}none{% endif %}
"""


def outreach_of(world: World, email: str) -> tuple[int, int, int]:
    """The account, contact and outreach ids of the outreach to ``email``."""
    with world.app.store.read() as session:
        row = session.scalars(select(OutreachRow).where(OutreachRow.email == email)).one()
        return row.account_id, row.contact_id, row.id


def count_statements(world: World, action: Callable[[], T]) -> tuple[T, int]:
    """What ``action()`` returns, and how many statements it ran, the inserts of audit
    events aside (SQLite takes those one row at a time)."""
    count = Counter[str]()

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if not sql.lstrip().upper().startswith("INSERT INTO EVENTS"):
            count["n"] += 1

    event.listen(world.app.store.engine, "before_cursor_execute", statement)
    try:
        result = action()
    finally:
        event.remove(world.app.store.engine, "before_cursor_execute", statement)
    return result, count["n"]


def test_each_draft_of_a_batch_gets_its_own_notes_and_meeting_and_suppression(
    world: World, tmp_path: Path
) -> None:
    """Given notes on Dana, two meetings in her outreach, and Sam's address suppressed
    after his step was claimed, when one batch drafts both (what a batch needs is read
    for all its steps at once), then Dana's draft has her notes, oldest first, and her
    latest meeting, and Sam's step is cancelled without a draft."""
    override = tmp_path / "templates"
    override.mkdir()
    (override / "first_cold.txt.j2").write_text(SHOWS_NOTES_AND_MEETING, encoding="utf-8")
    steps = claim_both(world)
    account_id, dana_id, dana_outreach = outreach_of(world, DANA)
    now = world.clock()
    with world.app.store.write() as session:
        session.add(Note(contact_id=dana_id, body="met at the fair", created_at=now))
        session.add(Note(contact_id=dana_id, body="likes R", created_at=now + timedelta(1)))
        for uid, days, summary in (("m1", 3, "the first call"), ("m2", 9, "the second call")):
            session.add(
                Meeting(
                    account_id=account_id,
                    outreach_id=dana_outreach,
                    uid=uid,
                    start=now + timedelta(days=days),
                    end=now + timedelta(days=days, minutes=30),
                    status="booked",
                    summary=summary,
                )
            )
        session.add(Suppression(email=SAM, reason="opt_out", at=now))
    outcomes = create_drafts(world.app, steps, TemplateSet(override))
    assert sorted(o.outcome for o in outcomes) == ["cancelled", "created"]
    body = world.draft_for(DANA, "first_outreach").message.get_content()
    assert "Notes: met at the fair\nlikes R" in body
    assert "Meeting: the second call" in body
    assert world.steps(SAM)[0][2] == "cancelled"
    assert [d.key for d in world.mailbox.drafts() if SAM in str(d.message["To"])] == []


def test_a_batch_runs_as_many_statements_as_one_draft(tmp_path: Path, database_url: str) -> None:
    """Given four first drafts due, when one is drafted alone and the other three in one
    batch, then the batch runs no more statements than the single draft did: each step's
    suppression, notes and meeting are read for the whole batch at once, and the steps
    and outreaches are written together when the batch is recorded."""
    with started_world(tmp_path, database_url, MONDAY, FOUR_CONTACTS) as world:
        steps, _, _ = due_work(world.app, world.clock(), 100)
        assert len(steps) == 4
        alone, one = count_statements(world, lambda: create_drafts(world.app, steps[:1]))
        batch, three = count_statements(world, lambda: create_drafts(world.app, steps[1:]))
        assert [o.outcome for o in alone + batch] == ["created"] * 4
        assert three == one
