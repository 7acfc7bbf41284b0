"""Time is an input: $OUTREACH_NOW sets the clock of every command, whatever the real hour.

The flow below runs at hours when no draft may be made (a Saturday night, a weekday
evening) and proves that what the person is told, and what the tick does, follows the
clock the test sets, not the machine's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.clock import FixedClock, ShiftedClock, parse_clock, system_clock
from pipeline.errors import SettingsError
from tests.clitools import Cli

BERLIN = ZoneInfo("Europe/Berlin")
CONTACTS = """name,email,organization,role,how_found
Dana Kim,dana.kim@example.org,County Health Department,epidemiologist,the staff page
"""


def test_an_instant_with_a_zone_is_a_clock_that_stands_still() -> None:
    clock = parse_clock("2026-12-05T03:00:00+01:00")
    assert clock() == datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    assert clock() == clock()
    assert isinstance(clock, FixedClock)


def test_a_shift_is_the_system_clock_moved_and_running_on() -> None:
    clock = parse_clock("+2d3h")
    assert isinstance(clock, ShiftedClock)
    assert clock.shift == timedelta(days=2, hours=3)
    assert parse_clock("-90s") == ShiftedClock(timedelta(seconds=-90))
    assert abs(clock() - (system_clock() + timedelta(days=2, hours=3))) < timedelta(seconds=5)


def test_nothing_set_is_the_system_clock() -> None:
    assert parse_clock("") is system_clock
    assert parse_clock("  ") is system_clock


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("tomorrow", "is not a time"),
        ("2026-12-05T03:00", "has no zone"),
        ("+", "a shift needs an amount"),
        ("+999999999d", "too large"),
        ("2026-13-01T00:00Z", "is not a time"),
    ],
)
def test_a_value_that_is_no_clock_is_a_settings_error_naming_the_variable(
    value: str, says: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_clock(value)
    assert "OUTREACH_NOW" in str(raised.value)
    assert says in str(raised.value)


def test_a_bad_outreach_now_stops_a_command_with_exit_2(berlin: Cli) -> None:
    berlin.monkeypatch.setenv("OUTREACH_NOW", "half past nine")
    result = berlin("status")
    assert result.code == 2
    assert "OUTREACH_NOW='half past nine'" in result.err
    assert "Traceback" not in result.err


@pytest.fixture
def berlin(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """A person in Berlin with one contact, on the local default."""
    monkeypatch.delenv("OUTREACH_DATABASE_URL", raising=False)
    monkeypatch.delenv("OUTREACH_BROKER_URL", raising=False)
    workspace = tmp_path / "ws"
    monkeypatch.setenv("OUTREACH_HOME", str(workspace))
    cli = Cli(capsys, workspace, monkeypatch)
    cli.set_up_ada(tmp_path / "contacts.csv", CONTACTS, timezone="Europe/Berlin")
    return cli


def _drafts(workspace: Path) -> list[Path]:
    return sorted((workspace / "mail" / ".Drafts" / "cur").glob("*"))


@pytest.mark.parametrize(
    ("started", "window_opens", "said"),
    [
        # Saturday 03:00 in Berlin: nothing until Monday 08:30.
        (
            datetime(2026, 12, 5, 3, 0, tzinfo=BERLIN),
            datetime(2026, 12, 7, 8, 30, tzinfo=BERLIN),
            "Mon 7 Dec at 08:30",
        ),
        # A Wednesday at 21:50: nothing until Thursday 08:30.
        (
            datetime(2026, 12, 9, 21, 50, tzinfo=BERLIN),
            datetime(2026, 12, 10, 8, 30, tzinfo=BERLIN),
            "tomorrow at 08:30",
        ),
    ],
    ids=["saturday-0300", "weekday-2150"],
)
def test_outreach_started_out_of_hours_is_drafted_when_the_window_opens(
    berlin: Cli, started: datetime, window_opens: datetime, said: str
) -> None:
    """Given the clock out of the send window in the person's zone, when they start and
    tick, then they are told in their own time when drafts will be made, nothing is
    drafted until the window opens, and then exactly one draft."""
    berlin.at(started)
    begun = berlin("start", "Dana Kim")
    assert begun.code == 0
    told = " ".join(begun.out.split())
    assert f"draft {said}" in told
    assert f"Drafts are made from {said} (your send window, Europe/Berlin)" in told
    assert "UTC" not in told
    planned = berlin("status", "--json").json()
    assert planned["funnel"] == {"planned": 1}

    at_night = berlin("tick", "--json")
    assert at_night.code == 0, at_night.err
    assert at_night.json()["drafts_created"] == 0
    assert _drafts(berlin.workspace) == []

    berlin.at(window_opens - timedelta(minutes=1))
    assert berlin("tick", "--json").json()["drafts_created"] == 0

    berlin.at(window_opens)
    opened = berlin("tick", "--json")
    assert opened.code == 0, opened.err
    assert opened.json()["drafts_created"] == 1
    assert len(_drafts(berlin.workspace)) == 1
    assert berlin("status", "--json").json()["funnel"] == {"outreach_drafted": 1}
