"""Maildir specifics: file names and flags, layouts, broken files, what is read when."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import IO

import pytest

from connectors.base import MailChangeKind, ThreadRef
from connectors.maildir import LOG_FILE, STATE_FILE, MaildirMailbox, flags, unique_name
from pipeline.errors import PermanentError
from tests import paths
from tests.contract.clients import (
    client_name,
    deliver,
    files,
    maildir_send_draft,
    parse,
    read_message,
)
from tests.local.mail import ME, Clock, inbound, outreach


class CountingOpener:
    """Counts the files the mailbox opens (our own opener, not a patched builtin)."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    def __call__(self, path: Path) -> IO[bytes]:
        self.opened.append(path.name)
        return path.open("rb")

    def messages(self) -> list[str]:
        return [name for name in self.opened if name not in (STATE_FILE, LOG_FILE)]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "Mail"


@pytest.fixture
def opener() -> CountingOpener:
    return CountingOpener()


@pytest.fixture
def box(root: Path, opener: CountingOpener) -> MaildirMailbox:
    return MaildirMailbox(root, ME, opener=opener)


@pytest.mark.parametrize(
    ("filename", "unique", "flag_letters"),
    [
        ("1700000000.M1P2Q3.host", "1700000000.M1P2Q3.host", ""),
        ("1700000000.M1P2Q3.host:2,S", "1700000000.M1P2Q3.host", "S"),
        ("1700000000.M1P2Q3.host,U=12:2,DS", "1700000000.M1P2Q3.host", "DS"),
        ("1700000000_0.123.host,U=5,FMD5=abc:2,RS", "1700000000_0.123.host", "RS"),
    ],
)
def test_unique_name_ignores_flags_and_upload_suffixes(
    filename: str, unique: str, flag_letters: str
) -> None:
    assert unique_name(filename) == unique
    assert flags(filename) == flag_letters


def test_missing_folders_are_created(root: Path) -> None:
    MaildirMailbox(root, ME)
    for folder in (root, root / ".Drafts", root / ".Sent"):
        assert all((folder / sub).is_dir() for sub in ("cur", "new", "tmp"))


def test_mbsync_verbatim_subfolders_are_used_when_present(root: Path) -> None:
    for folder in ("Drafts", "Sent"):
        for sub in ("cur", "new", "tmp"):
            (root / folder / sub).mkdir(parents=True)
    box = MaildirMailbox(root, ME)
    _, cursor = box.changes(None)
    box.create_draft(outreach(), "k1", None)
    assert len(files(root / "Drafts")) == 1
    assert not (root / ".Drafts").exists()
    draft = files(root / "Drafts")[0]
    (root / "Sent" / "cur" / "1.R1.client:2,S").write_bytes(draft.read_bytes())
    draft.unlink()
    changes, _ = box.changes(cursor)
    assert [(c.kind, c.key) for c in changes] == [(MailChangeKind.SENT, "k1")]


def test_a_draft_is_written_atomically_with_the_draft_flag(root: Path, box: MaildirMailbox) -> None:
    box.create_draft(outreach(), "k1", None)
    (draft,) = files(root / ".Drafts")
    assert draft.parent.name == "cur"
    assert flags(draft.name) == "D"
    assert list((root / ".Drafts" / "tmp").iterdir()) == []
    assert parse(draft.read_bytes())["X-Outreach-Key"] == "k1"


def test_flag_changes_are_not_new_mail(root: Path, box: MaildirMailbox) -> None:
    _, cursor = box.changes(None)
    path = deliver(root, inbound())
    first, cursor = box.changes(cursor)
    read_message(root, path.name)
    again, _ = box.changes(cursor)
    assert [c.kind for c in first] == [MailChangeKind.INBOUND]
    assert again == []


def test_mail_in_cur_is_reported_too(root: Path, box: MaildirMailbox) -> None:
    _, cursor = box.changes(None)
    (root / "cur" / "1700000001.R9.mbsync:2,S").write_bytes(inbound())
    changes, _ = box.changes(cursor)
    assert [c.message_id for c in changes] == ["<in-1@example.com>"]
    assert changes[0].provider_id == "INBOX/1700000001.R9.mbsync"


def test_an_uploaded_draft_renamed_by_mbsync_is_not_deleted(
    root: Path, box: MaildirMailbox
) -> None:
    _, cursor = box.changes(None)
    box.create_draft(outreach(), "k1", None)
    (draft,) = files(root / ".Drafts")
    unique, _, info = draft.name.partition(":")
    draft.rename(draft.with_name(f"{unique},U=42:{info}S"))
    changes, _ = box.changes(cursor)
    assert changes == []
    assert box.find_draft("k1") is not None


def test_an_edited_draft_saved_under_a_new_name_is_still_ours(
    root: Path, box: MaildirMailbox
) -> None:
    _, cursor = box.changes(None)
    ref = box.create_draft(outreach(), "k1", None)
    (draft,) = files(root / ".Drafts")
    edited = parse(draft.read_bytes())
    edited.replace_header("Subject", "Quick question")
    (root / ".Drafts" / "cur" / "1700000002.R1.neomutt:2,D").write_bytes(edited.as_bytes())
    draft.unlink()
    changes, cursor = box.changes(cursor)
    assert changes == []
    found = box.find_draft("k1")
    assert found is not None and found.message_id == ref.message_id
    maildir_send_draft(root, "k1")
    changes, _ = box.changes(cursor)
    assert [(c.kind, c.key) for c in changes] == [(MailChangeKind.SENT, "k1")]


def test_a_sent_reply_without_key_or_message_id_is_matched_by_thread(
    root: Path, box: MaildirMailbox
) -> None:
    """A client that rewrites both headers still keeps In-Reply-To."""
    _, cursor = box.changes(None)
    thread = ThreadRef(None, "<in-1@example.com>", ())
    box.create_draft(outreach("Re: hello"), "nudge-1", thread)

    def rewrite(message: EmailMessage) -> None:
        del message["X-Outreach-Key"]
        message.replace_header("Message-ID", "<client-chosen@example.org>")

    maildir_send_draft(root, "nudge-1", rewrite)
    changes, _ = box.changes(cursor)
    assert [(c.kind, c.key, c.message_id) for c in changes] == [
        (MailChangeKind.SENT, "nudge-1", "<client-chosen@example.org>")
    ]


def test_a_message_the_person_sent_themselves_has_no_key(root: Path, box: MaildirMailbox) -> None:
    _, cursor = box.changes(None)
    (root / ".Sent" / "cur" / "1700000003.R1.client:2,S").write_bytes(
        b"From: me@example.org\nTo: bob@example.com\nMessage-ID: <own@example.org>\n\nhi\n"
    )
    changes, _ = box.changes(cursor)
    assert [(c.kind, c.key) for c in changes] == [(MailChangeKind.SENT, None)]


def test_a_grace_period_lets_a_late_sent_copy_win(root: Path) -> None:
    """mbsync may remove the draft before it brings down the copy in Sent."""
    clock = Clock()
    box = MaildirMailbox(root, ME, deleted_after=timedelta(minutes=10), clock=clock)
    _, cursor = box.changes(None)
    box.create_draft(outreach(), "k1", None)
    sent_copy = maildir_send_draft(root, "k1")
    held = sent_copy.read_bytes()
    sent_copy.unlink()  # not synced down yet
    early, cursor = box.changes(cursor)
    clock.now += timedelta(minutes=5)
    (root / ".Sent" / "cur" / sent_copy.name).write_bytes(held)
    changes, cursor = box.changes(cursor)
    clock.now += timedelta(hours=1)
    later, _ = box.changes(cursor)
    assert early == []
    assert [(c.kind, c.key) for c in changes] == [(MailChangeKind.SENT, "k1")]
    assert later == []


def test_a_deletion_is_reported_once_the_grace_period_has_passed(root: Path) -> None:
    clock = Clock()
    box = MaildirMailbox(root, ME, deleted_after=timedelta(minutes=10), clock=clock)
    _, cursor = box.changes(None)
    box.create_draft(outreach(), "k1", None)
    files(root / ".Drafts")[0].unlink()
    early, cursor = box.changes(cursor)
    clock.now += timedelta(minutes=11)
    changes, _ = box.changes(cursor)
    assert early == []
    assert [(c.kind, c.key, c.at) for c in changes] == [
        (MailChangeKind.DRAFT_DELETED, "k1", clock.now)
    ]


def test_a_broken_message_is_logged_by_name_and_reported_once_as_unreadable(
    root: Path, box: MaildirMailbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Given two files in the inbox that are no mail, then each is reported once as
    UNREADABLE with the reason (never its content), and the real message as usual."""
    _, cursor = box.changes(None)
    (root / "new" / "1700000004.R1.broken").write_bytes(b"\x00\x01 secret body \xff\n")
    (root / "new" / "1700000005.R1.empty").write_bytes(b"")
    deliver(root, inbound())
    with caplog.at_level(logging.WARNING, logger="connectors.maildir"):
        changes, cursor = box.changes(cursor)
    unreadable = [c for c in changes if c.kind is MailChangeKind.UNREADABLE]
    assert sorted(c.provider_id for c in unreadable) == [
        "INBOX/1700000004.R1.broken",
        "INBOX/1700000005.R1.empty",
    ]
    assert all(c.reason and "secret" not in c.reason for c in unreadable)
    assert [c.message_id for c in changes if c not in unreadable] == ["<in-1@example.com>"]
    assert "1700000004.R1.broken" in caplog.text
    assert "1700000005.R1.empty" in caplog.text
    assert "secret" not in caplog.text
    assert box.changes(cursor)[0] == []


def test_first_use_reads_no_message(
    root: Path, box: MaildirMailbox, opener: CountingOpener
) -> None:
    for n in range(20):
        deliver(root, inbound(n))
    box.changes(None)
    assert opener.messages() == []


def test_an_idle_sync_reads_no_message_and_a_new_one_reads_one(
    root: Path, box: MaildirMailbox, opener: CountingOpener
) -> None:
    for n in range(20):
        deliver(root, inbound(n))
    _, cursor = box.changes(None)
    opener.opened.clear()
    _, cursor = box.changes(cursor)
    assert opener.messages() == []
    deliver(root, inbound(99))
    changes, _ = box.changes(cursor)
    assert len(opener.messages()) == 1
    assert [c.message_id for c in changes] == ["<in-99@example.com>"]


def test_a_message_moved_while_being_read_is_reported_under_its_new_name(root: Path) -> None:
    """A reader may move new/X to cur/X:2,S between our listing and our open."""
    moves: list[Path] = []

    def racing_opener(path: Path) -> IO[bytes]:
        if path.parent.name == "new" and not moves:
            moves.append(read_message(root, path.name))
        return path.open("rb")

    box = MaildirMailbox(root, ME, opener=racing_opener)
    _, cursor = box.changes(None)
    deliver(root, inbound())
    first, cursor = box.changes(cursor)
    second, _ = box.changes(cursor)
    assert first == []
    assert [c.message_id for c in second] == ["<in-1@example.com>"]


def test_create_draft_is_idempotent_when_the_state_file_is_lost(
    root: Path, box: MaildirMailbox
) -> None:
    ref = box.create_draft(outreach(), "k1", None)
    (root / STATE_FILE).unlink()
    again = MaildirMailbox(root, ME).create_draft(outreach(), "k1", None)
    assert again == ref
    assert len(files(root / ".Drafts")) == 1


def test_two_instances_share_one_tree(root: Path) -> None:
    """Like two worker processes: the state file is the shared memory."""
    one, two = MaildirMailbox(root, ME), MaildirMailbox(root, ME)
    _, cursor = one.changes(None)
    ref = one.create_draft(outreach(), "k1", None)
    assert two.create_draft(outreach(), "k1", None) == ref
    files(root / ".Drafts")[0].unlink()
    changes, _ = two.changes(cursor)
    assert [(c.kind, c.key) for c in changes] == [(MailChangeKind.DRAFT_DELETED, "k1")]


def test_the_digest_goes_to_new_without_flags(root: Path, box: MaildirMailbox) -> None:
    digest = EmailMessage()
    digest["To"] = ME
    digest["Subject"] = "Today"
    digest.set_content("Nothing waits on you.")
    provider_id = box.deliver_to_self(digest)
    (path,) = files(root)
    assert path.parent.name == "new" and ":" not in path.name
    assert provider_id == f"INBOX/{path.name}"
    message = parse(path.read_bytes())
    assert message["Message-ID"] and message["Date"]


def test_at_falls_back_to_the_file_time_without_a_date(root: Path, box: MaildirMailbox) -> None:
    _, cursor = box.changes(None)
    path = deliver(root, inbound())
    changes, _ = box.changes(cursor)
    assert changes[0].at == datetime.fromtimestamp(path.stat().st_mtime, UTC)


@pytest.fixture(autouse=True)
def _no_stray_tmp(root: Path) -> Iterator[None]:
    yield
    for folder in (root, root / ".Drafts", root / ".Sent"):
        assert not list((folder / "tmp").glob("*")) if (folder / "tmp").exists() else True


def test_of_two_pending_replies_to_one_message_the_one_gone_from_drafts_was_sent(
    root: Path, box: MaildirMailbox
) -> None:
    """In-Reply-To alone is ambiguous here; the draft that left Drafts settles it."""
    _, cursor = box.changes(None)
    thread = ThreadRef(None, "<in-1@example.com>", ())
    box.create_draft(outreach("Re: hello"), "a", thread)
    box.create_draft(outreach("Re: hello"), "b", thread)

    def rewrite(message: EmailMessage) -> None:
        del message["X-Outreach-Key"]
        message.replace_header("Message-ID", "<client-chosen@example.org>")

    maildir_send_draft(root, "b", rewrite)
    changes, _ = box.changes(cursor)
    assert [(c.kind, c.key) for c in changes] == [(MailChangeKind.SENT, "b")]
    assert box.find_draft("a") is not None


def test_after_the_state_file_is_lost_our_drafts_are_tracked_again(root: Path) -> None:
    """Drafts carry their key, so a fresh state learns them back from Drafts."""
    MaildirMailbox(root, ME).create_draft(outreach(), "k1", None)
    (root / STATE_FILE).unlink()
    box = MaildirMailbox(root, ME)
    _, cursor = box.changes(None)
    files(root / ".Drafts")[0].unlink()
    changes, _ = box.changes(cursor)
    assert [(c.kind, c.key) for c in changes] == [(MailChangeKind.DRAFT_DELETED, "k1")]


def test_a_draft_costs_an_appended_log_line_not_a_rewritten_state(root: Path) -> None:
    """Given a scanned mailbox, when drafts are created, then the state snapshot is left
    as it is (its size grows with the mailbox) and each draft appends to the log, which
    another process reads: it knows the drafts and creates none again."""
    one = MaildirMailbox(root, ME)
    _, cursor = one.changes(None)
    snapshot = (root / STATE_FILE).stat()
    refs = [one.create_draft(outreach(), f"k{n}", None) for n in range(3)]
    assert (root / STATE_FILE).stat().st_mtime_ns == snapshot.st_mtime_ns
    assert (root / LOG_FILE).stat().st_size > 0
    two = MaildirMailbox(root, ME)
    assert [two.create_draft(outreach(), f"k{n}", None) for n in range(3)] == refs
    assert len(files(root / ".Drafts")) == 3
    maildir_send_draft(root, "k1")
    changes, _ = two.changes(cursor)
    assert [(c.kind, c.key) for c in changes] == [(MailChangeKind.SENT, "k1")]
    assert not (root / LOG_FILE).exists(), "a scan that changed something folds the log"


def test_log_lines_older_than_the_snapshot_are_ignored(root: Path) -> None:
    """Given a crash after a new snapshot was written but before the old log was removed,
    then the stale lines do not undo what the snapshot knows (a draft since sent does not
    come back as a draft, nor is it reported deleted)."""
    box = MaildirMailbox(root, ME)
    _, cursor = box.changes(None)
    box.create_draft(outreach(), "k1", None)
    stale = (root / LOG_FILE).read_bytes()
    maildir_send_draft(root, "k1")
    sent, cursor = box.changes(cursor)
    assert [c.kind for c in sent] == [MailChangeKind.SENT]
    (root / LOG_FILE).write_bytes(stale)  # as if the removal never happened
    later, _ = MaildirMailbox(root, ME).changes(cursor)
    assert later == []


def test_a_torn_last_log_line_loses_nothing_written_after_it(
    root: Path, opener: CountingOpener, caplog: pytest.LogCaptureFixture
) -> None:
    """Given a process that died half-way through appending, when another appends after
    it, then the damaged line is skipped with a warning and every complete one counts:
    both drafts are known from the state alone, without reading a draft file."""
    one = MaildirMailbox(root, ME)
    one.changes(None)
    first = one.create_draft(outreach(), "k1", None)
    with (root / LOG_FILE).open("ab") as log_file:
        log_file.write(b'{"g":"torn')
    second = MaildirMailbox(root, ME).create_draft(outreach(), "k2", None)
    fresh = MaildirMailbox(root, ME, opener=opener)
    with caplog.at_level(logging.WARNING):
        assert fresh.find_draft("k1") == first
        assert fresh.find_draft("k2") == second
    assert "damaged" in caplog.text
    assert opener.messages() == []
    assert len(files(root / ".Drafts")) == 2


def test_a_long_log_is_folded_into_a_snapshot(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("connectors.maildir._LOG_LIMIT", 4)
    box = MaildirMailbox(root, ME)
    box.changes(None)
    box.create_draft(outreach(), "k1", None)  # two lines: the draft and its file's key
    box.create_draft(outreach(), "k2", None)
    assert (root / LOG_FILE).exists()
    other = MaildirMailbox(root, ME)
    other.create_draft(outreach(), "k3", None)  # reads four lines: time to fold
    assert not (root / LOG_FILE).exists()
    assert all(MaildirMailbox(root, ME).find_draft(k) for k in ("k1", "k2", "k3"))


def _left_by_a_dead_worker(root: Path, key: str, thread: ThreadRef) -> Path:
    """The draft file a worker renamed into Drafts just before it was killed, so its key
    never reached the state."""
    message = outreach("Thank you")
    message["Message-ID"] = "<thanks-1@example.org>"
    message["In-Reply-To"] = thread.in_reply_to
    message["References"] = " ".join(thread.references)
    message["X-Outreach-Key"] = key
    path = root / ".Drafts" / "cur" / (client_name() + ":2,D")
    path.write_bytes(message.as_bytes())
    return path


def test_a_draft_left_by_a_dead_worker_is_found_by_its_key_not_taken_for_a_sibling(
    root: Path,
) -> None:
    """Given a nudge waiting in the thread and a thank-you in the same thread whose worker
    died after writing the file, when the thank-you is retried, then the file is found as
    the thank-you (no second one) and the nudge is still the nudge."""
    box = MaildirMailbox(root, ME)
    box.changes(None)
    thread = ThreadRef("t1", "<first@example.org>", ("<first@example.org>",))
    nudge = box.create_draft(outreach("Following up"), "acct/1/nudge/1", thread)
    _left_by_a_dead_worker(root, "acct/1/thank_you/1", thread)
    retry = MaildirMailbox(root, ME)
    again = retry.create_draft(outreach("Thank you"), "acct/1/thank_you/1", thread)
    assert again.message_id == "<thanks-1@example.org>"
    assert len(files(root / ".Drafts")) == 2
    assert retry.find_draft("acct/1/nudge/1") == nudge


def test_a_sent_draft_left_by_a_dead_worker_is_reported_under_its_own_key(root: Path) -> None:
    box = MaildirMailbox(root, ME)
    _, cursor = box.changes(None)
    thread = ThreadRef("t1", "<first@example.org>", ("<first@example.org>",))
    box.create_draft(outreach("Following up"), "acct/1/nudge/1", thread)
    _left_by_a_dead_worker(root, "acct/1/thank_you/1", thread)
    maildir_send_draft(root, "acct/1/thank_you/1")
    changes, _ = MaildirMailbox(root, ME).changes(cursor)
    assert [(c.kind, c.key) for c in changes] == [(MailChangeKind.SENT, "acct/1/thank_you/1")]


_KILLED_BEFORE_THE_RECORD = """\
import os, sys
from email.message import EmailMessage
import connectors.maildir as maildir

def killed(*_args, **_kwargs):
    os._exit(9)  # the file is in Drafts, its record is not in the state: kill -9 here

maildir._State.remember_draft = killed
message = EmailMessage()
message["From"] = message["To"] = sys.argv[2]
message["Subject"] = "Informational interview?"
message.set_content("Would you have 20 minutes?")
maildir.MaildirMailbox(sys.argv[1], sys.argv[2]).create_draft(message, "k1", None)
"""


def test_a_draft_of_a_worker_killed_before_its_record_is_found_by_a_running_worker(
    root: Path,
) -> None:
    """Given a worker process that has the state in memory, and another killed after
    writing a draft's file but before recording it, when the running one is asked for
    that draft, then it finds the file (announced in the log before it was written)."""
    running = MaildirMailbox(root, ME)
    running.changes(None)
    running.create_draft(outreach(), "k0", None)
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_BEFORE_THE_RECORD, str(root), ME],
        cwd=paths.ROOT,
        check=False,
    )
    assert killed.returncode == 9
    assert len(files(root / ".Drafts")) == 2
    again = running.create_draft(outreach(), "k1", None)
    assert len(files(root / ".Drafts")) == 2
    assert again.draft_id == running.find_draft("k1").draft_id  # type: ignore[union-attr]


def test_a_line_appended_by_another_process_is_read_without_reloading_the_state(
    root: Path, opener: CountingOpener
) -> None:
    """Given a process that has read the state, when another appends a draft to the log,
    then the first reads only the log's new lines (not the snapshot) and knows the draft."""
    one = MaildirMailbox(root, ME, opener=opener)
    one.changes(None)
    one.create_draft(outreach(), "k1", None)
    ref = MaildirMailbox(root, ME).create_draft(outreach(), "k2", None)
    opener.opened.clear()
    assert one.find_draft("k2") == ref
    assert opener.opened == [LOG_FILE]


def test_a_draft_moved_by_a_mail_client_is_still_found(root: Path, box: MaildirMailbox) -> None:
    """A client that flags our draft renames its file: the draft is found under it."""
    box.changes(None)
    ref = box.create_draft(outreach(), "k1", None)
    (path,) = files(root / ".Drafts")
    path.rename(path.with_name(path.name + "S"))
    assert box.find_draft("k1") == ref
    assert box.create_draft(outreach(), "k1", None) == ref
    assert len(files(root / ".Drafts")) == 1


def test_what_the_tree_remembers_of_a_reply_draft_is_what_its_file_says(
    box: MaildirMailbox, root: Path
) -> None:
    """Given a reply whose References fold over many lines, when it is drafted (its ids
    are taken from the message, not read back from the file), then the draft found by
    its key, in this process and in a fresh one, carries the Message-ID and thread the
    file has."""
    from connectors._mime import read_headers

    chain = tuple(f"<{'r' * 60}{n}@example.org>" for n in range(30))
    message = outreach("Re: Informational interview?")
    ref = box.create_draft(message, "acct/7/nudge/1", ThreadRef(None, chain[-1], chain[:-1]))
    (path,) = (root / ".Drafts" / "cur").iterdir()
    written = read_headers(path.read_bytes())
    assert written.references == chain
    assert (ref.message_id, ref.thread_id) == (written.message_id, chain[0])
    again = MaildirMailbox(root, ME).find_draft("acct/7/nudge/1")
    assert again is not None
    assert (again.message_id, again.thread_id) == (written.message_id, chain[0])


def test_a_draft_is_written_before_the_lock_and_moved_into_drafts_under_it(
    box: MaildirMailbox, root: Path
) -> None:
    """Given a draft made, and the same key drafted again (a retry), then Drafts holds one
    file for it, and nothing is left in tmp/: the retry's file, written before the lock
    was taken and the key found drafted, is removed."""
    first = box.create_draft(outreach(), "acct/1/first_outreach/1", None)
    again = box.create_draft(outreach(), "acct/1/first_outreach/1", None)
    assert again == first
    assert len(list((root / ".Drafts" / "cur").iterdir())) == 1
    assert list((root / ".Drafts" / "tmp").iterdir()) == []


def test_a_draft_that_cannot_be_moved_into_drafts_leaves_no_file_behind(
    box: MaildirMailbox, root: Path
) -> None:
    """Given a Drafts folder whose cur/ refuses the file (it was removed), when a draft is
    made, then the error names the folder and tmp/ holds nothing; a retry once cur/ is
    back makes the one draft."""
    cur = root / ".Drafts" / "cur"
    cur.rmdir()
    with pytest.raises(PermanentError, match="cannot write into"):
        box.create_draft(outreach(), "acct/2/first_outreach/1", None)
    assert list((root / ".Drafts" / "tmp").iterdir()) == []
    cur.mkdir()
    assert box.create_draft(outreach(), "acct/2/first_outreach/1", None) is not None
    assert len(list(cur.iterdir())) == 1
