"""Where the local account finds its folders, whichever sync tool laid out the Maildir,
and a draft deleted on the server but kept as trashed by mbsync.

The sync tools are played by the test writing the directories they would write (the real
mbsync against a real Dovecot is in tests/integration/test_imap_sync.py)."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from connectors.base import MailChangeKind
from connectors.maildir import MaildirMailbox, flags
from tests.clitools import local_ada
from tests.contract.clients import deliver, files, maildir_send_draft, parse
from tests.harness import TWO_CONTACTS
from tests.local.mail import ME, Clock, inbound, outreach


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "mail"


def make_folder(folder: Path) -> None:
    """A sync tool makes a Maildir folder (mbsync also leaves its own files in it)."""
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / ".uidvalidity").write_text("1\n1\n")


def make_plain_folder(folder: Path) -> None:
    """A folder with no marker and no sync tool's files: what an older `outreach init`
    made (the inbox at the root, .Drafts, .Sent)."""
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)


def digest() -> EmailMessage:
    message = EmailMessage()
    message["To"] = ME
    message["Subject"] = "Today"
    message.set_content("Nothing waits on you.")
    return message


def trash(draft: Path) -> Path:
    """mbsync under `Expunge None` after the draft was deleted on the server: the local
    file stays, flagged T."""
    trashed = draft.with_name(draft.name + "T")
    draft.rename(trashed)
    return trashed


def test_a_draft_flagged_trashed_counts_as_deleted(root: Path) -> None:
    """Given a draft deleted on the server and flagged T locally by mbsync, when the grace
    period has passed, then it is reported deleted once, and no longer found as a draft."""
    clock = Clock()
    box = MaildirMailbox(root, ME, deleted_after=timedelta(minutes=10), clock=clock)
    _, cursor = box.changes(None)
    box.create_draft(outreach(), "k1", None)
    (draft,) = files(root / ".Drafts")
    uploaded = draft.rename(draft.with_name(draft.name.replace(":2,", ",U=7:2,")))
    trashed = trash(uploaded)
    early, cursor = box.changes(cursor)
    clock.now += timedelta(minutes=11)
    changes, cursor = box.changes(cursor)
    again, _ = box.changes(cursor)
    assert flags(trashed.name) == "DT"
    assert early == []
    assert [(c.kind, c.key) for c in changes] == [(MailChangeKind.DRAFT_DELETED, "k1")]
    assert again == []
    assert box.find_draft("k1") is None
    assert box.discard_draft("k1") is False


def test_a_draft_sent_and_its_trashed_copy_left_in_drafts_is_sent(root: Path) -> None:
    """Given a draft sent from a client that flags the draft T and files a copy in Sent,
    then the draft counts as sent, not deleted."""
    box = MaildirMailbox(root, ME)
    _, cursor = box.changes(None)
    box.create_draft(outreach(), "k1", None)
    (draft,) = files(root / ".Drafts")
    held = draft.read_bytes()
    maildir_send_draft(root, "k1")
    (root / ".Drafts" / "cur" / draft.name).write_bytes(held)
    trash(root / ".Drafts" / "cur" / draft.name)
    changes, _ = box.changes(cursor)
    assert [(c.kind, c.key) for c in changes] == [(MailChangeKind.SENT, "k1")]


@pytest.mark.parametrize("older_init", [False, True], ids=["placeholders", "older-init"])
def test_verbatim_folders_made_after_the_first_tick_take_over_the_placeholders(
    root: Path, older_init: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Given a workspace ticked before mbsync (`SubFolders Verbatim`) first ran: a draft
    in the placeholder .Drafts and a digest in the placeholder inbox, when mbsync makes
    INBOX, Drafts and Sent, then the draft and the digest move there under the same
    names (mbsync uploads them), the placeholders go (mbsync refuses a `.Drafts` folder
    in a Verbatim tree), nothing is reported again, and what happens there is read.
    The same with the unmarked folders of an older `outreach init` (the draft is not
    taken for deleted), and then a warning says what moved where."""
    if older_init:
        for plain in (root, root / ".Drafts", root / ".Sent"):
            make_plain_folder(plain)
    box = MaildirMailbox(root, ME)
    _, cursor = box.changes(None)
    box.create_draft(outreach(), "k1", None)
    box.deliver_to_self(digest())
    (draft,) = files(root / ".Drafts")
    (delivered,) = files(root)
    for folder in ("INBOX", "Drafts", "Sent"):
        make_folder(root / folder)

    moved, cursor = box.changes(cursor)
    assert moved == []
    assert [p.name for p in files(root / "Drafts")] == [draft.name]
    assert [p.name for p in files(root / "INBOX")] == [delivered.name]
    assert not (root / ".Drafts").exists() and not (root / ".Sent").exists()
    assert not (root / "cur").exists()
    assert box.find_draft("k1") is not None

    sent = root / "Sent" / "cur" / "1700000001.R1.mbsync:2,S"
    sent.write_bytes((root / "Drafts" / "cur" / draft.name).read_bytes())
    (root / "Drafts" / "cur" / draft.name).unlink()
    deliver(root / "INBOX", inbound())
    changes, _ = box.changes(cursor)
    assert sorted((c.kind.value, c.key) for c in changes) == [
        (MailChangeKind.INBOUND.value, None),
        (MailChangeKind.SENT.value, "k1"),
    ]
    box.create_draft(outreach("Second"), "k2", None)
    assert len(files(root / "Drafts")) == 1 and not (root / ".Drafts").exists()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert sorted(w.split(",")[0] for w in warnings) == (
        [f"moved 1 message(s) from {root}", f"moved 1 message(s) from {root / '.Drafts'}"]
        if older_init
        else []  # our own placeholders: no news
    )


def test_offlineimap_layout_with_nested_folder_names(root: Path) -> None:
    """offlineimap puts INBOX in a subfolder and writes "[Gmail]/Sent Mail" as
    "[Gmail].Sent Mail"; with those names set, drafts, sends and replies are found."""
    for folder in ("INBOX", "[Gmail].Drafts", "[Gmail].Sent Mail"):
        make_folder(root / folder)
    box = MaildirMailbox(root, ME, drafts_folder="[Gmail]/Drafts", sent_folder="[Gmail]/Sent Mail")
    _, cursor = box.changes(None)
    box.create_draft(outreach(), "k1", None)
    (draft,) = files(root / "[Gmail].Drafts")
    (root / "[Gmail].Sent Mail" / "cur" / "1700000002_0.1.host,U=9,FMD5=ab:2,S").write_bytes(
        draft.read_bytes()
    )
    draft.unlink()
    deliver(root / "INBOX", inbound())
    changes, _ = box.changes(cursor)
    assert sorted(c.kind.value for c in changes) == ["inbound", "sent"]
    assert not any(p.name.startswith(".") and p.is_dir() for p in root.iterdir())


def test_folders_a_sync_tool_made_are_never_emptied(
    root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Given both a Maildir++ .Drafts and a verbatim Drafts made by sync tools (the person
    changed their mbsyncrc), then the first is used, neither is touched, and a warning,
    once, names both."""
    make_folder(root / ".Drafts")
    make_folder(root / "Drafts")
    (root / "Drafts" / "cur" / "1700000003.R1.mbsync:2,DS").write_bytes(inbound())
    box = MaildirMailbox(root, ME)
    box.create_draft(outreach(), "k1", None)
    box.changes(None)
    assert len(files(root / ".Drafts")) == 1
    assert len(files(root / "Drafts")) == 1
    assert parse(files(root / ".Drafts")[0].read_bytes())["X-Outreach-Key"] == "k1"
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert f"{root / '.Drafts'} and {root / 'Drafts'} both look in use" in warning


def test_a_sent_folder_named_by_the_server_is_used(root: Path) -> None:
    """`sent_folder = "Sent Items"` finds mbsync's Maildir++ ".Sent Items"; a send filed
    there is a send, not a deleted draft."""
    make_folder(root / ".Sent Items")
    box = MaildirMailbox(root, ME, sent_folder="Sent Items")
    _, cursor = box.changes(None)
    box.create_draft(outreach(), "k1", None)
    (draft,) = files(root / ".Drafts")
    (root / ".Sent Items" / "cur" / "1700000004.R1.mbsync:2,S").write_bytes(draft.read_bytes())
    draft.unlink()
    changes, _ = box.changes(cursor)
    assert [(c.kind, c.key) for c in changes] == [(MailChangeKind.SENT, "k1")]
    assert not (root / ".Sent").exists()


def test_the_folders_init_makes_are_placeholders_too(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`outreach init` makes INBOX, .Drafts and .Sent for a mail client to find; once
    offlineimap has made INBOX, Drafts and Sent, the account uses those and removes them."""
    cli = local_ada(capsys, tmp_path, monkeypatch, TWO_CONTACTS)
    mail = cli.workspace / "mail"
    for folder in ("INBOX", "Drafts", "Sent"):
        make_folder(mail / folder)
    box = MaildirMailbox(mail, ME)
    box.create_draft(outreach(), "k1", None)
    assert len(files(mail / "Drafts")) == 1
    assert sorted(p.name for p in mail.iterdir() if p.is_dir()) == ["Drafts", "INBOX", "Sent"]


def test_the_digest_links_the_folders_a_mail_client_shows(root: Path) -> None:
    """Given the placeholders outreach made, then mbsync's Verbatim INBOX and Drafts, the
    digest's links go to the sync tool's folders (and to ours before it made them)."""
    from pipeline.connect import local_drafts_and_inbox
    from pipeline.settings import AccountSettings

    account = AccountSettings(name="uni", kind="local", address=ME, maildir=str(root))
    box = MaildirMailbox(root, ME, clock=Clock())
    box.changes(None)
    assert local_drafts_and_inbox(account, root.parent) == (root / ".Drafts", root)
    make_folder(root / "INBOX")
    make_folder(root / "Drafts")
    assert local_drafts_and_inbox(account, root.parent) == (root / "Drafts", root / "INBOX")
