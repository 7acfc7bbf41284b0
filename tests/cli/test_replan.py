"""Changing the time zone re-plans the drafts into the new zone's working hours."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.clitools import Cli

WEDNESDAY_EVENING_IN_BERLIN = datetime(2026, 12, 2, 21, 52, tzinfo=UTC)  # 22:52 in Berlin
ONE = "name,email,organization,role,how_found\nDana Kim,dana@example.org,Harbor,analyst,a panel\n"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.delenv("OUTREACH_DATABASE_URL", raising=False)
    monkeypatch.setenv("OUTREACH_HOME", str(tmp_path / "ws"))
    cli = Cli(capsys, tmp_path / "ws", monkeypatch, now=WEDNESDAY_EVENING_IN_BERLIN)
    (tmp_path / "one.csv").write_text(ONE, encoding="utf-8")
    # A zone chosen by mistake: in Los Angeles it is 13:52, inside the send window.
    cli.set_up_ada(tmp_path / "one.csv", ONE, timezone="America/Los_Angeles")
    return cli


def coming_up(cli: Cli) -> list[str]:
    out = cli("status").out
    section = out.split("Coming up", 1)[1].split("\n\n", 1)[0]
    return [line.strip() for line in section.splitlines()[1:] if line.strip()]


def test_a_new_time_zone_moves_a_draft_due_now_to_the_morning_there(cli: Cli) -> None:
    """Given a first draft planned in the wrong zone (due now, 22:52 in Berlin), when the
    person sets Europe/Berlin, then status shows it coming at 08:30 the next morning in
    Berlin, and a tick that evening makes no draft."""
    assert cli("start", "Dana Kim").code == 0
    assert coming_up(cli) == ["Dana Kim: first outreach to be drafted (at Wed 02 Dec 13:52)"]
    toml = cli.workspace / "outreach.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace("America/Los_Angeles", "Europe/Berlin"),
        encoding="utf-8",
    )
    assert coming_up(cli) == ["Dana Kim: first outreach to be drafted (at Thu 03 Dec 08:30)"]
    ticked = cli("tick", "--json")
    assert ticked.json()["drafts_created"] == 0
    assert coming_up(cli) == ["Dana Kim: first outreach to be drafted (at Thu 03 Dec 08:30)"]


def test_a_draft_inside_the_new_working_hours_keeps_its_time(cli: Cli) -> None:
    """A draft due in the new zone's working hours is left where it is."""
    assert cli("start", "Dana Kim").code == 0
    toml = cli.workspace / "outreach.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace("America/Los_Angeles", "America/Denver"),
        encoding="utf-8",
    )
    assert coming_up(cli) == ["Dana Kim: first outreach to be drafted (at Wed 02 Dec 14:52)"]
