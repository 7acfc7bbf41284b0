"""One tick, what cron runs: sync every account, understand new mail, advance the
lifecycles, and hand every due step to the workers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select

from pipeline.accounts import mark_needs_reauth
from pipeline.app import App
from pipeline.errors import AuthError, OutreachError
from pipeline.models import Account, Step
from pipeline.planning import advance_time
from pipeline.steps import StepStatus, due_work
from pipeline.sync import sync_calendar, sync_mailbox

log = logging.getLogger(__name__)

# (actor name, argument) pairs handed to a Dispatcher.
Job = tuple[str, Any]
# Runs or enqueues jobs; returns the jobs that failed for good (dead letters), if it knows.
Dispatch = Callable[[list[Job]], list[str] | None]


@dataclass
class TickSummary:
    """What one tick did; printed as one line, or as JSON."""

    accounts: int = 0
    inbound: int = 0
    sent: int = 0
    drafts_deleted: int = 0
    matched: int = 0
    meetings: int = 0
    advanced: int = 0
    queued_drafts: int = 0
    queued_prep: int = 0
    drafts_created: int = 0
    drafts_withdrawn: int = 0
    steps_failed: int = 0
    unreadable: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # Set when this tick did nothing because another one was still running.
    skipped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        if self.skipped:
            return f"nothing done: {self.skipped}"
        seen = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(self.kinds.items()))
        parts = [
            f"{self.accounts} account{'s' if self.accounts != 1 else ''} synced",
            f"{self.inbound} new message{'s' if self.inbound != 1 else ''}"
            + (f" ({seen})" if seen else ""),
            f"{self.sent} sent by you",
            f"{self.drafts_created} draft{'s' if self.drafts_created != 1 else ''} created",
        ]
        if self.drafts_withdrawn:
            parts.append(f"{self.drafts_withdrawn} moot draft(s) withdrawn")
        if self.drafts_deleted:
            parts.append(f"{self.drafts_deleted} draft(s) you deleted")
        if self.meetings:
            parts.append(f"{self.meetings} meeting change(s)")
        if self.queued_prep:
            parts.append(f"{self.queued_prep} prep note(s) updated")
        if self.steps_failed:
            parts.append(f"{self.steps_failed} step(s) need you (see outreach status)")
        if self.unreadable:
            parts.append(f"{self.unreadable} item(s) skipped as unreadable (see outreach status)")
        if self.errors:
            parts.append(f"{len(self.errors)} error(s)")
        return "; ".join(parts)


def _needing_reauth(app: App) -> dict[str, str]:
    with app.store.read() as session:
        return {
            a.name: a.reauth_reason or "authorization expired"
            for a in session.scalars(select(Account).where(Account.needs_reauth.is_(True)))
        }


def _unavailable(app: App) -> dict[str, str]:
    with app.store.read() as session:
        rows = session.execute(
            select(Account.name, Account.unavailable_reason).where(
                Account.unavailable_reason.is_not(None)
            )
        )
        return {name: str(reason) for name, reason in rows}


def sync_one(app: App, account_name: str, summary: TickSummary | None = None) -> TickSummary:
    """Sync one account's mailbox and calendar; record what it saw in ``summary``."""
    summary = summary or TickSummary()
    account = app.settings.account(account_name)
    try:
        mail = sync_mailbox(app, account)
        cal = sync_calendar(app, account)
    except AuthError as err:
        mark_needs_reauth(app, account.name, str(err))
        summary.errors.append(f"{account.name}: needs re-authorization: {err}")
        return summary
    summary.accounts += 1
    summary.inbound += mail.inbound
    summary.sent += mail.sent
    summary.drafts_deleted += mail.deleted
    summary.matched += mail.matched
    summary.meetings += mail.meetings + cal.meetings
    summary.unreadable += mail.unreadable + cal.unreadable
    for kind, count in mail.kinds.items():
        summary.kinds[kind] = summary.kinds.get(kind, 0) + count
    return summary


def _count(app: App, status: StepStatus, among: list[int]) -> int:
    """How many of the steps this tick handed out are now in ``status`` (counted by id,
    not by time: a clock that stands still, or workers finishing an earlier tick's jobs,
    must not change the figures)."""
    total = 0
    with app.store.read() as session:
        for start in range(0, len(among), 500):  # a bounded IN list, whatever the tick's size
            chunk = among[start : start + 500]
            query = select(func.count(Step.id)).where(Step.status == status, Step.id.in_(chunk))
            total += int(session.scalar(query) or 0)
    return total


TICK_LOCK = "tick"
"""The lock one tick holds per database (a digest delivery waits for it)."""

ALREADY_RUNNING = (
    "another `outreach tick` is still running on this database; this one stops so the "
    "two do not fetch the same mail twice (the running one does the work)"
)


def run_tick(app: App, dispatch: Dispatch) -> TickSummary:
    """Sync, decide, and dispatch the due work; ``dispatch`` runs or enqueues the jobs.

    One tick at a time: when cron starts a tick while the last one still runs (a long
    first sync, a slow provider), the new one returns at once with ``skipped`` set."""
    with app.store.exclusive(TICK_LOCK) as alone:
        if not alone:
            log.info("tick skipped: another tick holds the lock")
            return TickSummary(skipped=ALREADY_RUNNING)
        return _run_tick(app, dispatch)


def _run_tick(app: App, dispatch: Dispatch) -> TickSummary:
    summary = TickSummary()
    waiting = _needing_reauth(app)
    for account in app.settings.accounts:
        if account.name in waiting:  # no retry loop: the person must authorize it again
            summary.errors.append(
                f"{account.name}: needs re-authorization ({waiting[account.name]}); run "
                f"`outreach accounts add {account.kind} --name {account.name} ...` again"
            )
            continue
        try:
            sync_one(app, account.name, summary)
        except OutreachError as err:
            log.warning("sync of %s failed: %s", account.name, err)
            summary.errors.append(f"{account.name}: {err}")
    now = app.now()
    summary.advanced = advance_time(app, now)
    steps, withdraw, meetings = due_work(app, now, app.settings.limits["drafts_per_tick"])
    jobs: list[Job] = [("create_draft", step) for step in steps]
    jobs += [("discard_draft", step) for step in withdraw]
    jobs += [("prep_meeting", meeting) for meeting in meetings]
    summary.queued_drafts, summary.queued_prep = len(steps), len(meetings)
    if jobs:
        summary.errors.extend(f"failed: {job}" for job in dispatch(jobs) or [])
    summary.errors.extend(
        f"{name}: cannot be used now ({reason}); its drafts wait, and the next tick tries "
        "again once that is fixed"
        for name, reason in _unavailable(app).items()
    )
    summary.drafts_created = _count(app, StepStatus.DRAFTED, steps)
    summary.drafts_withdrawn = _count(app, StepStatus.WITHDRAWN, withdraw)
    summary.steps_failed = _count(app, StepStatus.FAILED, steps)
    return summary
