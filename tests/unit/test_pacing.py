"""Starting many contacts spreads their first drafts over workdays, per_day at most."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from pipeline.models import Step
from tests.harness import World, make_world

FRIDAY = datetime(2026, 11, 6, 15, 0, tzinfo=UTC)  # 09:00 in Chicago


@pytest.fixture
def world(tmp_path: Path, sqlite_url: str) -> Iterator[World]:
    world = make_world(tmp_path, sqlite_url, FRIDAY)
    contacts = tmp_path / "c.csv"
    rows = [f"Person {n},p{n}@example.org,Org,analyst,a panel" for n in range(30)]
    contacts.write_text("name,email,organization,role,how_found\n" + "\n".join(rows) + "\n")
    world.import_csv(contacts)
    yield world
    world.app.close()


def start(world: World, refs: list[str], per_day: int) -> None:
    world.start_named(*refs, per_day=per_day)


def due_days(world: World) -> Counter[str]:
    zone = ZoneInfo("America/Chicago")
    with world.app.store.read() as session:
        dues = session.scalars(select(Step.due_at).where(Step.kind == "first_outreach"))
        return Counter(due.astimezone(zone).strftime("%a %d") for due in dues)


def test_first_drafts_skip_the_weekend_and_respect_the_daily_limit(world: World) -> None:
    start(world, [f"p{n}@example.org" for n in range(25)], per_day=10)
    assert due_days(world) == {"Fri 06": 10, "Mon 09": 10, "Tue 10": 5}


def test_a_second_start_the_same_day_counts_the_first(world: World) -> None:
    start(world, [f"p{n}@example.org" for n in range(8)], per_day=10)
    start(world, [f"p{n}@example.org" for n in range(8, 13)], per_day=10)
    assert due_days(world) == {"Fri 06": 10, "Mon 09": 3}


def test_a_paced_first_draft_is_due_the_same_day_in_the_plan_and_in_the_steps(
    world: World,
) -> None:
    """The outreach's plan is the one the steps table carries out: a first draft moved to a
    later day by the pacing is due then in both."""
    from pipeline.lifecycle import Outreach, StepKind
    from pipeline.models import Outreach as OutreachRow

    start(world, [f"p{n}@example.org" for n in range(12)], per_day=10)
    with world.app.store.read() as session:
        rows = session.scalars(select(OutreachRow)).all()
        planned = {
            (row.id, step.seq): step.due_at
            for row in rows
            for step in Outreach.from_dict(row.state).pending(StepKind.FIRST_OUTREACH)
        }
        table = {
            (step.outreach_id, step.seq): step.due_at
            for step in session.scalars(select(Step).where(Step.kind == "first_outreach"))
        }
    assert planned == table
    assert len(set(table.values())) == 2, "two days: the pacing moved two drafts to Monday"
