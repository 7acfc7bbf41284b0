"""A Mailbox over a local Maildir++ tree, as mbsync, offlineimap and neomutt lay it out.

Layout: ``root/{cur,new,tmp}`` is the inbox; drafts and sent mail live in ``root/.Drafts``
and ``root/.Sent`` (Maildir++), or in ``root/Drafts`` and ``root/Sent`` (mbsync's
``SubFolders Verbatim``) when those exist; both names can be given explicitly. Missing
folders are created.

How changes are noticed without re-reading the tree: each ``changes()`` lists the folder
directories (names only) and opens only files whose *unique name* it has not seen. The
unique name is the part of the file name before the ``:2,FLAGS`` info, with the ``,U=``
suffix that mbsync and offlineimap add on upload removed, so a flag change or an upload is
not a new message. What was seen, the drafts we created and a journal of recent changes
live in ``root/.outreach-state.json`` (written atomically, under a lock file so several
worker processes can share the tree). A draft created, withdrawn or a digest delivered
only appends a line to ``root/.outreach-state.log``, so its cost does not grow with the
mailbox; the log is folded into a new snapshot by the next scan that changes anything,
or once it is long. Each log line names the snapshot it applies to, so lines left
behind by a crash between a new snapshot and the log's removal are ignored. A process
keeps the state in memory and reads only the lines another process appended since.

How a draft costs the same however many drafts exist: the state maps each key to its
file, so creating a draft lists no folder. Before a draft's file is written, the name it
will get is appended to the log (an *intent*); a worker killed between the file and the
record leaves the intent behind, and a retry of that key lists Drafts and adopts the
file. Drafts is also listed, and every file not read yet is read, on a process's first
use of the state (a file left by a crash before this scheme, or after a power loss) and
whenever a draft we know is no longer where we put it (moved, re-saved or deleted).

How a sent draft is told from a deleted one: the drafts we created are remembered (key,
Message-ID, In-Reply-To). A new file in Sent is matched to one of them by our
``X-Outreach-Key`` header, else by Message-ID, else by In-Reply-To (a reply to the same
message), and reported as ``SENT`` with that key. A remembered draft whose file is gone
from Drafts without such a match is ``DRAFT_DELETED``, once ``deleted_after`` has passed
since it was first missed (give it a grace period when mbsync may bring the Sent copy
down after the draft's removal).

The first ``changes()`` (or any first use of a tree) takes the mailbox as it is: nothing
already there is reported. A message that cannot be read or parsed is logged by file
name (never its content) and skipped.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import socket
import time
from collections.abc import Callable, Iterator, KeysView, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import IO, Any

from connectors._files import write_atomically
from connectors._journal import Journal
from connectors._mime import (
    Headers,
    ensure_delivery_headers,
    ensure_self_only,
    prepare_draft,
    read_headers,
    to_bytes,
)
from connectors.base import DraftRef, MailChange, MailChangeKind, ThreadRef
from pipeline.errors import AccountUnavailableError, PermanentError, TransientError

try:  # POSIX; on other systems the lock is a no-op and one process should use the tree
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

STATE_FILE = ".outreach-state.json"
LOG_FILE = ".outreach-state.log"
LOCK_FILE = ".outreach-state.lock"
_LOG_LIMIT = 2000  # log lines after which the next write folds them into a snapshot
_STATE_VERSION = 1
_HEAD_CHUNK = 16384
_HEAD_LIMIT = 262144  # headers longer than this are treated as a broken message
_UPLOAD_SUFFIX = re.compile(r",U=\d+.*$")

Opener = Callable[[Path], IO[bytes]]
# (inode, size, mtime) of a file; None when it is missing
_Signature = tuple[int, int, int] | None
Clock = Callable[[], datetime]

INBOX, DRAFTS, SENT = "INBOX", "Drafts", "Sent"


def _open_binary(path: Path) -> IO[bytes]:
    return path.open("rb")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _signature(path: Path) -> _Signature:
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


class _Listing(Mapping[str, Path]):
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
class _Folder:
    name: str
    path: Path

    def ensure(self) -> None:
        for sub in ("cur", "new", "tmp"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)

    def listing(self) -> _Listing:
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
                if not name.startswith("."):
                    found[unique_name(name)] = (directory, name)
        return _Listing(found)

    def write(self, raw: bytes, subdir: str, info: str, unique: str | None = None) -> str:
        """Write a message atomically (tmp, then rename); return its unique name."""
        unique = unique or new_unique_name()
        final = self.path / subdir / (unique + info)
        try:
            write_atomically(final, raw, tmp=self.path / "tmp" / unique, exclusive=True)
        except OSError as err:
            raise _os_error(f"cannot write into {self.path}", err) from err
        return unique


# Faults of the whole Maildir, not of one message: every draft would fail the same way.
_MAILBOX_FAULTS = (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EIO)


def _os_error(what: str, err: OSError) -> TransientError | PermanentError:
    if err.errno in _MAILBOX_FAULTS:
        return AccountUnavailableError(f"{what}: {err.strerror}")
    if err.errno in (errno.EAGAIN, errno.EBUSY, errno.EINTR):
        return TransientError(f"{what}: {err.strerror}")
    return PermanentError(f"{what}: {err.strerror}")


class MaildirMailbox:
    """The person's mailbox as a local Maildir++ tree (see the module docstring)."""

    def __init__(
        self,
        root: Path,
        address: str,
        *,
        drafts_folder: str | None = None,
        sent_folder: str | None = None,
        deleted_after: timedelta = timedelta(0),
        clock: Clock = _utcnow,
        opener: Opener = _open_binary,
    ) -> None:
        self.root = Path(root)
        # the state as last loaded or written, and the snapshot's signature then
        self._cache: tuple[_Signature, _State] | None = None
        self._address = address
        self._deleted_after = deleted_after
        self._clock = clock
        self._open = opener
        self._folders = {
            INBOX: _Folder(INBOX, self.root),
            DRAFTS: _Folder(DRAFTS, self._locate(drafts_folder, DRAFTS)),
            SENT: _Folder(SENT, self._locate(sent_folder, SENT)),
        }
        for folder in self._folders.values():
            folder.ensure()

    @property
    def address(self) -> str:
        return self._address

    # -- the port ------------------------------------------------------------------------

    def changes(self, cursor: str | None) -> tuple[list[MailChange], str]:
        with self._state() as state:
            state.scan()
            position = state.journal.position(cursor)
            found = [] if position is None else state.journal.since(position)
            return found, state.journal.cursor()

    def fetch_raw(self, provider_ids: Sequence[str]) -> dict[str, bytes]:
        wanted: dict[str, list[str]] = {}
        for pid in provider_ids:
            folder, _, unique = pid.partition("/")
            if folder in self._folders and unique:
                wanted.setdefault(folder, []).append(unique)
        result: dict[str, bytes] = {}
        for folder, uniques in wanted.items():
            listing = self._folders[folder].listing()
            for unique in uniques:
                path = listing.get(unique)
                if path is None:
                    continue
                try:
                    with self._open(path) as handle:
                        result[f"{folder}/{unique}"] = handle.read()
                except FileNotFoundError:
                    continue  # moved or deleted since the listing
                except OSError as err:
                    raise _os_error(f"cannot read {path.name}", err) from err
        return result

    def create_draft(self, message: EmailMessage, key: str, thread: ThreadRef | None) -> DraftRef:
        draft = prepare_draft(message, key, thread, self._address)
        raw = to_bytes(draft)
        with self._state() as state:
            existing = state.find(key)
            if existing is not None:
                return existing
            headers = read_headers(raw)
            unique = new_unique_name()
            state.announce(key, unique)  # before the file: a retry after a kill finds it
            self._folders[DRAFTS].write(raw, "cur", ":2,D", unique)
            thread_id = (thread.thread_id if thread else None) or thread_root(headers)
            state.remember_draft(key, unique, headers, thread_id)
            # The file is on disk (fsync) and carries its key: after a power loss the first
            # use of the state reads it back, so its record needs no fsync of its own.
            state.durable = False
            assert headers.message_id is not None
            return DraftRef(f"{DRAFTS}/{unique}", headers.message_id, thread_id)

    def find_draft(self, key: str) -> DraftRef | None:
        with self._state() as state:
            return state.find(key)

    def discard_draft(self, key: str) -> bool:
        with self._state() as state:
            found = state.find(key)
            if found is None or not found.draft_id.startswith(f"{DRAFTS}/"):
                return False
            unique = found.draft_id.split("/", 1)[1]
            path = state.draft_path(unique)
            if path is not None:
                try:
                    path.unlink()
                except FileNotFoundError:
                    pass
                except OSError as err:
                    raise _os_error(f"cannot remove {path.name}", err) from err
            entry = state.ours.get(key)
            if entry is not None:
                entry.update(state="withdrawn", missing_since=None)
                state.record("ours", key, entry)
            return path is not None

    def deliver_to_self(self, message: EmailMessage) -> str:
        ensure_self_only(message, self._address)
        raw = to_bytes(ensure_delivery_headers(message, self._address, self._clock()))
        with self._state() as state:
            unique = self._folders[INBOX].write(raw, "new", "")
            state.seen[INBOX].add(unique)  # ours: not reported as inbound
            state.record("seen", INBOX, unique)
        return f"{INBOX}/{unique}"

    # -- internals -----------------------------------------------------------------------

    def _locate(self, explicit: str | None, name: str) -> Path:
        """The folder ``explicit`` (a server's name for it, e.g. "Sent Items" or
        "[Gmail]/Sent Mail"), else ``name``: in Maildir++ form (".Sent Items",
        ".[Gmail].Sent Mail") or verbatim, whichever exists; Maildir++ when neither does."""
        wanted = explicit or name
        if wanted.startswith("."):
            return self.root / wanted
        candidates = (self.root / f".{wanted.replace('/', '.')}", self.root / wanted)
        for candidate in candidates:
            if (candidate / "cur").is_dir():
                return candidate
        return candidates[0]

    @contextlib.contextmanager
    def _state(self) -> Iterator[_State]:
        lock_path = self.root / LOCK_FILE
        try:
            lock = lock_path.open("a")
        except OSError as err:
            raise _os_error(f"cannot open {lock_path}", err) from err
        with lock:
            if fcntl is not None:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            state = self._cached_state()
            state.durable = True
            if state.log_lines >= _LOG_LIMIT:
                state.dirty = True  # fold the log into a snapshot on this turn
            try:
                yield state
                if state.dirty:
                    state.save()
                    self._remember(state)
                elif state.pending:
                    state.append_log(durable=state.durable)
                    self._remember(state)
            except BaseException:
                self._cache = None  # it may hold changes that never reached the files
                raise

    def _cached_state(self) -> _State:
        """The state as this process last loaded or wrote it, with the log lines other
        processes appended since, while the snapshot is the same file (same inode, size
        and mtime: a new snapshot replaces it); else read afresh."""
        snapshot = _signature(self.root / STATE_FILE)
        if self._cache is not None and snapshot is not None and self._cache[0] == snapshot:
            state = self._cache[1]
            if state.read_log():
                return state
        state = _State.load(self)
        self._cache = (snapshot, state) if snapshot is not None else None
        return state

    def _remember(self, state: _State) -> None:
        snapshot = _signature(self.root / STATE_FILE)
        self._cache = (snapshot, state) if snapshot is not None else None


class _State:
    """What the mailbox remembers between calls; only used under the lock."""

    def __init__(self, box: MaildirMailbox, data: dict[str, Any] | None) -> None:
        self.box = box
        fresh = data is None or "seen" not in data
        self.dirty = fresh
        data = data or {}
        # The snapshot this state was read from or last written as; log lines name it.
        self.generation: str = str(data.get("generation") or os.urandom(8).hex())
        self.pending: list[list[Any]] = []  # small changes not yet in the log
        self.log_lines = 0
        # (inode, bytes read) of the log: what is read of it; None while it is missing
        self.log_read: tuple[int, int] | None = None
        # Whether Drafts was listed and its unread files read since this state was loaded
        self.tracked = False
        # Whether this turn's log lines must reach the disk before the lock is released
        self.durable = True
        self.journal: Journal[MailChange] = (
            Journal.from_json(data["journal"], _decode_change) if "journal" in data else Journal()
        )
        self.seen: dict[str, set[str]] = {
            name: set(data.get("seen", {}).get(name, [])) for name in (INBOX, SENT)
        }
        # unique name of each file in Drafts we have read -> its key ("" when none)
        self.draft_keys: dict[str, str] = dict(data.get("draft_keys", {}))
        # key -> what we know of a message carrying it in Sent: [unique, Message-ID, thread]
        self.sent_keys: dict[str, list[str | None]] = dict(data.get("sent_keys", {}))
        # key -> the draft we created: unique, message_id, in_reply_to, references,
        # thread_id, state ("draft", "sent", "deleted"), missing_since
        self.ours: dict[str, dict[str, Any]] = dict(data.get("ours", {}))
        # key -> unique name of a draft file about to be written (see the module docstring)
        self.intents: dict[str, str] = dict(data.get("intents", {}))
        if fresh:
            self._baseline()

    # -- persistence ---------------------------------------------------------------------

    @classmethod
    def load(cls, box: MaildirMailbox) -> _State:
        path = box.root / STATE_FILE
        try:
            with box._open(path) as handle:
                data = json.loads(handle.read())
        except FileNotFoundError:
            return cls(box, None)
        except (OSError, ValueError) as err:
            log.warning("state file %s is unreadable (%s): starting afresh", path, err)
            return cls(box, None)
        if not isinstance(data, dict) or data.get("version") != _STATE_VERSION:
            log.warning("state file %s has an unknown format: starting afresh", path)
            return cls(box, None)
        state = cls(box, data)
        state.read_log()
        return state

    def record(self, *change: Any) -> None:
        """Apply-and-log a small change already made in memory: ``("ours", key, entry)``
        or ``("draft_key", unique, key)`` or ``("seen", folder, unique)`` or ``("intent",
        key, unique or None)``; it reaches the log (or the next snapshot) when the lock is
        released."""
        self.pending.append(list(change))

    def announce(self, key: str, unique: str) -> None:
        """Log, before the file exists, that a draft for ``key`` is being written as
        ``unique``. Not flushed to disk: what matters is a worker killed after it (the
        line is in the system's page cache); after a power loss the first use of the
        state lists Drafts anyway."""
        self.intents[key] = unique
        self.record("intent", key, unique)
        self.append_log(durable=False)  # now, even when a snapshot follows on release

    def _apply(self, change: list[Any]) -> None:
        kind, name, value = change
        if kind == "ours":
            self.ours[name] = dict(value)
            self.intents.pop(name, None)
        elif kind == "intent":
            if value is None:
                self.intents.pop(name, None)
            else:
                self.intents[name] = value
        elif kind == "draft_key":
            self.draft_keys[name] = value
        elif kind == "seen" and name in self.seen:
            self.seen[name].add(value)

    def read_log(self) -> bool:
        """Apply the log lines written on top of this snapshot since the last call; lines
        of an older snapshot (a crash after writing the new one) and a torn line are
        skipped. False when the log is no longer the one read so far (the state must be
        loaded afresh)."""
        path = self.box.root / LOG_FILE
        try:
            info = path.stat()
            inode, offset = self.log_read or (info.st_ino, 0)
            if inode != info.st_ino or info.st_size < offset:
                return False
            data = b""
            if info.st_size > offset:
                with self.box._open(path) as handle:
                    handle.seek(offset)
                    data = handle.read()
        except FileNotFoundError:
            return self.log_read is None
        except OSError as err:
            log.warning("state log %s is unreadable (%s): ignoring it", path, err)
            return True
        self.log_read = (inode, offset + len(data))
        for number, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if record["g"] != self.generation:
                    continue
                self._apply(record["c"])
            except (ValueError, KeyError, TypeError):
                log.warning("state log %s: line %d is damaged; skipped", path, number)
                continue
            self.log_lines += 1
        return True

    def append_log(self, *, durable: bool = True) -> None:
        """Append the pending changes to the log and (unless told otherwise) make them
        durable."""
        path = self.box.root / LOG_FILE
        # A leading newline ends a line torn by a crash, so it cannot swallow this one.
        lines = [
            json.dumps({"g": self.generation, "c": change}, separators=(",", ":"))
            for change in self.pending
        ]
        data = ("\n" + "\n".join(lines) + "\n").encode("utf-8")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
            try:
                os.write(fd, data)
                if durable:
                    os.fsync(fd)
                info = os.fstat(fd)
            finally:
                os.close(fd)
        except OSError as err:
            raise _os_error(f"cannot append to {path}", err) from err
        # Under the lock, and every line before ours was read: the log is read to its end.
        self.log_read = (info.st_ino, info.st_size)
        self.log_lines += len(self.pending)
        self.pending.clear()

    def save(self) -> None:
        """Write a new snapshot (with a new generation) and drop the log it contains."""
        self.generation = os.urandom(8).hex()
        data = {
            "version": _STATE_VERSION,
            "generation": self.generation,
            "journal": self.journal.to_json(_encode_change),
            "seen": {name: sorted(names) for name, names in self.seen.items()},
            "draft_keys": self.draft_keys,
            "sent_keys": self.sent_keys,
            "ours": self.ours,
            "intents": self.intents,
        }
        path = self.box.root / STATE_FILE
        try:
            # json.dumps encodes in C in one go; json.dump to a file would not.
            write_atomically(path, json.dumps(data, separators=(",", ":")).encode("utf-8"))
        except OSError as err:
            raise _os_error(f"cannot write {path}", err) from err
        self.dirty = False
        self.pending.clear()
        self.log_lines = 0
        with contextlib.suppress(FileNotFoundError):
            (self.box.root / LOG_FILE).unlink()  # its lines name the old generation
        self.log_read = None

    def _baseline(self) -> None:
        """Take the tree as it is: everything present now counts as seen."""
        for name in (INBOX, SENT):
            self.seen[name] = set(self.box._folders[name].listing())
        self.dirty = True

    # -- reading messages ----------------------------------------------------------------

    def _headers(self, path: Path) -> Headers | None:
        """The headers of a message file; None when it vanished (it will be seen again
        under its new name); raises ValueError for a broken message."""
        try:
            with self.box._open(path) as handle:
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
        if not _looks_like_mail(head):
            raise ValueError("no header fields")
        return read_headers(head)

    def _read_new(self, path: Path) -> Headers | Unreadable | None:
        """Headers of a new file; None when it vanished; ``Unreadable`` (with the reason)
        when it cannot be read or parsed (logged by file name)."""
        try:
            return self._headers(path)
        except (ValueError, UnicodeError, LookupError) as err:
            log.warning("skipping unreadable message %s: %s", path.name, err)
            return Unreadable(str(err) or type(err).__name__)

    # -- the scan ------------------------------------------------------------------------

    def scan(self) -> None:
        """Notice what changed since the last scan and append it to the journal."""
        now = self.box._clock()
        found: list[MailChange] = []
        folders = self.box._folders
        sent = folders[SENT].listing()
        drafts = folders[DRAFTS].listing()
        inbox = folders[INBOX].listing()

        for unique in sorted(sent.keys() - self.seen[SENT]):
            headers = self._read_new(sent[unique])
            if headers is None:
                continue
            self.seen[SENT].add(unique)
            self.dirty = True
            if isinstance(headers, Unreadable):
                continue
            found.append(self._sent(unique, sent[unique], headers, drafts))

        self._track_drafts(drafts)
        self.tracked = True
        found.extend(self._deleted_drafts(drafts, now))

        for unique in sorted(inbox.keys() - self.seen[INBOX]):
            headers = self._read_new(inbox[unique])
            if headers is None:
                continue
            self.seen[INBOX].add(unique)
            self.dirty = True
            if isinstance(headers, Unreadable):
                found.append(
                    MailChange(
                        kind=MailChangeKind.UNREADABLE,
                        provider_id=f"{INBOX}/{unique}",
                        message_id=None,
                        thread_id=None,
                        in_reply_to=None,
                        at=now,
                        reason=headers.reason,
                    )
                )
                continue
            found.append(
                self._change(MailChangeKind.INBOUND, INBOX, unique, inbox[unique], headers)
            )

        for name, listing in ((SENT, sent), (INBOX, inbox)):
            vanished = self.seen[name] - listing.keys()
            if vanished:
                self.seen[name] -= vanished
                self.dirty = True
        if found:
            self.journal.append(found)
            self.dirty = True

    def _change(
        self,
        kind: MailChangeKind,
        folder: str,
        unique: str,
        path: Path,
        headers: Headers,
        key: str | None = None,
    ) -> MailChange:
        self.dirty = True
        at = headers.date
        if at is None:
            try:
                at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            except OSError:
                at = self.box._clock()
        return MailChange(
            kind=kind,
            provider_id=f"{folder}/{unique}",
            message_id=headers.message_id,
            thread_id=thread_root(headers),
            in_reply_to=headers.in_reply_to,
            references=headers.references,
            key=key or headers.key,
            at=at,
            recipients=headers.recipients,
        )

    def _sent(self, unique: str, path: Path, headers: Headers, drafts: _Listing) -> MailChange:
        key = self._match_ours(headers, drafts)
        if key is not None:
            entry = self.ours[key]
            entry.update(state="sent", sent=unique, missing_since=None)
        change = self._change(MailChangeKind.SENT, SENT, unique, path, headers, key)
        if change.key is not None:
            self.sent_keys[change.key] = [unique, headers.message_id, change.thread_id]
        return change

    def _match_ours(self, headers: Headers, drafts: _Listing) -> str | None:
        """The key of the draft a message in Sent was sent from, if any."""
        return self._match(headers, {"draft", "deleted"}, drafts)

    def _match(
        self, headers: Headers, states: set[str], drafts: _Listing | None = None
    ) -> str | None:
        """Our draft a message stands for: by key, else Message-ID, else In-Reply-To when
        exactly one of our drafts in ``states`` replies to that message (or, given the
        current ``drafts``, exactly one of those is gone from Drafts)."""
        if headers.key is not None:
            # Our key names the draft outright. A key we do not know (its record was lost
            # in a crash) is never matched by thread to another draft of ours: the caller
            # adopts it under its own key.
            return headers.key if headers.key in self.ours else None
        candidates = [(k, e) for k, e in self.ours.items() if e["state"] in states]
        if headers.message_id is not None:
            for key, entry in candidates:
                if entry["message_id"] == headers.message_id:
                    return key
        if headers.in_reply_to is not None:
            replies = [k for k, e in candidates if e["in_reply_to"] == headers.in_reply_to]
            if len(replies) > 1 and drafts is not None:
                replies = [k for k in replies if self.ours[k]["unique"] not in drafts]
            if len(replies) == 1:
                return replies[0]
        return None

    def _track_drafts(self, drafts: _Listing) -> None:
        """Learn the keys of new files in Drafts (an edited draft is saved under a new
        name; a draft of ours carries its key) and forget files that are gone."""
        for unique in sorted(drafts.keys() - self.draft_keys.keys()):
            headers = self._read_new(drafts[unique])
            if headers is None:
                continue
            self.dirty = True
            if isinstance(headers, Unreadable):
                self.draft_keys[unique] = ""
                continue
            key = self._match_draft(headers)
            self.draft_keys[unique] = key or ""
            if key is not None and self.ours[key]["state"] == "draft":
                self.ours[key].update(unique=unique, missing_since=None)
            elif key is None and headers.key:
                # a draft of ours the state had lost (state file deleted): track it again
                self.remember_draft(headers.key, unique, headers, thread_root(headers))
        for unique in self.draft_keys.keys() - drafts.keys():
            del self.draft_keys[unique]
            self.dirty = True

    def _match_draft(self, headers: Headers) -> str | None:
        """The key of our draft that a new file in Drafts is a re-saved copy of, if any."""
        return self._match(headers, {"draft"})

    def _deleted_drafts(self, drafts: _Listing, now: datetime) -> list[MailChange]:
        found = []
        for key, entry in self.ours.items():
            if entry["state"] != "draft":
                continue
            if entry["unique"] in drafts:
                if entry.get("missing_since"):
                    entry["missing_since"] = None
                    self.dirty = True
                continue
            if not entry.get("missing_since"):
                entry["missing_since"] = now.isoformat()
                self.dirty = True
            missing_since = datetime.fromisoformat(entry["missing_since"])
            if now - missing_since < self.box._deleted_after:
                continue
            entry["state"] = "deleted"
            self.dirty = True
            found.append(
                MailChange(
                    kind=MailChangeKind.DRAFT_DELETED,
                    provider_id=f"{DRAFTS}/{entry['unique']}",
                    message_id=entry["message_id"],
                    thread_id=entry["thread_id"],
                    in_reply_to=entry["in_reply_to"],
                    references=tuple(entry["references"]),
                    key=key,
                    at=now,
                )
            )
        return found

    # -- drafts we create ----------------------------------------------------------------

    def find(self, key: str) -> DraftRef | None:
        """The draft or sent message carrying ``key``: from memory, else by reading the
        few files in Drafts not read yet (e.g. the state file was lost after a write).

        Without listing Drafts in the usual cases: a key never written and never
        announced (see the module docstring), and a draft still in its file."""
        if key in self.sent_keys:
            unique, message_id, thread_id = self.sent_keys[key]
            return DraftRef(f"{SENT}/{unique}", message_id or "", thread_id)
        entry = self.ours.get(key)
        if self.tracked and key not in self.intents:
            if entry is None:
                return None
            if entry["state"] == "draft" and self._where_written(entry["unique"]).exists():
                return DraftRef(
                    f"{DRAFTS}/{entry['unique']}", entry["message_id"], entry["thread_id"]
                )
        drafts = self.box._folders[DRAFTS].listing()
        self._track_drafts(drafts)
        self.tracked = True
        if self.intents.pop(key, None) is not None:  # a file for it would be read by now
            self.record("intent", key, None)
        entry = self.ours.get(key)
        if entry is not None and entry["state"] == "draft" and entry["unique"] in drafts:
            return DraftRef(f"{DRAFTS}/{entry['unique']}", entry["message_id"], entry["thread_id"])
        for unique, found_key in sorted(self.draft_keys.items()):
            if found_key != key or unique not in drafts:
                continue
            headers = self._read_new(drafts[unique])
            if headers is None or isinstance(headers, Unreadable):
                continue
            self.remember_draft(key, unique, headers, thread_root(headers))
            return DraftRef(f"{DRAFTS}/{unique}", headers.message_id or "", thread_root(headers))
        return None

    def _where_written(self, unique: str) -> Path:
        """Where a draft file of ours is until a mail client moves or re-flags it."""
        return self.box._folders[DRAFTS].path / "cur" / f"{unique}:2,D"

    def draft_path(self, unique: str) -> Path | None:
        """The file of the draft ``unique`` in Drafts, if it is there."""
        written = self._where_written(unique)
        if written.exists():
            return written
        return self.box._folders[DRAFTS].listing().get(unique)

    def remember_draft(
        self, key: str, unique: str, headers: Headers, thread_id: str | None
    ) -> None:
        self.ours[key] = {
            "unique": unique,
            "message_id": headers.message_id,
            "in_reply_to": headers.in_reply_to,
            "references": list(headers.references),
            "thread_id": thread_id,
            "state": "draft",
            "missing_since": None,
            "sent": None,
        }
        self.draft_keys[unique] = key
        self.intents.pop(key, None)  # the "ours" line below settles it for a reader
        self.record("ours", key, self.ours[key])
        self.record("draft_key", unique, key)


@dataclass(frozen=True)
class Unreadable:
    """A file in the Maildir that is no message we can read, and why."""

    reason: str


def _looks_like_mail(head: bytes) -> bool:
    first = head.lstrip(b"\r\n").split(b"\n", 1)[0]
    if first.startswith(b"From "):  # an mbox separator line left by a conversion
        return True
    name, sep, _ = first.partition(b":")
    return bool(sep) and bool(name) and re.fullmatch(rb"[!-9;-~]+", name) is not None


def _encode_change(change: MailChange) -> dict[str, Any]:
    return {
        "kind": change.kind.value,
        "provider_id": change.provider_id,
        "message_id": change.message_id,
        "thread_id": change.thread_id,
        "in_reply_to": change.in_reply_to,
        "references": list(change.references),
        "key": change.key,
        "at": change.at.isoformat() if change.at else None,
        "reason": change.reason,
        "recipients": list(change.recipients),
    }


def _decode_change(data: dict[str, Any]) -> MailChange:
    return MailChange(
        kind=MailChangeKind(data["kind"]),
        provider_id=data["provider_id"],
        message_id=data["message_id"],
        thread_id=data["thread_id"],
        in_reply_to=data["in_reply_to"],
        references=tuple(data["references"]),
        key=data["key"],
        at=datetime.fromisoformat(data["at"]) if data["at"] else None,
        reason=data.get("reason"),
        recipients=tuple(data.get("recipients", ())),
    )
