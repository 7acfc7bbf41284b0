"""The statuses of a step (pipeline.steps claims and moves them), and whom a step writes
to, on their own so that what only reads steps, like `outreach status`, need not load
the store or the lifecycle."""

from __future__ import annotations

from enum import StrEnum


class StepStatus(StrEnum):
    """Where a step is. Stored as its value (the column is text), so a StepStatus compares
    equal to the string read back from the table.

    planned -> queued -> drafting -> drafted -> sent | deleted (by the person); a step no
    longer wanted is cancelled (before a draft) or withdrawing -> withdrawn (its draft is
    taken back); failed waits for the person (`outreach retry`)."""

    PLANNED = "planned"
    QUEUED = "queued"
    DRAFTING = "drafting"
    DRAFTED = "drafted"
    SENT = "sent"
    DELETED = "deleted"
    CANCELLED = "cancelled"
    FAILED = "failed"
    WITHDRAWING = "withdrawing"
    WITHDRAWN = "withdrawn"


OPEN_STATUSES = (StepStatus.PLANNED, StepStatus.QUEUED)
"""Not yet taken by a worker: these can still be moved or cancelled outright."""


def writes_to_referrer(kind: str) -> bool:
    """Whether a step of ``kind`` writes to the outreach's referrer (the note back to the
    person who introduced them, when the referrer has an address we may use) rather than to
    the contact."""
    return kind == "referrer_note"
