"""What the Maildir mailbox remembers between calls, and how it reaches the disk: a JSON
snapshot plus a log of small changes appended on top of it (see ``connectors.maildir``)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

from connectors._files import write_atomically
from connectors._journal import Journal
from connectors._maildir_folders import INBOX, SENT, os_error
from connectors.base import MailChange, MailChangeKind

if TYPE_CHECKING:
    from connectors.maildir import MaildirMailbox

log = logging.getLogger(__name__)

STATE_FILE = ".outreach-state.json"
LOG_FILE = ".outreach-state.log"
_STATE_VERSION = 1


class StoredState:
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
    def load(cls, box: MaildirMailbox) -> Self:
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
            raise os_error(f"cannot append to {path}", err) from err
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
            raise os_error(f"cannot write {path}", err) from err
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
