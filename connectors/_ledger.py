"""The drafts a connector created (Gmail, Outlook): what a later ``changes()`` needs to
tell a sent draft from a deleted one, and ``create_draft`` needs to stay idempotent.

Gmail and Graph forget a deleted draft completely, so its key cannot be read back
afterwards: the connector writes each draft it creates here first (state ``creating``,
before the request) and completes the record with the ids the provider answered (state
``draft``). Records are never
changed by ``changes()`` (an older cursor must report the same changes again): what was
already reported travels in the cursor. A record that can no longer matter is dropped by
``prune`` (the connector says which: Gmail's ``connectors._gmail_drafts.settled_long_ago``),
so the ledger does not grow with every draft ever made.

``MemoryLedger`` lives as long as the process; ``FileLedger`` is a JSON file (atomic
writes under an ``fcntl`` lock), shared by the processes of one machine: give every
process that creates drafts or syncs the account the same file.

``fresh`` says whether the ledger started empty with no file behind it (a new workspace,
or one whose ledger file was lost): a connector may then look in the mailbox before
creating a draft it has no record of (Gmail: ``search_unknown_keys``).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from connectors._files import write_atomically

try:
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

Record = dict[str, Any]
"""key -> a JSON object the connector defines (Gmail: "state", "message_id", "draft_id",
"gmail_id", "thread_id", "in_reply_to", "references", "created")"""

Stale = Callable[[str, Record], bool]
"""Whether a record (key, record) can be dropped: asked of the records as they are when
``prune`` holds the lock, never of an older copy another process may have replaced."""


class DraftLedger(Protocol):
    def get(self, key: str) -> Record | None: ...
    def put(self, key: str, record: Record) -> None: ...
    def all(self) -> dict[str, Record]: ...
    def prune(self, stale: Stale) -> int: ...


class MemoryLedger:
    fresh = False
    """A process's own ledger: what it has no record of, it never attempted."""

    def __init__(self) -> None:
        self._records: dict[str, Record] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Record | None:
        with self._lock:
            found = self._records.get(key)
            return dict(found) if found else None

    def put(self, key: str, record: Record) -> None:
        with self._lock:
            self._records[key] = dict(record)

    def all(self) -> dict[str, Record]:
        with self._lock:
            return {k: dict(v) for k, v in self._records.items()}

    def prune(self, stale: Stale) -> int:
        """Drop the records ``stale`` says can go; how many went."""
        with self._lock:
            gone = [k for k, v in self._records.items() if stale(k, dict(v))]
            for key in gone:
                del self._records[key]
            return len(gone)


class FileLedger:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.fresh = not self.path.exists()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.with_suffix(".lock").open("a") as lock:
            if fcntl is not None:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            yield

    def _load(self) -> dict[str, Record]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> Record | None:
        with self._locked():
            return self._load().get(key)

    def put(self, key: str, record: Record) -> None:
        with self._locked():
            data = self._load()
            data[key] = record
            self._write(data)

    def prune(self, stale: Stale) -> int:
        """Drop the records ``stale`` says can go (the file is rewritten only if any did);
        how many went."""
        with self._locked():
            data = self._load()
            kept = {k: v for k, v in data.items() if not stale(k, v)}
            if len(kept) < len(data):
                self._write(kept)
            return len(data) - len(kept)

    def _write(self, data: dict[str, Record]) -> None:
        write_atomically(self.path, json.dumps(data, separators=(",", ":")).encode("utf-8"))

    def all(self) -> dict[str, Record]:
        with self._locked():
            return self._load()
