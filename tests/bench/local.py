"""Benchmarks of the local connectors: ``python -m tests.bench maildir-scan``."""

from __future__ import annotations

import os
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from typing import IO, Any

from connectors.maildir import STATE_FILE, MaildirMailbox

MESSAGES = 100_000
NEW_MESSAGES = 100
ME = "me@example.org"


class CountingOpener:
    """The mailbox's file opener, counting what it opens."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, path: Path) -> IO[bytes]:
        self.count += 1
        return path.open("rb")


def _message(n: int) -> bytes:
    return (
        f"From: sender{n}@example.com\nTo: {ME}\nSubject: message {n}\n"
        f"Date: Tue, 24 Nov 2026 10:00:00 +0000\nMessage-ID: <m{n}@example.com>\n\n"
        f"Body of message {n}.\n"
    ).encode()


def _fill(root: Path, first: int, count: int, subdir: str, info: str) -> None:
    directory = root / subdir
    for n in range(first, first + count):
        fd = os.open(directory / f"{1_700_000_000 + n}.R{n}.bench{info}", os.O_WRONLY | os.O_CREAT)
        try:
            os.write(fd, _message(n))
        finally:
            os.close(fd)


def _timed(box: MaildirMailbox, opener: CountingOpener, cursor: str | None) -> dict[str, Any]:
    opener.count = 0
    started = time.perf_counter()
    changes, new_cursor = box.changes(cursor)
    return {
        "seconds": round(time.perf_counter() - started, 4),
        "files_opened": opener.count,
        "reported": len(changes),
        "cursor": new_cursor,
    }


def maildir_scan() -> dict[str, Any]:
    """100,000 messages in INBOX: a first sync, an idle sync, and one with 100 new ones.

    Files opened count every file the mailbox opens for reading, the state file included.
    """
    with tempfile.TemporaryDirectory(prefix="outreach-bench-") as tmp:
        root = Path(tmp) / "Mail"
        opener = CountingOpener()
        box = MaildirMailbox(root, ME, opener=opener)
        started = time.perf_counter()
        _fill(root, 0, MESSAGES, "cur", ":2,S")
        build = time.perf_counter() - started

        first = _timed(box, opener, None)
        idle = _timed(box, opener, first["cursor"])
        _fill(root, MESSAGES, NEW_MESSAGES, "new", "")
        incremental = _timed(box, opener, idle["cursor"])
        state_bytes = (root / STATE_FILE).stat().st_size

    return {
        "messages": MESSAGES,
        "build_seconds": round(build, 2),
        "first_scan_seconds": first["seconds"],
        "first_scan_files_opened": first["files_opened"],
        "idle_scan_seconds": idle["seconds"],
        "idle_scan_files_opened": idle["files_opened"],
        "new_messages": NEW_MESSAGES,
        "incremental_scan_seconds": incremental["seconds"],
        "incremental_scan_files_opened": incremental["files_opened"],
        "incremental_reported": incremental["reported"],
        "state_file_bytes": state_bytes,
    }


DRAFTS = 300


def _fill_drafts(root: Path, count: int) -> None:
    """``count`` drafts of ours left from earlier days, as files in Drafts."""
    directory = root / ".Drafts" / "cur"
    for n in range(count):
        fd = os.open(directory / f"{1_600_000_000 + n}.R{n}.bench:2,D", os.O_WRONLY | os.O_CREAT)
        try:
            os.write(fd, b"X-Outreach-Key: earlier/%d\n" % n + _message(n))
        finally:
            os.close(fd)


def maildir_drafts(
    messages: int = MESSAGES, drafts: int = DRAFTS, drafts_before: int = 0
) -> dict[str, Any]:
    """300 drafts created one by one in a Maildir whose INBOX holds 100,000 messages (a
    person's real mailbox): the cost of remembering each draft, which must not grow with
    the mailbox. Each create_draft runs under the state lock and is durable on return.
    ``drafts_before``: drafts already in Drafts (read once, by an untimed first draft)."""
    with tempfile.TemporaryDirectory(prefix="outreach-bench-") as tmp:
        root = Path(tmp) / "Mail"
        box = MaildirMailbox(root, ME)
        _fill(root, 0, messages, "cur", ":2,S")
        _fill_drafts(root, drafts_before)
        box.changes(None)
        if drafts_before:
            box.create_draft(_draft(-1), "bench/warm-up", None)
        state = root / STATE_FILE
        bytes_before = sum(p.stat().st_size for p in root.glob(".outreach-state*"))
        started = time.perf_counter()
        for n in range(drafts):
            box.create_draft(_draft(n), f"bench/{n}/outreach", None)
        seconds = time.perf_counter() - started
        idle_started = time.perf_counter()
        changes, _ = box.changes(None)
        state_files = {p.name: p.stat().st_size for p in root.glob(".outreach-state*")}
        fresh = MaildirMailbox(root, ME)  # another process: reads the state from disk
        found = sum(fresh.find_draft(f"bench/{n}/outreach") is not None for n in range(drafts))
        after_seconds = time.perf_counter() - idle_started
    return {
        "messages_in_inbox": messages,
        "drafts_before": drafts_before,
        "drafts": drafts,
        "seconds": round(seconds, 3),
        "drafts_per_second": round(drafts / seconds, 1),
        "ms_per_draft": round(1000 * seconds / drafts, 2),
        "state_bytes_before": bytes_before,
        "state_files_after": state_files,
        "scan_and_reload_seconds": round(after_seconds, 3),
        "found_by_another_process": found,
        "state_file": state.name,
        "changes_reported_from_start": len(changes),
    }


def _draft(n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = ME
    message["To"] = f"person{n}@example.com"
    message["Subject"] = f"Question about your work {n}"
    message.set_content(f"Hello {n},\n\nWould you have 20 minutes?\n")
    return message


def maildir_drafts_crowded() -> dict[str, Any]:
    """300 drafts into a Drafts folder that already holds 10,000 (a first tick over many
    contacts, late in its run): the cost of a draft must not grow with the drafts."""
    return maildir_drafts(messages=1000, drafts=DRAFTS, drafts_before=10_000)


SCENARIOS = {
    "maildir-scan": maildir_scan,
    "maildir-drafts": maildir_drafts,
    "maildir-drafts-crowded": maildir_drafts_crowded,
}
