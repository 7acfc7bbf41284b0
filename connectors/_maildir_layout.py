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
and was made by someone else (a sync tool, a mail client); else the first that exists;
else the first is created. A folder we create holds a marker file (``.outreach-made``):
it is a placeholder, and when a sync tool later makes the real folder elsewhere (mbsync
``Verbatim`` or offlineimap ran after the first tick), the placeholder's messages (drafts
we wrote, digests) move into the real folder and the placeholder is removed, so the sync
tool uploads them and sees no stray folder (mbsync refuses a ``.Drafts`` folder in a
``Verbatim`` tree). Files keep their names when moved, so nothing is reported again.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

MARKER = ".outreach-made"
_SUBDIRS = ("cur", "new", "tmp")


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


def choose(candidates: Sequence[Path]) -> tuple[Path, list[Path]]:
    """The folder to use among ``candidates`` (see the module docstring), and the other
    existing placeholders of ours, to be emptied into it. Lists no directory."""
    existing = [c for c in candidates if _exists(c)]
    theirs = [c for c in existing if not _ours(c)]
    chosen = theirs[0] if theirs else existing[0] if existing else candidates[0]
    placeholders = [c for c in existing if c != chosen and c not in theirs]
    return chosen, placeholders


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
