"""A change journal behind opaque cursors, shared by the local implementations.

Each ``changes()`` call scans for what is new, appends it under a new generation number
and answers with everything appended after the generation named by the caller's cursor.
Replaying from the journal (rather than from the files) is what lets a caller retry with
an older cursor after a failed transaction without anything being re-read.

A cursor is ``"<epoch>.<generation>"``; the epoch changes whenever the journal is created
afresh (a new in-memory store, a deleted state file), so a cursor from another journal is
recognised and treated like ``None`` instead of silently skipping changes.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_KEEP = 10_000
"""Journal entries kept for replay; older cursors get what is left, with a warning."""


@dataclass
class Journal(Generic[T]):
    """Changes tagged with the generation that first noticed them."""

    epoch: str = field(default_factory=lambda: secrets.token_hex(4))
    generation: int = 0
    entries: list[tuple[int, T]] = field(default_factory=list)
    floor: int = 0  # generations up to and including this one were pruned
    keep: int = DEFAULT_KEEP

    def cursor(self) -> str:
        """The cursor naming the current generation."""
        return f"{self.epoch}.{self.generation}"

    def position(self, cursor: str | None) -> int | None:
        """The generation a cursor names, or None when it names nothing in this journal."""
        if cursor is None:
            return None
        epoch, _, generation = cursor.partition(".")
        if epoch != self.epoch or not generation.isdigit():
            log.warning("cursor %r belongs to another journal: starting from now", cursor)
            return None
        position = int(generation)
        if position > self.generation:
            log.warning("cursor %r is ahead of the journal: starting from now", cursor)
            return None
        if position < self.floor:
            log.warning(
                "cursor %r is older than the %d changes kept: some changes are lost",
                cursor,
                len(self.entries),
            )
        return position

    def append(self, items: Iterable[T]) -> None:
        """Record ``items`` under a new generation (no new generation when empty)."""
        batch = list(items)
        if not batch:
            return
        self.generation += 1
        self.entries.extend((self.generation, item) for item in batch)
        if len(self.entries) > self.keep:
            dropped = self.entries[: len(self.entries) - self.keep]
            self.entries = self.entries[len(dropped) :]
            self.floor = dropped[-1][0]

    def since(self, position: int) -> list[T]:
        """Everything appended after generation ``position``."""
        return [item for generation, item in self.entries if generation > position]

    def to_json(self, encode: Callable[[T], Any]) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "generation": self.generation,
            "floor": self.floor,
            "entries": [[generation, encode(item)] for generation, item in self.entries],
        }

    @classmethod
    def from_json(
        cls, data: dict[str, Any], decode: Callable[[Any], T], keep: int = DEFAULT_KEEP
    ) -> Journal[T]:
        return cls(
            epoch=str(data["epoch"]),
            generation=int(data["generation"]),
            floor=int(data.get("floor", 0)),
            entries=[(int(generation), decode(item)) for generation, item in data["entries"]],
            keep=keep,
        )
