"""What the person really does with a draft: edits it, sends it later, or rewrites it.

Given a first outreach drafted for Dana, when the mail that leaves the mailbox no longer
carries our key or Message-ID (a mail client re-saved it; it was scheduled; the person
deleted our copy and wrote their own), then the step ends as sent, never as declined,
and the lifecycle goes on: a nudge is planned, and her reply is one to answer.
"""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from pipeline.digest import build_digest
from tests.clitools import Cli
from tests.harness import DANA, ME, SAM, World


def own_message(world: World, to: str, subject: str = "Could we talk for 20 minutes?") -> bytes:
    """What the person writes and sends from their own mail client: no header of ours."""
    message = EmailMessage()
    message["From"] = f"Ada Park <{ME}>"
    message["To"] = f"Dana Kim <{to}>"
    message["Subject"] = subject
    message["Date"] = format_datetime(world.clock())
    message["Message-ID"] = "<my-own-1@mail.client.example>"
    message.set_content("Hi Dana, I rewrote this in my own words. Would you have time?")
    return bytes(message)


def test_a_draft_deleted_then_sent_as_the_persons_own_words_is_sent(world: World) -> None:
    """Given Dana's draft deleted (read as declined), when the person sends their own
    version an hour later, then the outreach is sent, with a nudge planned."""
    world.tick()
    world.mailbox.delete_draft(world.draft_for(DANA, "first_outreach").key)
    world.tick()
    assert world.stage(DANA) == "skipped"
    world.clock.advance(hours=1)
    world.mailbox.send_message(own_message(world, DANA))
    world.tick()
    assert world.stage(DANA) == "sent"
    assert world.steps(DANA) == [("first_outreach", 1, "sent"), ("nudge", 1, "planned")]


def test_deleted_and_sent_in_the_same_sync_is_sent(world: World) -> None:
    """A scheduled send or a slow sync: the draft's removal and the sent copy arrive
    together; the outreach is sent, never skipped on the way."""
    world.tick()
    world.mailbox.delete_draft(world.draft_for(DANA, "first_outreach").key)
    world.mailbox.send_message(own_message(world, DANA))
    world.tick()
    assert world.stage(DANA) == "sent"


def test_a_deleted_draft_never_sent_stays_declined(world: World) -> None:
    """Mail to someone else does not revive Dana's deleted draft."""
    world.tick()
    world.mailbox.delete_draft(world.draft_for(DANA, "first_outreach").key)
    world.tick()
    world.mailbox.send_message(own_message(world, "someone.else@example.org"))
    world.tick()
    assert world.stage(DANA) == "skipped"
    assert world.steps(DANA) == [("first_outreach", 1, "deleted")]


def test_a_rewritten_first_outreach_gets_its_reply_answered(world: World) -> None:
    """Given the person's own version sent instead of our draft, when Dana replies to it,
    then her reply is one to answer in the digest, and a scheduling answer is drafted."""
    world.tick()
    world.mailbox.delete_draft(world.draft_for(DANA, "first_outreach").key)
    world.mailbox.send_message(own_message(world, DANA))
    world.tick()
    (sent,) = [m for m in world.mailbox.sent() if DANA in str(m.message["To"])]
    world.clock.advance(hours=3)
    world.reply(("Dana Kim", DANA), "Happy to talk! Thursday at 2pm works.", to_draft=sent)
    world.tick()
    assert world.stage(DANA) == "replied"
    digest = build_digest(world.app, "main", world.clock().date())
    assert "REPLIES TO ANSWER (1)" in str(digest.get_body(preferencelist=("plain",)))


def test_a_deleted_nudge_sent_later_counts_and_the_next_nudge_follows(world: World) -> None:
    """Given the first nudge deleted (nudges stop), when the person sends it after all,
    then it counts as the first nudge and the second is planned."""
    first = world.send_first_outreach(DANA)
    assert first is not None
    world.clock.advance(days=7)
    world.tick()
    nudge = world.draft_for(DANA, "nudge")
    world.mailbox.delete_draft(nudge.key)
    world.tick()
    assert [s for s in world.steps(DANA) if s[0] == "nudge"] == [("nudge", 1, "deleted")]
    world.clock.advance(hours=2)
    raw = bytes(nudge.message)
    world.mailbox.send_message(raw.replace(b"X-Outreach-Key", b"X-Dropped-Key"))
    world.tick()
    assert world.stage(DANA) == "nudged"
    assert [s for s in world.steps(DANA) if s[0] == "nudge"] == [
        ("nudge", 1, "sent"),
        ("nudge", 2, "planned"),
    ]


def test_a_skipped_outreach_is_started_again_only_when_asked(world: World) -> None:
    """Given Dana's first draft deleted (skipped), when the person starts her again, then
    `start` says how (--again), and with --again a new first draft is made under a new
    key, the old step left as it was."""
    world.tick()
    world.mailbox.delete_draft(world.draft_for(DANA, "first_outreach").key)
    world.tick()
    refused = world.start_named("Dana Kim")
    assert refused.started == []
    assert "--again" in refused.skipped[0]["reason"]
    again = world.start_named("Dana Kim", again=True)
    assert [s["name"] for s in again.started] == ["Dana Kim"]
    world.tick()
    assert world.stage(DANA) == "outreach_drafted"
    assert world.steps(DANA) == [("first_outreach", 1, "deleted"), ("first_outreach", 2, "drafted")]


def test_an_opt_out_is_never_started_again(world: World) -> None:
    first = world.send_first_outreach(DANA)
    world.reply(("Dana Kim", DANA), "Please remove me from your list.", to_draft=first)
    world.tick()
    assert world.stage(DANA) == "opted_out"
    assert world.start_named("Dana Kim", again=True).started == []


def test_start_all_skips_an_address_suppressed_before_it_and_starts_the_rest(
    tmp_path: Path, database_url: str
) -> None:
    """Given Sam's address suppressed (a hard bounce recorded earlier) before anyone is
    started, when `start --all` runs, then Dana is started and Sam is skipped with the
    reason, and no step is planned for him."""
    from sqlalchemy import select

    from pipeline.models import Account, Suppression
    from pipeline.outreach import start_outreach
    from tests.harness import MONDAY, TWO_CONTACTS, make_world

    world = make_world(tmp_path, database_url, MONDAY)
    try:
        contacts = tmp_path / "contacts.csv"
        contacts.write_text(TWO_CONTACTS, encoding="utf-8")
        world.import_csv(contacts)
        with world.app.store.write() as session:
            session.add(Suppression(email=SAM, reason="bounce", at=MONDAY))
        with world.app.store.write() as session:
            report = start_outreach(
                session,
                session.scalars(select(Account)).one(),
                [],
                all_contacts=True,
                now=MONDAY,
                policy=world.app.policy,
                per_day=50,
            )
        assert [started["email"] for started in report.started] == [DANA]
        assert [(s["name"], s["reason"]) for s in report.skipped] == [
            ("Sam Ortiz", "the address asked not to be contacted")
        ]
        assert world.steps(SAM) == []
    finally:
        world.app.close()


MAILDIR_CONTACTS = """name,email,organization,role,how_found
Dana Kim,dana.kim@example.org,County Health Department,epidemiologist,the staff page
"""


def test_a_draft_edited_in_a_mail_client_and_sent_is_sent_on_the_maildir(
    cli: Cli, tmp_path: Path
) -> None:
    """The trial that found it: the person opens the draft in their mail client, which
    saves the edit as a new file (new Message-ID, our header dropped, subject and body
    changed) and removes ours; a tick runs; then they send it. The outreach ends as
    sent (never "a draft you deleted"), Dana's reply is one to answer, and `start` on
    her says there is nothing to restart."""
    cli.set_up_ada(tmp_path / "contacts.csv", MAILDIR_CONTACTS)
    assert cli("start", "Dana Kim").code == 0
    assert cli("tick").code == 0
    mail = cli.workspace / "mail"
    (ours,) = (mail / ".Drafts" / "cur").iterdir()
    edited = email.message_from_bytes(ours.read_bytes(), policy=email.policy.default)
    del edited["X-Outreach-Key"]
    del edited["Message-ID"]
    edited["Message-ID"] = "<edited-1@mail.client.example>"
    edited.replace_header("Subject", "A question from a biology senior")
    edited.set_content("Hi Dana, I rewrote this a little. Could we talk for 20 minutes?")
    (mail / ".Drafts" / "cur" / "1700000001.M1P1.client:2,D").write_bytes(bytes(edited))
    ours.unlink()
    assert cli("tick").code == 0

    cli.at(cli.now + timedelta(hours=1))
    (mail / ".Drafts" / "cur" / "1700000001.M1P1.client:2,D").unlink()
    (mail / ".Sent" / "cur").mkdir(parents=True, exist_ok=True)
    (mail / ".Sent" / "cur" / "1700000002.M2P1.client:2,S").write_bytes(bytes(edited))
    tick = cli("tick", "--json")
    assert tick.code == 0, tick.err
    assert cli("status", "--json").json()["funnel"] == {"sent": 1}

    cli.at(cli.now + timedelta(hours=2))
    reply = (
        "From: Dana Kim <dana.kim@example.org>\r\nTo: ada@example.edu\r\n"
        "Subject: Re: A question from a biology senior\r\n"
        "Date: Tue, 08 Dec 2026 13:00:00 +0000\r\nMessage-ID: <dana-1@example.org>\r\n"
        "In-Reply-To: <edited-1@mail.client.example>\r\n\r\nSure, happy to help! Thursday?\r\n"
    )
    (mail / "new").mkdir(exist_ok=True)
    (mail / "new" / "1700000003.M3P1.mx").write_bytes(reply.encode())
    assert cli("tick").code == 0
    assert cli("status", "--json").json()["funnel"] == {"replied": 1}
    assert "REPLIES TO ANSWER (1)" in cli("digest").out
    assert "already started" in cli("start", "Dana Kim").out


def test_a_sent_items_folder_and_a_grace_period_are_the_persons_to_set(
    cli: Cli, tmp_path: Path
) -> None:
    """Given a Maildir whose server calls its folder "Sent Items" and a grace period of
    an hour, when the draft leaves Drafts, then nothing is declined within the hour; when
    the sent copy lands in "Sent Items", the outreach is sent."""
    cli.set_up_ada(tmp_path / "contacts.csv", MAILDIR_CONTACTS)
    toml = cli.workspace / "outreach.toml"
    text = toml.read_text(encoding="utf-8").replace(
        'kind = "local"', 'kind = "local"\nsent_folder = "Sent Items"\ndeleted_after_minutes = 60'
    )
    toml.write_text(text, encoding="utf-8")
    mail = cli.workspace / "mail"
    (mail / ".Sent Items" / "cur").mkdir(parents=True)
    assert cli("start", "Dana Kim").code == 0
    assert cli("tick").code == 0
    (draft,) = (mail / ".Drafts" / "cur").iterdir()
    raw = draft.read_bytes()
    draft.unlink()
    cli.at(cli.now + timedelta(minutes=30))
    assert cli("tick", "--json").json()["drafts_deleted"] == 0
    assert cli("status", "--json").json()["funnel"] == {"outreach_drafted": 1}
    (mail / ".Sent Items" / "cur" / "1700000009.M9P1.client:2,S").write_bytes(raw)
    cli.at(cli.now + timedelta(minutes=45))
    assert cli("tick").code == 0
    assert cli("status", "--json").json()["funnel"] == {"sent": 1}


def test_a_folder_outside_the_maildir_is_refused(cli: Cli, tmp_path: Path) -> None:
    cli.set_up_ada(tmp_path / "contacts.csv", MAILDIR_CONTACTS)
    toml = cli.workspace / "outreach.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace(
            'kind = "local"', 'kind = "local"\nsent_folder = "../elsewhere"'
        ),
        encoding="utf-8",
    )
    result = cli("status")
    assert result.code == 2
    assert "sent_folder" in result.err and "inside the Maildir" in result.err


def test_the_next_digest_kindly_mentions_what_an_edited_first_message_lost(
    world: World,
) -> None:
    """Given the person's own version of Dana's first message (no "not a job", no follow-up
    date) and Sam's sent as drafted, then the next morning's digest mentions Dana's once,
    kindly, and not Sam's; the day after, it is not repeated."""
    world.tick()
    world.mailbox.delete_draft(world.draft_for(DANA, "first_outreach").key)
    rewritten = own_message(world, DANA).replace(
        b"Would you have time?",
        b"Would you have 20 minutes this week? Your work at the"
        b" department is what I want to learn about.",
    )
    world.mailbox.send_message(rewritten)
    world.mailbox.send_draft(world.draft_for(SAM, "first_outreach").key)
    world.tick()

    def tip(day_offset: int) -> str:
        day = (world.clock() + timedelta(days=day_offset)).date()
        text = str(build_digest(world.app, "main", day).get_body(("plain",)))
        return text.split("A TIP ON YESTERDAY'S FIRST MESSAGES", 1)[1] if "A TIP" in text else ""

    tomorrow = " ".join(tip(1).split())
    assert "To Dana Kim: it went out well; next time," in tomorrow
    assert "not a job or an internship" in tomorrow and "follow up" in tomorrow
    assert "Sam Ortiz" not in tomorrow
    assert tip(2) == ""
