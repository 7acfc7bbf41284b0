"""A student's first hour: advice that works, help that reads, times in their own zone."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipeline.quickread import session_query
from pipeline.status import build_status
from tests.clitools import Cli
from tests.harness import DANA, World

FIVE = "name,email,organization,role,how_found\n" + "".join(
    f"Person {n},p{n}@example.org,Org {n},analyst,a panel\n" for n in range(5)
)


@pytest.fixture
def bare(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """A workspace made without background, field or intro (a script ran init)."""
    monkeypatch.delenv("OUTREACH_DATABASE_URL", raising=False)
    monkeypatch.setenv("OUTREACH_HOME", str(tmp_path / "ws"))
    cli = Cli(capsys, tmp_path / "ws", monkeypatch)
    made = cli("init", "--name", "Ada Park", "--email", "ada@example.edu", "--timezone", "UTC")
    assert made.code == 0, made.err
    assert "your profile has no background, field, intro yet" in " ".join(made.err.split())
    (tmp_path / "five.csv").write_text(FIVE, encoding="utf-8")
    assert cli("contacts", "import", str(tmp_path / "five.csv")).code == 0
    return cli


def test_a_missing_profile_field_is_reported_once_with_where_to_set_it(bare: Cli) -> None:
    """`templates check` names each of your own missing fields once, not once per contact
    per template, and says where it goes."""
    result = bare("templates", "check")
    assert result.code == 1
    lines = [line for line in result.out.splitlines() if "Your profile has no" in line]
    assert [line.split(" (")[0] for line in lines] == [
        "Your profile has no background",
        "Your profile has no field",
        "Your profile has no intro",
    ]
    assert all("profile table of" in line for line in lines)
    assert "Person 0" not in result.out  # the contacts lack nothing
    profile = bare("templates", "check", "--json").json()["profile"]
    assert [gap["field"] for gap in profile] == ["me.background", "me.field", "me.intro"]


def test_a_step_failing_for_your_own_field_says_to_fill_your_profile(bare: Cli) -> None:
    """The advice in deadletters works when followed: not `contacts set` for a field of
    yours, but the profile; after that, a retry drafts it."""
    assert bare("start", "Person 0").code == 0
    assert bare("tick").code == 1
    (failed,) = bare("deadletters", "list", "--json").json()
    assert "profile table of outreach.toml" in failed["error"]
    assert "contacts set" not in failed["error"]
    toml = bare.workspace / "outreach.toml"
    text = toml.read_text(encoding="utf-8")
    for key, value in (
        ("background", "a biology senior"),
        ("field", "public health"),
        ("intro", "I study biology."),
    ):
        text = text.replace(f'{key} = ""', f'{key} = "{value}"')
    toml.write_text(text, encoding="utf-8")
    assert bare("deadletters", "retry").code == 0
    assert bare("tick", "--json").json()["drafts_created"] == 1


def test_cron_ticks_quietly_and_mails_only_what_needs_you(bare: Cli, tmp_path: Path) -> None:
    """A tick with --log prints nothing when all is well (cron mails nothing) and a short
    note saying where to look when a step needs the person; the log keeps both."""
    log = tmp_path / "cron.log"
    assert bare("tick", "--log", str(log)).out == ""
    assert bare("start", "Person 1").code == 0  # the profile lacks what drafts need
    needs = bare("tick", "--log", str(log))
    assert needs.code == 1
    assert needs.out.startswith("outreach: something needs you:")
    assert "Run `outreach status`" in needs.out
    assert len(needs.out.splitlines()) <= 4
    logged = log.read_text(encoding="utf-8")
    assert "0 drafts created" in logged and "step(s) need you" in logged


def test_cron_brings_the_digest_when_the_send_window_opens_after_a_tick(bare: Cli) -> None:
    """By default the digest comes when the send window opens (08:30 here), and its line
    ticks first, so the morning's drafts are in Drafts and in the digest."""
    bare.monkeypatch.setenv("TZ", "UTC")  # the machine's zone, which cron reads
    time.tzset()
    try:
        printed = bare("cron").out
    finally:
        bare.monkeypatch.delenv("TZ")
        time.tzset()
    lines = [line for line in printed.splitlines() if not line.startswith("#")]
    tick, digest = lines
    assert tick.startswith("*/15 * * * * OUTREACH_HOME=") and tick.endswith("cron.log")
    assert " tick --log " in digest and "; OUTREACH_HOME=" in digest
    assert digest.index(" tick --log ") < digest.index(" digest --to inbox --log ")
    assert digest.split()[:2] == ["30", "8"]


def test_smaller_things_a_new_user_meets(bare: Cli) -> None:
    """The Maildir exists right after init; `templates list` names the digest's files;
    `digest --json` carries the digest itself; an abbreviation is no time zone."""
    mail = bare.workspace / "mail"
    assert all((mail / folder / "cur").is_dir() for folder in ("", ".Drafts", ".Sent"))
    listed = bare("templates", "list", "--json").json()
    assert {"prep_notes", "digest.txt", "digest.html"} <= set(listed)
    digest = bare("digest", "--json").json()
    assert "DRAFTS WAITING FOR YOU" in digest["text"]
    assert digest["html"].startswith("<!DOCTYPE html>")
    refused = bare("init", "--force", "--timezone", "EST")
    assert refused.code == 2
    assert "America/New_York" in refused.err


def test_a_reply_with_an_answer_waiting_is_listed_once(world: World) -> None:
    """Given Dana's reply and the answer about scheduling drafted, then status lists Dana
    once under what waits on you: the draft to send."""
    first = world.send_first_outreach(DANA)
    world.clock.advance(days=1)
    world.reply(("Dana Kim", DANA), "Happy to chat! Thursday?", to_draft=first)
    world.tick()
    with world.app.store.read() as session:
        waiting = build_status(session_query(session), world.clock()).waiting_on_you
    assert [(w["contact"], w["why"]) for w in waiting if w["contact"] == "Dana Kim"] == [
        ("Dana Kim", "draft waiting for you to send")
    ]
