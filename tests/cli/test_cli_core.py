"""The commands a new user runs first: init, contacts import, start, status, notes, referral.

Each test runs on SQLite and on PostgreSQL (OUTREACH_DATABASE_URL points at a fresh schema).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clitools import Cli, Result, one_line

LINKEDIN = """Notes:
"When exporting your connection data, you may notice that some of the email addresses are missing."

First Name,Last Name,URL,Email Address,Company,Position,Connected On
Dana,Kim,https://www.linkedin.com/in/dana-kim-example,dana.kim@example.org,County Health Department,Epidemiologist,12 Mar 2025
Lee,Chen,https://www.linkedin.com/in/lee-chen-example,,Acme Labs,Data Scientist,01 Feb 2024
Sam,Ortiz,https://www.linkedin.com/in/sam-ortiz-example,Sam.Ortiz@Example.NET,Global Health Partners,Program Manager,15 Jun 2023
"""


def refer(cli: Cli, name: str, email: str, *more: str) -> Result:
    """`outreach referral add` of someone Dana Kim suggested."""
    return cli("referral", "add", "--from", "Dana Kim", "--name", name, "--email", email, *more)


@pytest.fixture
def ready(cli: Cli, tmp_path: Path) -> Cli:
    """A workspace with the LinkedIn export imported."""
    result = cli(
        "init",
        "--name",
        "Ada Park",
        "--email",
        "ada@example.edu",
        "--school",
        "State University, class of 2026",
        "--field",
        "public health",
        "--background",
        "biology major",
        "--intro",
        "I study biology.",
        "--timezone",
        "America/Chicago",
    )
    assert result.code == 0, result.err
    export = tmp_path / "Connections.csv"
    export.write_text(LINKEDIN, encoding="utf-8")
    assert cli("contacts", "import", str(export)).code == 0
    return cli


def test_init_creates_the_workspace_and_refuses_to_overwrite_it(cli: Cli) -> None:
    first = cli("init", "--name", "Ada", "--email", "ada@example.edu", "--timezone", "UTC")
    assert first.code == 0, first.err
    assert (cli.workspace / "outreach.toml").is_file()
    assert (cli.workspace / "mail").is_dir()
    again = cli("init", "--name", "Ada", "--email", "ada@example.edu", "--timezone", "UTC")
    assert again.code == 2
    assert "--force" in again.err


def test_init_with_an_unknown_time_zone_writes_nothing(cli: Cli) -> None:
    result = cli("init", "--name", "Ada", "--email", "ada@example.edu", "--timezone", "Nowhere/X")
    assert result.code == 2
    assert "--timezone" in result.err
    assert not cli.workspace.exists()


def test_a_command_without_a_workspace_says_to_run_init(cli: Cli) -> None:
    result = cli("status")
    assert result.code == 2
    assert "outreach init" in result.err


def test_a_bad_setting_stops_every_command_with_exit_2(cli: Cli) -> None:
    cli("init", "--name", "Ada", "--email", "ada@example.edu", "--timezone", "UTC")
    path = cli.workspace / "outreach.toml"
    path.write_text(path.read_text() + "\n[limits]\nnew_outreach_per_dai = 3\n")
    result = cli("status")
    assert result.code == 2
    assert "limits.new_outreach_per_dai" in result.err
    assert "outreach.toml" in result.err


def test_importing_a_linkedin_export_twice_changes_nothing(ready: Cli, tmp_path: Path) -> None:
    again = ready("contacts", "import", str(tmp_path / "Connections.csv"), "--json").json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)
    listed = ready("contacts", "list", "--json").json()
    assert [c["email"] for c in listed] == ["dana.kim@example.org", None, "sam.ortiz@example.net"]
    assert listed[0]["custom"]["connected_on"] == "12 Mar 2025"


def test_a_file_with_a_bad_row_imports_nothing_and_names_the_line(
    ready: Cli, tmp_path: Path
) -> None:
    bad = tmp_path / "people.csv"
    bad.write_text("name,email\nRiya Das,riya@example.com\nBo Li,not-an-address\n")
    result = ready("contacts", "import", str(bad))
    assert result.code == 2
    assert "people.csv:3" in result.err
    assert "--skip-invalid" in result.err
    names = [c["name"] for c in ready("contacts", "list", "--json").json()]
    assert "Riya Das" not in names


def test_skip_invalid_imports_the_valid_rows_and_reports_the_rest(
    ready: Cli, tmp_path: Path
) -> None:
    bad = tmp_path / "people.csv"
    bad.write_text("name,email\nRiya Das,riya@example.com\nBo Li,not-an-address\n")
    report = ready("contacts", "import", str(bad), "--skip-invalid", "--json").json()
    assert report["created"] == 1
    assert len(report["skipped"]) == 1
    assert "people.csv:3" in report["skipped"][0]


def test_start_all_plans_one_first_outreach_per_contact_with_an_address(ready: Cli) -> None:
    report = ready("start", "--all", "--json").json()
    assert sorted(s["name"] for s in report["started"]) == ["Dana Kim", "Sam Ortiz"]
    assert [s["name"] for s in report["skipped"]] == ["Lee Chen"]
    assert "no email" in report["skipped"][0]["reason"]
    again = ready("start", "--all", "--json").json()
    assert again["started"] == []
    assert all(
        "already started" in s["reason"] or "no email" in s["reason"] for s in again["skipped"]
    )


def test_status_shows_the_funnel_and_what_comes_next(ready: Cli) -> None:
    ready("start", "Dana Kim")
    status = ready("status", "--json").json()
    assert status["funnel"] == {"planned": 1}
    assert [u["contact"] for u in status["upcoming"]] == ["Dana Kim"]
    text = ready("status").out
    assert "planned" in text
    assert "Dana Kim" in text


def test_start_names_an_unknown_contact(ready: Cli) -> None:
    result = ready("start", "Nobody Here")
    assert result.code == 2
    assert "Nobody Here" in result.err


def test_notes_are_recorded_and_shown(ready: Cli) -> None:
    assert ready("notes", "Dana Kim", "--add", "Learn R before SQL").code == 0
    shown = ready("notes", "dana.kim@example.org", "--json").json()
    assert [n["note"] for n in shown["notes"]] == ["Learn R before SQL"]


def test_a_recorded_referral_plans_an_outreach_naming_the_referrer(ready: Cli) -> None:
    result = refer(ready, "Jordan Reyes", "jordan@example.org", "--json")
    assert result.code == 0, result.err
    assert result.json() == {
        "id": 4,
        "name": "Jordan Reyes",
        "referred_by": "Dana Kim",
        "started": True,
    }
    shown = ready("contacts", "show", "jordan@example.org", "--json").json()
    assert shown["referred_by"] == "Dana Kim"
    assert shown["stage"] == "planned"


def test_a_referral_with_a_bad_address_is_refused(ready: Cli) -> None:
    result = refer(ready, "X", "x@")
    assert result.code == 2
    assert "--email" in result.err


def test_keep_in_touch_stop_needs_an_outreach_and_the_flag(ready: Cli) -> None:
    assert ready("keep-in-touch", "Dana Kim").code == 2
    assert ready("keep-in-touch", "Dana Kim", "--stop").code == 2  # not started yet
    ready("start", "Dana Kim")
    result = ready("keep-in-touch", "Dana Kim", "--stop")
    assert result.code == 0, result.err
    assert "No more keep-in-touch" in result.out


def test_a_referral_without_a_name_is_refused(ready: Cli) -> None:
    """Given --name "", when a referral is recorded, then it exits 2 naming --name and no
    contact or outreach is added."""
    result = refer(ready, " ", "e@example.org")
    assert result.code == 2
    assert "--name: give the person's name" in result.err
    assert "e@example.org" not in [c["email"] for c in ready("contacts", "list", "--json").json()]


def test_a_referral_to_the_referrers_own_address_is_refused(ready: Cli) -> None:
    """Given the referrer's own address (in any case), when a referral is recorded, then it
    exits 2 saying whose address it is, and the referrer is not made their own referral."""
    result = refer(ready, "Jo Reyes", "Dana.Kim@Example.org")
    assert result.code == 2
    assert "that is Dana Kim's own address" in one_line(result.err)
    shown = ready("contacts", "show", "Dana Kim", "--json").json()
    assert shown["referred_by"] is None
    assert ready("status", "--json").json()["funnel"] == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[policy]\nmax_nudgez = 1\n",
            ["unknown key policy.max_nudgez", "policy table", "max_nudges, nudge_after"],
        ),
        ("[polcy]\nmax_nudges = 1\n", ["unknown table 'polcy'", "known tables: accounts"]),
        ('[profile]\ntimezone = "America"\n', ["profile.timezone 'America'", "Europe/Berlin"]),
    ],
)
def test_a_settings_error_is_printed_whole(cli: Cli, text: str, expected: list[str]) -> None:
    """Given an outreach.toml with an unknown key, an unknown table or a folder of zones as
    time zone, when a command runs, then it exits 2 with the whole message: the table named
    and its known keys listed, nothing swallowed by the console, no traceback."""
    cli.workspace.mkdir()
    (cli.workspace / "outreach.toml").write_text(text, encoding="utf-8")
    result = cli("status")
    assert result.code == 2
    for part in expected:
        assert part in one_line(result.err)
    assert "Traceback" not in result.err
