"""Running it: tick, digest, cron, templates, the demo, on the local Maildir and vdir."""

from __future__ import annotations

import email
import email.policy
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.clitools import Cli, local_ada

CONTACTS = """name,email,organization,role,how_found
Dana Kim,dana.kim@example.org,County Health Department,epidemiologist,the department's staff page
Sam Ortiz,sam.ortiz@example.net,Global Health Partners,,a panel at the career fair
"""


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return local_ada(capsys, tmp_path, monkeypatch, CONTACTS)


def drafts(workspace: Path) -> list[email.message.EmailMessage]:
    folder = workspace / "mail" / ".Drafts" / "cur"
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(folder.glob("*"))
    ]


def test_tick_drafts_due_outreach_into_the_maildir_once(cli: Cli) -> None:
    cli("start", "Dana Kim")
    first = cli("tick", "--json")
    assert first.code == 0, first.err
    assert first.json()["drafts_created"] == 1
    second = cli("tick", "--json").json()
    assert second["drafts_created"] == 0
    found = drafts(cli.workspace)
    assert [str(d["To"]) for d in found] == ["Dana Kim <dana.kim@example.org>"]
    names = [p.name for p in (cli.workspace / "mail" / ".Drafts" / "cur").iterdir()]
    assert all(name.endswith(":2,D") for name in names)
    assert cli("status", "--json").json()["funnel"] == {"outreach_drafted": 1}


def test_a_missing_field_fails_the_step_visibly_and_drafts_nothing(cli: Cli) -> None:
    """Given Sam without the role the template needs, when the tick runs, then it exits 1
    (cron mails it), drafts nothing, and status, the digest and deadletters all say what
    is missing and how to fix it."""
    cli("start", "Sam Ortiz")
    result = cli("tick", "--json")
    assert result.code == 1
    assert result.json()["steps_failed"] == 1
    assert drafts(cli.workspace) == []
    failed = cli("deadletters", "list", "--json").json()
    assert "contact.role" in failed[0]["error"]
    assert "outreach contacts set" in failed[0]["error"]
    listing = cli("deadletters", "list").out
    assert [word for word in listing.split()[:5] if word.isalpha()] == ["id", "step", "why"]
    assert "contact.role" in listing
    waiting = cli("status", "--json").json()["waiting_on_you"]
    assert [(w["contact"], w["step"]) for w in waiting] == [("Sam Ortiz", "first_outreach")]
    assert "contact.role" in waiting[0]["why"]
    digest = cli("digest").out
    assert "NOT DRAFTED: NEEDS YOU (1)" in digest
    assert "1 thing needs you" in digest


def test_deadletters_retry_of_an_unknown_step_says_so(cli: Cli) -> None:
    result = cli("deadletters", "retry", "999")
    assert result.code == 2
    assert "no failed step with id 999" in result.err


def test_a_corrupt_message_or_calendar_file_does_not_stop_the_tick(cli: Cli) -> None:
    cli("start", "Dana Kim")
    cli("tick")
    (cli.workspace / "mail" / "new").mkdir(parents=True, exist_ok=True)
    (cli.workspace / "mail" / "new" / "1.broken.host").write_bytes(b"\x00\xff not mail")
    (cli.workspace / "calendar" / "broken.ics").write_text("BEGIN:VCALENDAR\nnonsense")
    (cli.workspace / "calendar" / "no-end.ics").write_text(
        "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:x1\nDTSTART:20260302T100000Z\n"
        "SUMMARY:no end\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    result = cli("tick", "--json")
    assert result.code == 0, result.err


def test_templates_check_lists_each_missing_field_per_contact(cli: Cli) -> None:
    result = cli("templates", "check", "--json")
    assert result.code == 1
    problems = result.json()["problems"]
    assert {(p["contact"], p["template"]) for p in problems} == {("Sam Ortiz", "first_cold")}
    assert problems[0]["missing"] == ["contact.role"]


def test_templates_preview_shows_the_message_as_it_would_be_drafted(cli: Cli) -> None:
    result = cli("templates", "preview", "first_cold", "Dana Kim")
    assert result.code == 0, result.err
    assert "To: Dana Kim <dana.kim@example.org>" in result.out
    assert "Subject: " in result.out
    assert "Hi Dana" in result.out
    assert cli("templates", "preview", "no_such_kind", "Dana Kim").code == 2


def test_digest_is_delivered_once_a_day_unless_forced(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "digest.eml"
    assert cli("digest", "--to", str(target), "--json").json()["delivered"] is True
    assert target.is_file()
    again = cli("digest", "--to", str(target), "--json").json()
    assert again["delivered"] is False
    assert "--force" in again["reason"]
    assert cli("digest", "--to", str(target), "--force", "--json").json()["delivered"] is True
    printed = cli("digest")
    assert "DRAFTS WAITING FOR YOU" in printed.out
    assert cli("digest", "--html").out.startswith("<!DOCTYPE html>")


def test_a_digest_saved_to_a_file_does_not_stop_the_days_inbox_digest(
    cli: Cli, tmp_path: Path
) -> None:
    assert cli("digest", "--json").json()["delivered"] is False  # stdout is only a look
    assert cli("digest", "--to", str(tmp_path / "copy.eml"), "--json").json()["delivered"]
    assert cli("digest", "--to", "inbox", "--json").json()["delivered"] is True
    assert cli("digest", "--to", "inbox", "--json").json()["delivered"] is False


def test_the_inbox_gets_one_digest_a_day_whatever_else_is_delivered_between(
    cli: Cli, tmp_path: Path
) -> None:
    """Given the digest delivered to the inbox, then to a file, when it is asked for the
    inbox again the same day, then it is not delivered again; the next day it is."""
    inbox = cli.workspace / "mail" / "new"
    assert cli("digest", "--to", "inbox", "--json").json()["delivered"] is True
    assert cli("digest", "--to", str(tmp_path / "copy.eml"), "--json").json()["delivered"]
    again = cli("digest", "--to", "inbox", "--json").json()
    assert again["delivered"] is False
    assert "--force" in again["reason"]
    assert len(list(inbox.glob("*"))) == 1
    cli.at(cli.now + timedelta(days=1))
    assert cli("digest", "--to", "inbox", "--json").json()["delivered"] is True
    assert len(list(inbox.glob("*"))) == 2


def test_a_digest_to_a_folder_that_does_not_exist_is_refused_plainly(
    cli: Cli, tmp_path: Path
) -> None:
    result = cli("digest", "--to", str(tmp_path / "nowhere" / "digest.eml"))
    assert result.code == 2
    assert "does not exist; create it" in " ".join(result.err.split())
    assert "Traceback" not in result.err


def test_digest_to_inbox_lands_in_the_persons_own_inbox(cli: Cli) -> None:
    assert cli("digest", "--to", "inbox").code == 0
    inbox = list((cli.workspace / "mail" / "new").glob("*")) + list(
        (cli.workspace / "mail" / "cur").glob("*")
    )
    assert len(inbox) == 1
    message = email.message_from_bytes(inbox[0].read_bytes(), policy=email.policy.default)
    assert "ada@example.edu" in str(message["To"])


def test_cron_gives_the_digest_time_in_the_systems_zone(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a person in UTC and a machine in New York, 06:45 for the person is written as
    the machine's local time, which cron uses."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        result = cli("cron", "--digest-at", "06:45")
    finally:
        monkeypatch.undo()
        time.tzset()
    wanted = cli.now.replace(hour=6, minute=45).astimezone(ZoneInfo("America/New_York"))
    line = [line for line in result.out.splitlines() if "digest --to inbox" in line]
    assert line[0].startswith(f"{wanted.minute} {wanted.hour} * * * ")
    assert "06:45 in UTC" in result.out


def test_cron_without_a_workspace_says_to_run_init(cli: Cli, tmp_path: Path) -> None:
    result = cli("cron", "-w", str(tmp_path / "nowhere"))
    assert result.code == 2
    assert "outreach init" in result.err


def test_cron_prints_a_tick_and_a_digest_line(cli: Cli) -> None:
    result = cli("cron", "--digest-at", "06:45")
    lines = [line for line in result.out.splitlines() if not line.startswith("#")]
    assert lines[0].startswith("*/15 * * * * OUTREACH_HOME=")
    assert "tick" in lines[0]
    assert lines[1].startswith("45 6 * * * ")
    assert "digest --to inbox" in lines[1]


def test_worker_refuses_the_embedded_broker_with_advice(cli: Cli) -> None:
    result = cli("worker")
    assert result.code == 2
    assert "OUTREACH_BROKER_URL" in result.err


def test_demo_plays_the_whole_lifecycle_offline(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OUTREACH_DATABASE_URL", raising=False)
    cli = Cli(capsys, tmp_path, monkeypatch)
    result = cli("demo", str(tmp_path / "demo"))
    assert result.code == 0, result.err
    out = result.out
    assert "[simulated" in out
    assert "Prep notes written to your calendar" in out
    assert "The thank-you draft" in out
    assert "suggested we talk" in out  # the referral outreach names the referrer
    assert "Today's digest" in out
    assert str(tmp_path / "demo" / "mail") in out
    status = cli("status", "--json", "-w", str(tmp_path / "demo")).json()
    assert status["funnel"]["bounced"] == 1
    assert status["funnel"]["paused_ooo"] == 1
    assert status["funnel"]["thanked"] == 2
    # The simulated week has ended by now: no conversation already held is "coming up".
    assert [u for u in status["upcoming"] if u["step"] == "meeting"] == []
    assert cli("demo", str(tmp_path / "demo")).code == 2  # not over an existing one
    assert cli("demo", str(tmp_path / "demo"), "--force").code == 0  # but over a demo


def test_demo_force_never_replaces_a_directory_it_did_not_make(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = tmp_path / "my-workspace"
    mine.mkdir()
    (mine / "outreach.toml").write_text("[profile]\n", encoding="utf-8")
    result = Cli(capsys, tmp_path, monkeypatch)("demo", str(mine), "--force")
    assert result.code == 2
    assert "not an earlier demo" in result.err
    assert (mine / "outreach.toml").is_file()


def test_accounts_add_local_appends_a_validated_account(cli: Cli, tmp_path: Path) -> None:
    result = cli(
        "accounts",
        "add",
        "local",
        "--name",
        "uni",
        "--address",
        "Ada@Uni.Example.edu",
        "--maildir",
        str(tmp_path / "unimail"),
        "--calendar",
        str(tmp_path / "unical"),
    )
    assert result.code == 0, result.err
    listed = cli("accounts", "list", "--json").json()
    assert [(a["name"], a["address"]) for a in listed] == [
        ("local", "ada@example.edu"),
        ("uni", "ada@uni.example.edu"),
    ]
    again = cli("accounts", "add", "local", "--name", "uni", "--address", "x@example.edu")
    assert again.code == 2
    assert "exists already" in again.err
    assert cli("tick").code == 0
    assert (tmp_path / "unimail" / ".Drafts").is_dir()


def test_a_name_that_differs_only_in_case_is_named_as_each_command_takes_it(cli: Cli) -> None:
    """`accounts remove` takes NAME as an argument, `accounts add` takes --name: each
    error speaks of the name the way it was given, and nothing changes."""
    before = (cli.workspace / "outreach.toml").read_text(encoding="utf-8")
    removed = cli("accounts", "remove", "Local", "--yes")
    added = cli("accounts", "add", "local", "--name", "Local", "--address", "a@example.edu")
    assert (removed.code, added.code) == (2, 2)
    assert "no account named 'Local'; did you mean 'local'?" in " ".join(removed.err.split())
    assert "--name" not in removed.err
    assert "--name Local: account 'local' differs only in letter case" in " ".join(
        added.err.split()
    )
    assert (cli.workspace / "outreach.toml").read_text(encoding="utf-8") == before


def test_a_second_local_account_cannot_share_the_first_ones_folders(cli: Cli) -> None:
    """Two accounts on one Maildir would see each other's mail as their own."""
    before = (cli.workspace / "outreach.toml").read_text(encoding="utf-8")
    shared = cli("accounts", "add", "local", "--name", "uni", "--address", "ada@uni.example.edu")
    assert shared.code == 2
    assert "account 'local' uses that folder already" in " ".join(shared.err.split())
    assert (cli.workspace / "outreach.toml").read_text(encoding="utf-8") == before


def test_an_unauthorized_gmail_account_is_flagged_and_not_retried_in_a_loop(cli: Cli) -> None:
    path = cli.workspace / "outreach.toml"
    path.write_text(
        path.read_text() + '\n[[accounts]]\nname = "gmail"\nkind = "gmail"\n'
        'address = "ada@gmail.example.com"\n'
    )
    first = cli("tick", "--json")
    assert first.code == 1
    assert any("gmail" in e and "authoriz" in e for e in first.json()["errors"])
    status = cli("status", "--json").json()
    assert [a["account"] for a in status["accounts_needing_auth"]] == ["gmail"]
    second = cli("tick", "--json")
    assert any("outreach accounts add gmail" in e for e in second.json()["errors"])
    assert cli("accounts", "list", "--json").json()[1]["needs_reauth"] is True


def test_contacts_set_fills_a_missing_field_and_the_failed_step_is_retried(cli: Cli) -> None:
    cli("start", "Sam Ortiz")
    assert cli("tick", "--json").json()["steps_failed"] == 1  # no role yet
    result = cli("contacts", "set", "Sam Ortiz", "role=program manager", "custom.school=State U")
    assert result.code == 0, result.err
    shown = cli("contacts", "show", "Sam Ortiz", "--json").json()
    assert (shown["role"], shown["custom"]["school"]) == ("program manager", "State U")
    assert cli("tick", "--json").json()["drafts_created"] == 1
    assert cli("templates", "check").code == 0


def test_contacts_set_refuses_unknown_fields_and_bad_values(cli: Cli) -> None:
    assert "not a contact field" in cli("contacts", "set", "Sam Ortiz", "rank=3").err
    assert "time zone" in cli("contacts", "set", "Sam Ortiz", "timezone=Mars/Base").err
    taken = cli("contacts", "set", "Sam Ortiz", "email=dana.kim@example.org")
    assert taken.code == 2
    assert "another contact" in taken.err
    assert cli("contacts", "set", "Sam Ortiz", "role").code == 2
