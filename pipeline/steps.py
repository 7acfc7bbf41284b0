"""Claiming steps, so that each is carried out by one worker at a time.

A step moves planned -> queued (a tick handed it to the workers) -> drafting (a worker is
creating its draft) -> drafted. Each move is one conditional UPDATE, so two ticks or two
workers racing for the same step cannot both win. A claim older than the lease (a lost
queue message, a worker killed mid-draft) can be taken again; the mailbox connectors are
idempotent by the step's key, so a second attempt finds the first one's draft.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from pipeline.models import Account, Meeting, Outreach, Step

# The statuses live in their own module (status reads them without the store); the
# modules that claim and move steps import them from here, with the claims.
from pipeline.step_status import OPEN_STATUSES as OPEN_STATUSES
from pipeline.step_status import StepStatus as StepStatus

if TYPE_CHECKING:
    from pipeline.app import App


def _claimable(
    now: datetime, lease: timedelta, *, fresh: tuple[StepStatus, ...]
) -> ColumnElement[bool]:
    return or_(
        Step.status.in_(fresh),
        and_(
            Step.status.in_((StepStatus.QUEUED, StepStatus.DRAFTING)),
            Step.updated_at <= now - lease,
        ),
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
            _claimable(now, lease, fresh=(StepStatus.PLANNED,)),
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
        .where(Step.id.in_(ids), _claimable(now, lease, fresh=(StepStatus.PLANNED,)))
        .values(status=StepStatus.QUEUED, updated_at=now)
        .returning(Step.id)
    )
    return sorted(claimed)


def claim_for_drafting(
    session: Session, step_ids: Sequence[int], now: datetime, lease: timedelta
) -> set[int]:
    """Take the steps for drafting in one statement; returns those taken. A step is left
    out when another worker holds a live claim on it or it is already done."""
    if not step_ids:
        return set()
    claimed = session.scalars(
        update(Step)
        .where(Step.id.in_(step_ids), _claimable(now, lease, fresh=OPEN_STATUSES))
        .values(status=StepStatus.DRAFTING, updated_at=now)
        .returning(Step.id)
    )
    return set(claimed)


def release(session: Session, step_ids: Sequence[int], now: datetime) -> None:
    """Give claimed steps back (a transient failure): the next attempt may take them."""
    if not step_ids:
        return
    session.execute(
        update(Step)
        .where(Step.id.in_(step_ids), Step.status == StepStatus.DRAFTING)
        .values(status=StepStatus.QUEUED, updated_at=now - timedelta(days=3650))
    )


def due_work(app: App, now: datetime, limit: int) -> tuple[list[int], list[int], list[int]]:
    """Claim the steps due now (oldest first), and list the drafts to withdraw and the
    meetings whose prep notes need writing. Claimed steps are marked queued, so a tick
    running at the same time does not hand them out again."""
    lease = timedelta(seconds=app.settings.limits["step_lease_seconds"])
    with app.store.write() as session:
        steps = claim_due(session, now, lease, limit)
    with app.store.read() as session:
        withdraw = list(
            session.scalars(select(Step.id).where(Step.status == StepStatus.WITHDRAWING))
        )
        meetings = list(
            session.scalars(
                select(Meeting.id).where(
                    Meeting.prep_at.is_(None),
                    or_(Meeting.status == "booked", Meeting.prep_event_id.is_not(None)),
                )
            )
        )
    return steps, withdraw, meetings
