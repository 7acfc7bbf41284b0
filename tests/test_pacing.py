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
