"""`outreach init`: every value is checked before anything is written, and `--force` updates
the profile of an existing workspace without losing the rest of its outreach.toml.

Each test runs on SQLite and on PostgreSQL (OUTREACH_DATABASE_URL points at a fresh schema).
"""

from __future__ import annotations

import io
import sys
import tomllib
from pathlib import Path

import pytest

from tests.clitools import Cli, one_line

ADA = ("--name", "Ada Park", "--email", "ada@example.edu", "--timezone", "UTC")


class Terminal(io.StringIO):
    """Typed answers, one a line, on a standard input that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def answering(monkeypatch: pytest.MonkeyPatch, *answers: str) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal("".join(f"{a}\n" for a in answers)))


def toml(cli: Cli) -> dict[str, object]:
    return tomllib.loads((cli.workspace / "outreach.toml").read_text(encoding="utf-8"))


def test_a_file_where_the_workspace_should_go_is_refused(cli: Cli, tmp_path: Path) -> None:
    """Given a plain file, when `init` is pointed at it, then it exits 2 saying it is a file,
    and the file is untouched."""
    afile = tmp_path / "afile"
    afile.write_text("mine\n")
    for target in (afile, afile / "inside"):
        result = cli("init", str(target), *ADA)
        assert result.code == 2, result.err
        assert f"{afile} is a file, not a directory" in one_line(result.err)
        assert "Traceback" not in result.err
    assert afile.read_text() == "mine\n"


def test_an_email_option_that_is_not_an_address_is_refused(cli: Cli) -> None:
    """Given --email not-an-email, when `init` runs, then it exits 2 naming --email and
    nothing is created."""
    result = cli("init", "--name", "Ada", "--email", "not-an-email", "--timezone", "UTC")
    assert result.code == 2
    assert "--email 'not-an-email'" in one_line(result.err)
    assert not cli.workspace.exists()


def test_the_profile_email_is_kept_normalized(cli: Cli) -> None:
    """Given an address in mixed case, when `init` runs, then the profile and the account
    hold it as contacts do: lowercase."""
    assert cli("init", "--name", "Ada", "--email", " Ada@Example.EDU ").code == 0
    written = toml(cli)
    assert written["profile"]["email"] == "ada@example.edu"  # type: ignore[index]
    assert written["accounts"][0]["address"] == "ada@example.edu"  # type: ignore[index]


@pytest.mark.parametrize("zone", ["Mars/Olympus", "America"])
def test_an_unknown_time_zone_option_is_refused_before_anything_is_created(
    cli: Cli, zone: str
) -> None:
    """Given --timezone with no such zone, when `init` runs, then it exits 2 naming the option
    and the value, says what to give, and creates no folder at all."""
    result = cli("init", "--name", "Ada", "--email", "ada@example.edu", "--timezone", zone)
    assert result.code == 2
    message = one_line(result.err)
    assert f"--timezone '{zone}': not a known time zone" in message
    assert "Europe/Berlin" in message
    assert ".tmp" not in message
    assert not cli.workspace.exists()


def test_the_prompt_asks_again_for_a_bad_address_and_a_bad_time_zone(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a terminal, when the person answers "ada at example" and then "Mars/Olympus",
    then each question is asked again and the workspace gets the corrected answers."""
    answering(
        monkeypatch,
        "Ada Park",
        "ada at example",
        "ada@example.edu",
        "State U",
        "biology",
        "public health",
        "I study biology.",
        "Mars/Olympus",
        "Europe/Berlin",
    )
    result = cli("init")
    assert result.code == 0, result.err
    assert "contains a space" in result.out
    assert "not a known time zone" in result.out
    profile = toml(cli)["profile"]
    assert profile["email"] == "ada@example.edu"  # type: ignore[index]
    assert profile["timezone"] == "Europe/Berlin"  # type: ignore[index]


def test_force_updates_the_profile_and_keeps_the_rest_of_the_file(cli: Cli) -> None:
    """Given a workspace with a second account, a policy override and a full profile, when
    `init --force --field ...` runs, then only the field changes; the other profile values,
    the accounts, the override and the comments stay."""
    assert cli("init", *ADA, "--school", "State U", "--intro", "I study biology.").code == 0
    path = cli.workspace / "outreach.toml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("# max_nudges = 2", "max_nudges = 1")
        + '\n[limits]\nnew_outreach_per_day = 3\n\n[[accounts]]\nname = "uni"\n'
        'kind = "local"\naddress = "ada@uni.example.edu"\nmaildir = "uni-mail"\n',
        encoding="utf-8",
    )
    before = toml(cli)
    result = cli("init", "--force", "--field", "epidemiology")
    assert result.code == 0, result.err
    after = toml(cli)
    assert after["profile"] == {**before["profile"], "field": "epidemiology"}  # type: ignore[dict-item]
    assert {k: v for k, v in after.items() if k != "profile"} == {
        k: v for k, v in before.items() if k != "profile"
    }
    assert "# nudge_after_business_days = 5" in path.read_text(encoding="utf-8")
    assert cli("status").code == 0


def test_force_refuses_a_file_it_cannot_update_in_place_and_changes_nothing(cli: Cli) -> None:
    """Given an outreach.toml whose profile is written as an inline table, when
    `init --force` runs, then it exits 2, says to edit the file by hand, and leaves it as
    it was."""
    cli.workspace.mkdir()
    path = cli.workspace / "outreach.toml"
    text = 'profile = { name = "Ada", email = "ada@example.edu" }\n\n[policy]\nmax_nudges = 1\n'
    path.write_text(text, encoding="utf-8")
    result = cli("init", "--force", "--field", "epidemiology")
    assert result.code == 2
    assert str(path) in one_line(result.err)
    assert "by hand" in one_line(result.err)
    assert path.read_text(encoding="utf-8") == text


def test_force_with_an_unknown_time_zone_changes_nothing(cli: Cli) -> None:
    """Given a workspace, when `init --force --timezone Mars/Olympus` runs, then it exits 2
    naming --timezone and the file is as it was."""
    assert cli("init", *ADA).code == 0
    path = cli.workspace / "outreach.toml"
    text = path.read_text(encoding="utf-8")
    result = cli("init", "--force", "--timezone", "Mars/Olympus")
    assert result.code == 2
    assert "--timezone" in result.err
    assert path.read_text(encoding="utf-8") == text
    assert not list(cli.workspace.glob("*.tmp"))


def test_templates_check_points_to_the_profile_table_not_to_init_force(cli: Cli) -> None:
    """Given a profile without an introduction, when `templates check` finds the gap, then
    its advice names the [profile] table of the workspace's outreach.toml, not `init --force`."""
    assert cli("init", *ADA).code == 0
    people = cli.workspace.parent / "people.csv"
    people.write_text("name,email\nDana Kim,dana@example.org\n", encoding="utf-8")
    assert cli("contacts", "import", str(people)).code == 0
    result = cli("templates", "check")
    assert result.code == 1
    advice = one_line(result.out)
    assert "init --force" not in advice
    assert f"[profile] table of {cli.workspace / 'outreach.toml'}" in advice


def test_profile_text_is_kept_exactly_whatever_it_holds(cli: Cli) -> None:
    """Given profile text with quotes, a backslash, a line break and a DEL character, when
    `init` writes it, then outreach.toml reads back the same text."""
    intro = 'I say "hi" \\ and\nmore\x7f'
    result = cli("init", *ADA, "--intro", intro)
    assert result.code == 0, result.err
    assert toml(cli)["profile"]["intro"] == intro  # type: ignore[index]
