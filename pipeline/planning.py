"""Keeping the plans current as time passes and as the working hours change.

`advance_time` tells every open outreach that time has passed (meetings end, pauses
lift), once a tick. `replan_for_working_hours` re-plans when the person's working hours
change (time zone, workdays, send window):

The working hours the plans were made for are remembered per account (a row of
sync_cursors, stream "working_hours"). When outreach.toml says otherwise (`outreach init
--force --timezone ...`, or the file edited by hand), every open outreach of the account
is told `WorkingHoursChanged`, and the lifecycle moves its planned drafts into the new
send window. Every command runs this check as it opens the workspace, so status, the
tick and the digest all see the new plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from pipeline import lifecycle as lc
from pipeline.models import Account, SyncCursor
from pipeline.models import Outreach as OutreachRow
from pipeline.outreach import observe
from pipeline.quickread import WORKING_HOURS_STREAM as STREAM
from pipeline.quickread import plans_current
from pipeline.store import Store

if TYPE_CHECKING:
    from pipeline.app import App

CLOSED_STAGES = (*(str(stage) for stage in lc.TERMINAL_STAGES), "declined")
"""Stages in which time passing changes nothing."""


def advance_time(app: App, now: datetime) -> int:
    """Tell every open outreach that time has passed: meetings end, pauses lift."""
    changed = 0
    with app.store.write() as session:
        rows = session.scalars(
            select(OutreachRow).where(~OutreachRow.stage.in_(CLOSED_STAGES))
        ).all()
        for row in rows:
            before = row.state
            observe(session, row, lc.TimePassed(at=now), now, app.policy)
            if row.state != before:
                changed += 1
    return changed


@dataclass(frozen=True)
class Replanned:
    """How many outreaches had a draft moved, per account name."""

    moved: dict[str, int]


def replan_for_working_hours(store: Store, policy: lc.Policy, now: datetime) -> Replanned:
    """Move the planned drafts of every account whose plans were made for other working
    hours; remember the current ones. An account seen for the first time only records
    them (its plans were made for these)."""
    wanted = policy.working_hours()
    moved: dict[str, int] = {}
    with store.read() as session:  # most days nothing changed: no write at all
        known_hours = dict(
            session.execute(
                select(SyncCursor.account_id, SyncCursor.cursor).where(SyncCursor.stream == STREAM)
            ).all()
        )
        accounts = list(session.scalars(select(Account.id)))
    if plans_current(wanted, known_hours, accounts):
        return Replanned(moved)
    with store.write() as session:
        for account in session.scalars(select(Account).order_by(Account.id)):
            known = session.get(SyncCursor, (account.id, STREAM))
            if known is None:
                session.add(
                    SyncCursor(account_id=account.id, stream=STREAM, cursor=wanted, updated_at=now)
                )
                continue
            if known.cursor == wanted:
                continue
            rows = session.scalars(
                select(OutreachRow).where(
                    OutreachRow.account_id == account.id,
                    OutreachRow.stage.not_in([str(stage) for stage in lc.TERMINAL_STAGES]),
                )
            )
            changed = 0
            for row in rows:
                applied = observe(session, row, lc.WorkingHoursChanged(at=now), now, policy)
                changed += bool(applied.rescheduled)
            moved[account.name] = changed
            known.cursor, known.updated_at = wanted, now
    return Replanned(moved)
