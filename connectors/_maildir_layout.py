"""Where the inbox, Drafts and Sent are in a Maildir tree, whichever tool laid it out.

The same IMAP folder lands in different places depending on the sync tool:

=====================  ====================  ====================  =====================
folder                 Maildir++ (mbsync,    mbsync ``SubFolders   offlineimap
                       Dovecot, Courier)     Verbatim``
=====================  ====================  ====================  =====================
INBOX                  ``root``              ``root/INBOX``        ``root/INBOX``
Sent Items             ``root/.Sent Items``  ``root/Sent Items``   ``root/Sent Items``
[Gmail]/Sent Mail      ``root/.[Gmail].      ``root/[Gmail]/Sent   ``root/[Gmail].Sent
                       Sent Mail``           Mail``                Mail``
=====================  ====================  ====================  =====================

Each folder has its candidate places, in that order. The one used is the first that exists
and is kept by a sync tool or an IMAP server (its own files are there: mbsync's
``.uidvalidity`` or ``.mbsyncstate``, Dovecot's ``dovecot-uidlist``, Courier's
``courierimapuiddb``); else the first that exists and was made by someone else; else the
first that exists; else the first is created. A folder we create holds a marker file
(``.outreach-made``): it is a placeholder, and when a sync tool later makes the real folder
elsewhere (mbsync ``Verbatim`` or offlineimap ran after the first tick), the
placeholder's messages (drafts we wrote, digests) move into the real folder and the
placeholder is removed, so the sync tool uploads them and sees no stray folder (mbsync
refuses a ``.Drafts`` folder in a ``Verbatim`` tree). Files keep their names when moved,
so nothing is reported again.

A workspace made by an older ``outreach init`` has the same placeholders without the
marker (the inbox at the root, ``.Drafts``, ``.Sent``). Such a folder, kept by no sync
tool, next to one a sync tool keeps, is a leftover: it is emptied into the kept one like a
placeholder (a warning names both), so the drafts written there reach the folder the mail
client shows instead of being taken for deleted. Two folders that both look used (both
kept by a sync tool, or neither and neither ours) cannot be told apart: the first is used,
the other is left alone, and a warning names both.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MARKER = ".outreach-made"
_SUBDIRS = ("cur", "new", "tmp")
SYNC_FILES = (".uidvalidity", ".mbsyncstate", "dovecot-uidlist", "courierimapuiddb")
"""Files a sync tool or IMAP server keeps in each Maildir folder it looks after."""


def inbox_candidates(root: Path) -> tuple[Path, ...]:
    """The inbox's places: the root (Maildir++), then ``root/INBOX`` (mbsync ``Verbatim``
    with ``Inbox`` inside ``Path``, offlineimap)."""
    return (root, root / "INBOX")


def folder_candidates(root: Path, name: str) -> tuple[Path, ...]:
    """The places of the server's folder ``name`` ("Sent Items", "[Gmail]/Sent Mail"); a
    name starting with a dot is taken as the one directory it names."""
    if name.startswith("."):
        return (root / name,)
    found = [root / f".{name.replace('/', '.')}", root / name, root / name.replace("/", ".")]
    return tuple(dict.fromkeys(found))


def _exists(folder: Path) -> bool:
    return (folder / "cur").is_dir()


def _ours(folder: Path) -> bool:
    return (folder / MARKER).exists()


def _kept(folder: Path) -> bool:
    """Whether a sync tool or IMAP server looks after ``folder`` (its files are there)."""
    return any((folder / name).exists() for name in SYNC_FILES)


@dataclass(frozen=True)
class Choice:
    """The folder to use, the folders to empty into it (our placeholders; leftovers of an
    older init when the folder used is kept by a sync tool), and the folders that look
    used as well but are left alone (the person should hear of them)."""

    folder: Path
    emptied: tuple[Path, ...] = ()
    rivals: tuple[Path, ...] = ()


def choose(candidates: Sequence[Path]) -> Choice:
    """The folder to use among ``candidates`` (see the module docstring). Lists no
    directory: a few ``stat`` calls per candidate."""
    existing = [c for c in candidates if _exists(c)]
    kept = [c for c in existing if _kept(c)]
    theirs = [c for c in existing if not _ours(c) and c not in kept]
    chosen = (kept or theirs or existing or list(candidates))[0]
    emptied = tuple(
        c
        for c in existing
        if c != chosen and c not in kept and (_ours(c) or (kept and c in theirs))
    )
    rivals = tuple(c for c in kept + theirs if c != chosen and c not in emptied)
    return Choice(chosen, emptied, rivals)


def create(folder: Path) -> None:
    """Make ``folder`` with its cur/new/tmp; marked as ours when it did not exist (the
    marker first: a crash in between leaves a placeholder, never an unmarked folder)."""
    if not _exists(folder):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MARKER).touch()
    for sub in _SUBDIRS:
        (folder / sub).mkdir(exist_ok=True)


def empty_into(placeholder: Path, target: Path, *, keep: bool) -> int:
    """Move the messages of our ``placeholder`` into ``target`` (same subdirectory, same
    name), then remove the placeholder unless ``keep`` (the Maildir root itself: only its
    cur/new/tmp go). Returns how many messages moved. A directory that cannot be removed
    (a file arrived meanwhile) stays and is emptied on a later call."""
    moved = 0
    for sub in ("new", "cur"):
        source = placeholder / sub
        try:
            names = os.listdir(source)  # noqa: PTH208
        except FileNotFoundError:
            continue
        for name in names:
            if name.startswith("."):
                continue
            with contextlib.suppress(FileNotFoundError):
                (source / name).rename(target / sub / name)
                moved += 1
    for sub in _SUBDIRS:
        with contextlib.suppress(OSError):
            (placeholder / sub).rmdir()
    if not _exists(placeholder):
        with contextlib.suppress(FileNotFoundError):
            (placeholder / MARKER).unlink()
        if not keep:
            with contextlib.suppress(OSError):
                placeholder.rmdir()
    if moved:
        log.info("moved %d message(s) from %s into %s", moved, placeholder.name, target.name)
    return moved
