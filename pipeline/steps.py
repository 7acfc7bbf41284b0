"""Claiming steps, so that each is carried out by one worker at a time.

A step moves planned -> queued (a tick handed it to the workers) -> drafting (a worker is
creating its draft) -> drafted. Each move is one conditional UPDATE, so two ticks or two
workers racing for the same step cannot both win. A claim older than the lease (a lost
queue message, a worker killed mid-draft) can be taken again; the mailbox connectors are
idempotent by the step's key, so a second attempt finds the first one's draft.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from pipeline.models import Account, Outreach, Step


def _claimable(now: datetime, lease: timedelta, *, fresh: tuple[str, ...]) -> ColumnElement[bool]:
    return or_(
        Step.status.in_(fresh),
        and_(Step.status.in_(("queued", "drafting")), Step.updated_at <= now - lease),
    )


def claim_due(session: Session, now: datetime, lease: timedelta, limit: int) -> list[int]:
    """Mark up to ``limit`` due steps as queued and return their ids (oldest first).

    Steps of an account that needs re-authorization, or that was removed from
    outreach.toml, wait: claiming them would only fail again, and take the places of
    other accounts' steps."""
    waiting = (
        select(Outreach.id)
        .join(Account)
        .where(or_(Account.needs_reauth.is_(True), Account.removed_at.is_not(None)))
    )
    due = (
        select(Step.id)
        .where(
            Step.due_at <= now,
            _claimable(now, lease, fresh=("planned",)),
            Step.outreach_id.not_in(waiting),
        )
        .order_by(Step.due_at, Step.id)
        .limit(limit)
    )
    ids = list(session.scalars(due))
    if not ids:
        return []
    claimed = session.scalars(
        update(Step)
        .where(Step.id.in_(ids), _claimable(now, lease, fresh=("planned",)))
        .values(status="queued", updated_at=now)
        .returning(Step.id)
    )
    return sorted(claimed)


def claim_for_drafting(session: Session, step_id: int, now: datetime, lease: timedelta) -> bool:
    """Take the step for drafting; False when another worker holds a live claim on it or it
    is already done."""
    result = session.execute(
        update(Step)
        .where(Step.id == step_id, _claimable(now, lease, fresh=("planned", "queued")))
        .values(status="drafting", updated_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


def release(session: Session, step_id: int, now: datetime) -> None:
    """Give a claimed step back (a transient failure): the next attempt may take it."""
    session.execute(
        update(Step)
        .where(Step.id == step_id, Step.status == "drafting")
        .values(status="queued", updated_at=now - timedelta(days=3650))
    )
