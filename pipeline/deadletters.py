"""Dead letters: the steps that failed for good, and the inputs skipped as unreadable.

Both live in the database (never in a broker's queue), so `outreach deadletters` can list
them with their reasons and plan failed steps again, whatever broker runs the work.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from pipeline.errors import InputError
from pipeline.models import Step
from pipeline.quickread import session_query
from pipeline.status import skipped_inputs
from pipeline.steps import StepStatus
from pipeline.store import Store


def failed_steps(store: Store) -> list[dict[str, Any]]:
    """The steps that failed for good, oldest first: id, key, kind, why and since when."""
    with store.read() as session:
        return [
            {
                "id": step.id,
                "key": step.key,
                "kind": step.kind,
                "error": step.last_error,
                "since": step.updated_at.isoformat(),
            }
            for step in session.scalars(
                select(Step)
                .where(Step.status == StepStatus.FAILED)
                .order_by(Step.updated_at, Step.id)
            )
        ]


def skipped(store: Store) -> list[dict[str, str]]:
    """Every message and calendar item skipped as unreadable, newest first."""
    with store.read() as session:
        return skipped_inputs(session_query(session))


def retry(store: Store, ids: Sequence[int], now: datetime) -> int:
    """Plan failed steps again (those of ``ids``, or all); the next tick carries them out.
    An id that names no failed step is refused before anything changes."""
    unknown = sorted(set(ids) - {item["id"] for item in failed_steps(store)})
    if unknown:
        raise InputError(
            f"no failed step with id {', '.join(map(str, unknown))}; "
            "`outreach deadletters list` shows the failed steps and their ids"
        )
    with store.write() as session:
        statement = update(Step).where(Step.status == StepStatus.FAILED)
        if ids:
            statement = statement.where(Step.id.in_(ids))
        result = session.execute(
            statement.values(status=StepStatus.PLANNED, last_error=None, updated_at=now)
        )
        return int(getattr(result, "rowcount", 0))
