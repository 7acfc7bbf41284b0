"""Maildir folders: file names and flags, listing a folder by unique name, writing a
message atomically, reading a message's headers, and the error a failed file operation
becomes. Used by the Maildir mailbox (``connectors.maildir``)."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import socket
import time
from collections.abc import Callable, Iterator, KeysView, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from connectors._files import write_atomically
from connectors._mime import Headers, read_headers
from pipeline.errors import AccountUnavailableError, PermanentError, TransientError

log = logging.getLogger(__name__)

_HEAD_CHUNK = 16384
_HEAD_LIMIT = 262144  # headers longer than this are treated as a broken message
_UPLOAD_SUFFIX = re.compile(r",U=\d+.*$")

Opener = Callable[[Path], IO[bytes]]
# (inode, size, mtime) of a file; None when it is missing
Signature = tuple[int, int, int] | None

INBOX, DRAFTS, SENT = "INBOX", "Drafts", "Sent"


def signature(path: Path) -> Signature:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def unique_name(filename: str) -> str:
    """The stable part of a Maildir file name: no ``:2,FLAGS`` info, no ``,U=`` suffix."""
    base = filename.split(":", 1)[0]
    return _UPLOAD_SUFFIX.sub("", base) if ",U=" in base else base


def flags(filename: str) -> str:
    """The Maildir flags of a file name (``"DS"`` for ``...:2,DS``), empty when none."""
    _, sep, info = filename.partition(":2,")
    return info if sep else ""


_counter = 0


def new_unique_name() -> str:
    """A fresh Maildir unique name: ``<seconds>.M<micros>P<pid>Q<n>.<host>``."""
    global _counter
    _counter += 1
    now = time.time()
    host = socket.gethostname().replace("/", r"\057").replace(":", r"\072") or "localhost"
    return f"{int(now)}.M{int((now % 1) * 1_000_000)}P{os.getpid()}Q{_counter}.{host}"


def thread_root(headers: Headers) -> str | None:
    """The thread id used in a Maildir: the Message-ID that started the thread."""
    if headers.references:
        return headers.references[0]
    return headers.in_reply_to or headers.message_id


class Listing(Mapping[str, Path]):
    """A folder's files by unique name; paths are built only for the files looked at."""

    def __init__(self, found: dict[str, tuple[Path, str]]) -> None:
        self._found = found

    def __getitem__(self, unique: str) -> Path:
        directory, name = self._found[unique]
        return directory / name

    def __iter__(self) -> Iterator[str]:
        return iter(self._found)

    def __len__(self) -> int:
        return len(self._found)

    def __contains__(self, unique: object) -> bool:
        return unique in self._found

    def keys(self) -> KeysView[str]:
        return self._found.keys()


@dataclass
class Folder:
    name: str
    path: Path
    # Whether a file flagged T (trashed: deleted on the server, not yet expunged, as
    # mbsync leaves it under ``Expunge None``) counts as gone.
    trashed_is_gone: bool = False

    def listing(self) -> Listing:
        """Unique name -> current file, from the directory entries only."""
        found: dict[str, tuple[Path, str]] = {}
        for sub in ("new", "cur"):
            directory = self.path / sub
            try:
                # names only: Path.iterdir() would build 100,000 Paths on every scan
                names = os.listdir(directory)  # noqa: PTH208
            except FileNotFoundError:
                continue
            for name in names:
                if name.startswith(".") or (self.trashed_is_gone and "T" in flags(name)):
                    continue
                found[unique_name(name)] = (directory, name)
        return Listing(found)

    def write(self, raw: bytes, subdir: str, info: str, unique: str | None = None) -> str:
        """Write a message atomically (tmp, then rename); return its unique name."""
        unique = unique or new_unique_name()
        final = self.path / subdir / (unique + info)
        try:
            write_atomically(final, raw, tmp=self.path / "tmp" / unique, exclusive=True)
        except OSError as err:
            raise os_error(f"cannot write into {self.path}", err) from err
        return unique

    def stage(self, raw: bytes) -> Staged:
        """Write a message into tmp/ under a fresh unique name and flush it to disk; no
        reader sees it until :meth:`deliver` (the first half of :meth:`write`, which a
        caller can do before taking a lock)."""
        unique = new_unique_name()
        path = self.path / "tmp" / unique
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(raw)
                    handle.flush()
                    os.fsync(handle.fileno())
            except BaseException:
                path.unlink(missing_ok=True)
                raise
        except OSError as err:
            raise os_error(f"cannot write into {self.path}", err) from err
        return Staged(unique, path)

    def deliver(self, staged: Staged, subdir: str, info: str) -> None:
        """Move a staged message into ``subdir`` (of this folder as it is now: it may
        have moved since the message was staged), atomically."""
        try:
            staged.path.replace(self.path / subdir / (staged.unique + info))
        except OSError as err:
            raise os_error(f"cannot write into {self.path}", err) from err


@dataclass(frozen=True)
class Staged:
    """A message written to a folder's tmp/ and flushed, not delivered yet."""

    unique: str
    path: Path

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()


# Faults of the whole Maildir, not of one message: every draft would fail the same way.
_MAILBOX_FAULTS = (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EIO)


def os_error(what: str, err: OSError) -> TransientError | PermanentError:
    if err.errno in _MAILBOX_FAULTS:
        return AccountUnavailableError(f"{what}: {err.strerror}")
    if err.errno in (errno.EAGAIN, errno.EBUSY, errno.EINTR):
        return TransientError(f"{what}: {err.strerror}")
    return PermanentError(f"{what}: {err.strerror}")


@dataclass(frozen=True)
class Unreadable:
    """A file in the Maildir that is no message we can read, and why."""

    reason: str


def looks_like_mail(head: bytes) -> bool:
    first = head.lstrip(b"\r\n").split(b"\n", 1)[0]
    if first.startswith(b"From "):  # an mbox separator line left by a conversion
        return True
    name, sep, _ = first.partition(b":")
    return bool(sep) and bool(name) and re.fullmatch(rb"[!-9;-~]+", name) is not None


def read_head(opener: Opener, path: Path) -> Headers | None:
    """The headers of a message file; None when it vanished (it will be seen again under
    its new name); raises ValueError for a broken message."""
    try:
        with opener(path) as handle:
            head = b""
            while b"\n\n" not in head and b"\r\n\r\n" not in head:
                chunk = handle.read(_HEAD_CHUNK)
                if not chunk:
                    break
                head += chunk
                if len(head) > _HEAD_LIMIT:
                    raise ValueError("no end of headers")
    except FileNotFoundError:
        return None
    except OSError as err:
        raise ValueError(err.strerror or "unreadable") from err
    if not head.strip():
        raise ValueError("empty file")
    if not looks_like_mail(head):
        raise ValueError("no header fields")
    return read_headers(head)
