"""One bad input never stops the work for everyone else (SQLite and PostgreSQL).

Mail and calendar files written by others, carelessly or on purpose, land in the same
batch as a real reply. The rule: what cannot be handled is recorded with the reason,
shown (status, digest, deadletters) and skipped; the cursor moves on; every other
contact's work goes on; no command shows a traceback.
"""

from __future__ import annotations

import email
import errno
import os
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.maildir import _os_error as maildir_os_error
from pipeline.errors import AccountUnavailableError, PermanentError, TransientError
from pipeline.models import Outreach as OutreachRow
from pipeline.models import Step
from pipeline.quickread import session_query
from pipeline.status import build_status
from tests import paths
from tests.clitools import Cli
from tests.harness import started_world

TUESDAY_MORNING = datetime(2026, 12, 8, 16, 0, tzinfo=UTC)  # 10:00 in Chicago

CONTACTS = """name,email,organization,role,how_found
Dana Kim,dana.kim@example.org,County Health Department,epidemiologist,the staff page
Sam Ortiz,sam.ortiz@example.net,Global Health Partners,analyst,a panel at the career fair
"""
LONG_ID = "<" + "x" * 600 + "@example.org>"
LONG_UID = "u" * 800


def _mail(path: Path, *headers: str, body: str = "Hello there.") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode("utf-8"))


def _ics(path: Path, *lines: str) -> None:
    body = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//tests//EN",
        "BEGIN:VEVENT",
        "DTSTAMP:20261201T000000Z",
        *lines,
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    path.write_bytes("\r\n".join(body).encode("utf-8"))


def _meeting_with_dana(uid: str, start: str, end: str) -> tuple[str, ...]:
    return (
        f"UID:{uid}",
        f"DTSTART:{start}",
        f"DTEND:{end}",
        "SUMMARY:Career chat",
        "ORGANIZER:mailto:dana.kim@example.org",
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ada@example.edu",
    )


def _sent_first_outreach(cli: Cli) -> str:
    """Dana's first outreach is drafted and the person sends it; its Message-ID."""
    assert cli("start", "Dana Kim").code == 0
    assert cli("tick").code == 0
    drafts = cli.workspace / "mail" / ".Drafts" / "cur"
    (draft,) = drafts.iterdir()
    sent = cli.workspace / "mail" / ".Sent" / "cur"
    sent.mkdir(parents=True, exist_ok=True)
    shutil.move(draft, sent / draft.name.replace(",D", ",S"))
    message = email.message_from_bytes((sent / draft.name.replace(",D", ",S")).read_bytes())
    assert cli("tick").code == 0
    return str(message["Message-ID"])


@pytest.fixture
def ada(cli: Cli, tmp_path: Path) -> Cli:
    cli.set_up_ada(tmp_path / "contacts.csv", CONTACTS)
    return cli


def test_poison_mail_and_calendar_files_do_not_stop_anyones_work(ada: Cli) -> None:
    """Given a sent first outreach to Dana, when her real reply arrives in one batch with
    messages whose Message-ID is 600 characters long or holds a NUL, an invitation dated
    in the year 9999, and calendar files with a UID of 800 characters, dates in the years
    1 and 9999 and a duration of 99,999,999 days, then the tick reads her reply and her
    booking, drafts Sam's first outreach, lists each unusable item with its reason in
    status, the digest and deadletters, and the next tick does it all without a word."""
    root_id = _sent_first_outreach(ada)
    inbox = ada.workspace / "mail" / "new"
    date = "Date: Tue, 08 Dec 2026 09:00:00 +0000"
    _mail(
        inbox / "1.long",
        "From: a@example.com",
        "To: ada@example.edu",
        date,
        f"Message-ID: {LONG_ID}",
    )
    _mail(
        inbox / "2.nul",
        "From: b@example.com",
        "To: ada@example.edu",
        date,
        "Message-ID: <a\x00b@x.org>",
    )
    _mail(
        inbox / "3.reply",
        "From: Dana Kim <dana.kim@example.org>",
        "To: ada@example.edu",
        "Subject: Re: your note",
        date,
        "Message-ID: <reply-1@example.org>",
        f"In-Reply-To: {root_id}",
        f"References: {root_id}",
        body="Happy to talk! Next week works for me.",
    )
    _mail(
        inbox / "4.invite",
        "From: Dana Kim <dana.kim@example.org>",
        "To: ada@example.edu",
        "Subject: Invitation: chat",
        date,
        "Message-ID: <invite-1@example.org>",
        f"In-Reply-To: {root_id}",
        "MIME-Version: 1.0",
        'Content-Type: text/calendar; method=REQUEST; charset="utf-8"',
        body="\r\n".join(
            [
                "BEGIN:VCALENDAR",
                "METHOD:REQUEST",
                "VERSION:2.0",
                "PRODID:-//tests//EN",
                "BEGIN:VEVENT",
                *_meeting_with_dana("far", "99991231T220000Z", "99991231T230000Z"),
                "END:VEVENT",
                "END:VCALENDAR",
            ]
        ),
    )
    calendar = ada.workspace / "calendar"
    _ics(
        calendar / "long.ics", *_meeting_with_dana(LONG_UID, "20261210T100000Z", "20261210T103000Z")
    )
    _ics(calendar / "y9999.ics", "UID:y9999", "DTSTART:99991231T230000Z", "DURATION:PT2H")
    _ics(calendar / "y0001.ics", "UID:y0001", "DTSTART:00010101T000000Z", "DTEND:00010101T010000Z")
    _ics(calendar / "forever.ics", "UID:forever", "DTSTART:20261210T100000Z", "DURATION:P99999999D")
    assert ada("start", "Sam Ortiz").code == 0

    tick = ada("tick", "--json")
    assert tick.code == 0, tick.err
    assert "Traceback" not in tick.err
    summary = tick.json()
    assert summary["drafts_created"] == 1  # Sam's first outreach (Dana booked: no answer)
    assert summary["unreadable"] == 4

    status = ada("status", "--json")
    assert status.code == 0, status.err
    assert status.json()["funnel"] == {"outreach_drafted": 1, "booked": 1}
    skipped = {item["item"]: item["reason"] for item in status.json()["skipped_inputs"]}
    assert set(skipped) == {"INBOX/4.invite", "y9999.ics", "y0001.ics", "forever.ics"}
    assert "9999" in skipped["INBOX/4.invite"]
    shown = ada("status")
    assert shown.code == 0 and "Skipped as unreadable (4" in shown.out

    digest = ada("digest")
    assert digest.code == 0, digest.err
    assert "SKIPPED AS UNREADABLE (4" in digest.out
    assert "forever.ics" in digest.out
    listed = ada("deadletters", "list", "--skipped", "--json")
    assert {item["item"] for item in listed.json()} == set(skipped)

    again = ada("tick", "--json")
    assert again.code == 0, again.err
    assert (again.json()["inbound"], again.json()["unreadable"]) == (0, 0)


def test_a_meeting_with_an_overlong_uid_can_be_moved_and_cancelled(ada: Cli) -> None:
    """Given a booking whose UID is longer than any column, when Dana moves it and then
    cancels it, then the same meeting follows both changes."""
    _sent_first_outreach(ada)
    path = ada.workspace / "calendar" / "long.ics"
    _ics(path, *_meeting_with_dana(LONG_UID, "20261210T100000Z", "20261210T103000Z"))
    assert ada("tick").code == 0
    assert ada("status", "--json").json()["funnel"] == {"booked": 1}
    _ics(path, *_meeting_with_dana(LONG_UID, "20261211T150000Z", "20261211T153000Z"))
    assert ada("tick").code == 0
    upcoming = ada("status", "--json").json()["upcoming"]
    assert [u["due_at"][:16] for u in upcoming if u["step"] == "meeting"] == ["2026-12-11T15:00"]
    path.unlink()
    assert ada("tick").code == 0
    assert ada("status", "--json").json()["funnel"] == {"scheduling": 1}


def test_a_step_that_breaks_in_an_unexpected_way_fails_visibly_instead_of_hanging(
    ada: Cli,
) -> None:
    """Given a workspace template that is no UTF-8 text, when the tick drafts with it,
    then the step is failed with a reason (never left `drafting`), shown in deadletters,
    status and the digest, the other contact's draft is made, and a retry after the fix
    drafts it."""
    shipped = paths.ROOT / "templates" / "first_cold.txt.j2"
    mine = ada.workspace / "templates" / "first_cold.txt.j2"
    mine.parent.mkdir(exist_ok=True)
    mine.write_bytes(shipped.read_text(encoding="utf-8").replace("Hi", "Grüß").encode("latin-1"))
    assert ada("start", "--all").code == 0
    tick = ada("tick", "--json")
    assert tick.code == 1, tick.err  # something needs the person
    assert "Traceback" not in tick.err
    assert tick.json()["steps_failed"] == 2
    failed = ada("deadletters", "list", "--json").json()
    assert len(failed) == 2
    assert all("utf-8" in item["error"].lower() for item in failed)
    waiting = ada("status", "--json").json()["waiting_on_you"]
    assert len([w for w in waiting if "not drafted" in w["why"]]) == 2
    assert "NOT DRAFTED: NEEDS YOU (2)" in ada("digest").out

    mine.unlink()
    assert ada("deadletters", "retry").code == 0
    ada.at(ada.now + timedelta(minutes=15))
    assert ada("tick", "--json").json()["drafts_created"] == 2


def test_a_mailbox_that_cannot_be_written_is_the_accounts_problem_and_heals(
    tmp_path: Path, database_url: str
) -> None:
    """Given a mailbox that as a whole cannot be written (a read-only file system), when
    the tick drafts, then no step is failed: the account says why (tick, status), the
    steps wait, and once it is writable again the next tick drafts them, with no
    `deadletters retry`."""
    with started_world(tmp_path, database_url, TUESDAY_MORNING, CONTACTS) as world:
        read_only = AccountUnavailableError("cannot write: Read-only file system")
        world.mailbox.fail_next(read_only, 2, only="create_draft")
        tick = world.tick()
        assert tick.steps_failed == 0
        assert len(tick.errors) == 1
        assert "main: cannot be used now (cannot write: Read-only file system)" in tick.errors[0]
        with world.app.store.read() as session:
            status = build_status(session_query(session), world.clock())
        assert [a["account"] for a in status.accounts_unavailable] == ["main"]
        assert world.steps("dana.kim@example.org") == [("first_outreach", 1, "queued")]
        assert world.mailbox.drafts() == []

        world.clock.advance(minutes=15)
        healed = world.tick()
        assert healed.errors == []
        assert healed.drafts_created == 2
        with world.app.store.read() as session:
            assert build_status(session_query(session), world.clock()).accounts_unavailable == []


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (errno.EROFS, AccountUnavailableError),
        (errno.EACCES, AccountUnavailableError),
        (errno.ENOSPC, AccountUnavailableError),
        (errno.EAGAIN, TransientError),
        (errno.ENAMETOOLONG, PermanentError),
    ],
)
def test_a_maildir_fault_is_the_accounts_when_it_is_the_whole_folders(
    code: int, kind: type[Exception]
) -> None:
    """A read-only, forbidden or full Maildir is the account's trouble, not one step's."""
    translated = maildir_os_error("cannot write", OSError(code, os.strerror(code)))
    assert type(translated) is kind


def test_a_locked_database_gets_the_plain_message_not_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given another program holding the SQLite database's write lock, when a command
    must write, then it says so in one plain sentence and exits 1."""
    monkeypatch.delenv("OUTREACH_DATABASE_URL", raising=False)
    monkeypatch.setenv("OUTREACH_HOME", str(tmp_path / "ws"))
    cli = Cli(capsys, tmp_path / "ws", monkeypatch)
    cli.set_up_ada(tmp_path / "contacts.csv", CONTACTS)
    with (cli.workspace / "outreach.toml").open("a", encoding="utf-8") as toml:
        toml.write("\n[database]\nbusy_timeout_ms = 100\n")
    holder = sqlite3.connect(cli.workspace / "outreach.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        result = cli("start", "--all")
    finally:
        holder.close()
    assert result.code == 1
    assert "the database cannot be used right now (database is locked)" in result.err
    assert "Traceback" not in result.err
    assert cli("start", "--all").code == 0  # and all is well once it is free


def test_a_reply_all_to_300_people_is_no_introduction_of_300(
    tmp_path: Path, database_url: str
) -> None:
    """Given ten first outreach planned today (the day's pace) and a reply from Dana that
    Cc's 300 people, when the tick reads it, then three people get a referral outreach,
    due on the next workday since today is full, and the other 297 are listed for the
    person to confirm."""
    contacts = "name,email,organization,role,how_found\n" + "".join(
        f"Person {n},person{n}@example.org,Org,analyst,a list\n" for n in range(9)
    )
    contacts += CONTACTS.splitlines()[1] + "\n"
    with started_world(tmp_path, database_url, TUESDAY_MORNING, contacts) as world:
        first = world.send_first_outreach("dana.kim@example.org")
        crowd = ", ".join(f"Someone {n} <someone{n}@example.com>" for n in range(300))
        world.reply(
            ("Dana Kim", "dana.kim@example.org"),
            "Thanks for writing! Looping in everyone.",
            to_draft=first,
            headers={"Cc": crowd},
        )
        world.tick()
        with world.app.store.read() as session:
            referred = session.scalars(
                select(Step.due_at)
                .join(OutreachRow, Step.outreach_id == OutreachRow.id)
                .where(OutreachRow.referrer_contact_id.is_not(None))
            ).all()
            status = build_status(session_query(session), world.clock())
        assert len(referred) == 3
        assert all(due.date() > TUESDAY_MORNING.date() for due in referred)  # paced
        (confirm,) = [w for w in status.waiting_on_you if "people" in w]
        assert confirm["contact"] == "Dana Kim"
        assert len(confirm["people"]) == 200  # 297 more were named; the first 200 are kept
        assert "outreach referral add" in confirm["why"]
