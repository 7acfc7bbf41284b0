"""A Mailbox over a local Maildir++ tree, as mbsync, offlineimap and neomutt lay it out.

Layout: the inbox is ``root/{cur,new,tmp}`` (Maildir++) or ``root/INBOX`` (mbsync's
``SubFolders Verbatim``, offlineimap); drafts and sent mail live in ``root/.Drafts`` and
``root/.Sent`` (Maildir++) or ``root/Drafts`` and ``root/Sent``; the server's names for
both folders can be given ("Sent Items", "[Gmail]/Sent Mail"). Missing folders are made
as placeholders, given up for the real ones when a sync tool makes them later (see
``connectors._maildir_layout``). A draft flagged T (trashed: deleted on the server, kept
by mbsync under ``Expunge None``) counts as gone from Drafts.

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
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import IO

from connectors._maildir_folders import (
    DRAFTS,
    INBOX,
    SENT,
    Folder,
    Opener,
    Signature,
    flags,
    os_error,
    signature,
    thread_root,
    unique_name,
)
from connectors._maildir_layout import MARKER as PLACEHOLDER_MARKER
from connectors._maildir_layout import (
    choose,
    create,
    empty_into,
    folder_candidates,
    inbox_candidates,
)
from connectors._maildir_scan import State as _State
from connectors._maildir_state import LOG_FILE, STATE_FILE
from connectors._mime import (
    ensure_delivery_headers,
    ensure_self_only,
    headers_of,
    prepare_draft,
    to_bytes,
)
from connectors.base import DraftRef, MailChange, ThreadRef

try:  # POSIX; on other systems the lock is a no-op and one process should use the tree
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

__all__ = [
    "DRAFTS",
    "INBOX",
    "LOG_FILE",
    "PLACEHOLDER_MARKER",
    "STATE_FILE",
    "MaildirMailbox",
    "flags",
    "folder_in_use",
    "unique_name",
]

LOCK_FILE = ".outreach-state.lock"


def _empty(source: Path, target: Path, *, keep: bool) -> None:
    """Empty our placeholder, or an older init's unmarked leftover, into ``target``; the
    leftover's move is told at WARNING: we did not mark that folder."""
    ours = (source / PLACEHOLDER_MARKER).exists()
    moved = empty_into(source, target, keep=keep)
    if moved and not ours:
        log.warning(
            "moved %d message(s) from %s, a folder neither outreach nor a sync tool marked "
            "(an older outreach init made such folders), into %s, which your sync tool "
            "keeps, so that your mail client shows them",
            moved,
            source,
            target,
        )


def folder_in_use(root: Path, name: str | None, default: str) -> Path:
    """The directory a mail client finds the server's folder ``name`` (``default`` when
    none is set: INBOX, DRAFTS or SENT) in: the sync tool's folder when there is one, else
    ours."""
    wanted = name or default
    places = inbox_candidates(root) if wanted == INBOX else folder_candidates(root, wanted)
    return choose(places).folder


_LOG_LIMIT = 2000  # log lines after which the next write folds them into a snapshot
_os_error = os_error  # the name other modules and tests know

Clock = Callable[[], datetime]


def _open_binary(path: Path) -> IO[bytes]:
    return path.open("rb")


def _utcnow() -> datetime:
    return datetime.now(UTC)


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
        self._cache: tuple[Signature, _State] | None = None
        self._address = address
        self._deleted_after = deleted_after
        self._clock = clock
        self._open = opener
        self._candidates = {
            INBOX: inbox_candidates(self.root),
            DRAFTS: folder_candidates(self.root, drafts_folder or DRAFTS),
            SENT: folder_candidates(self.root, sent_folder or SENT),
        }
        self._warned: set[tuple[Path, Path]] = set()  # rival folders named in a warning
        self._folders = {
            INBOX: Folder(INBOX, self.root),
            DRAFTS: Folder(DRAFTS, self._candidates[DRAFTS][0], trashed_is_gone=True),
            SENT: Folder(SENT, self._candidates[SENT][0]),
        }
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise _os_error(f"cannot create {self.root}", err) from err
        with self._lock():
            self._find_folders(make_all=True)

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
        # Before the lock, which other processes sharing the tree wait for: the ids (from
        # the message, not parsed back from its bytes) and the file, written and flushed
        # to disk in tmp/, where no reader looks. Under the lock it only moves into Drafts.
        headers = headers_of(draft)
        staged = self._folders[DRAFTS].stage(raw)
        delivered = False
        try:
            with self._state() as state:
                existing = state.find(key)
                if existing is not None:
                    return existing
                unique = staged.unique
                state.announce(key, unique)  # before the file: a retry after a kill finds it
                self._folders[DRAFTS].deliver(staged, "cur", ":2,D")
                delivered = True
                thread_id = (thread.thread_id if thread else None) or thread_root(headers)
                state.remember_draft(key, unique, headers, thread_id)
                # The file is on disk (fsync) and carries its key: after a power loss the
                # first use of the state reads it back, so its record needs no fsync.
                state.durable = False
                assert headers.message_id is not None
                return DraftRef(f"{DRAFTS}/{unique}", headers.message_id, thread_id)
        finally:
            if not delivered:  # drafted before, or a failure
                staged.discard()

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

    def _find_folders(self, *, make_all: bool = False) -> None:
        """Where the inbox, Drafts and Sent are now (see ``connectors._maildir_layout``):
        a sync tool may have made a folder since the last call. A placeholder of ours (or
        an older init's leftover) is emptied into the real folder. ``make_all``: make
        every missing folder, not only one that moved."""
        for name, folder in self._folders.items():
            choice = choose(self._candidates[name])
            chosen = choice.folder
            try:
                if chosen != folder.path or make_all:
                    create(chosen)
                    folder.path = chosen
                for placeholder in choice.emptied:
                    _empty(placeholder, chosen, keep=placeholder == self.root)
            except OSError as err:
                raise _os_error(f"cannot set up the folder {chosen}", err) from err
            for rival in choice.rivals:
                if (chosen, rival) not in self._warned:
                    self._warned.add((chosen, rival))
                    log.warning(
                        "%s: %s and %s both look in use (a sync tool keeps both, or "
                        "neither, and neither is outreach's); outreach uses the first, "
                        "the first in its order, and leaves the other alone, unread: "
                        "move what you keep there into the first, or remove the one your "
                        "sync tool does not use",
                        name,
                        chosen,
                        rival,
                    )

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Hold the lock that processes sharing the tree take in turn."""
        lock_path = self.root / LOCK_FILE
        try:
            lock = lock_path.open("a")
        except OSError as err:
            raise _os_error(f"cannot open {lock_path}", err) from err
        with lock:
            if fcntl is not None:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            yield

    @contextlib.contextmanager
    def _state(self) -> Iterator[_State]:
        with self._lock():
            self._find_folders()
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
        snapshot = signature(self.root / STATE_FILE)
        if self._cache is not None and snapshot is not None and self._cache[0] == snapshot:
            state = self._cache[1]
            if state.read_log():
                return state
        state = _State.load(self)
        self._cache = (snapshot, state) if snapshot is not None else None
        return state

    def _remember(self, state: _State) -> None:
        snapshot = signature(self.root / STATE_FILE)
        self._cache = (snapshot, state) if snapshot is not None else None
