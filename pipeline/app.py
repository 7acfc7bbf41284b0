"""bootstrap(): wires settings, the store, the policy, templates and connectors together.

Nothing opens a connection at import time; commands, workers and tests call bootstrap()
and get one :class:`App` holding the adapters they should use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from connectors.base import Calendar, Mailbox
from pipeline.clock import Clock, clock_from_environment, system_clock
from pipeline.lifecycle import Policy
from pipeline.models import Account
from pipeline.quickread import session_query, settled
from pipeline.settings import AccountSettings, Settings, policy_from_settings
from pipeline.store import Store, open_store

if TYPE_CHECKING:
    from pipeline.compose import TemplateSet

MailboxFactory = Callable[[AccountSettings, Path], Mailbox]
CalendarFactory = Callable[[AccountSettings, Path], Calendar]


def _default_mailbox(
    account: AccountSettings, workspace: Path, *, clock: Clock = system_clock
) -> Mailbox:
    from pipeline.connect import open_mailbox

    return open_mailbox(account, workspace, clock=clock)


def _default_calendar(
    account: AccountSettings, workspace: Path, *, clock: Clock = system_clock
) -> Calendar:
    from pipeline.connect import open_calendar

    return open_calendar(account, workspace, clock=clock)


@dataclass
class App:
    """One wired application: settings, store, policy, clock and connector factories."""

    settings: Settings
    store: Store
    policy: Policy
    clock: Clock = system_clock
    mailbox_factory: MailboxFactory = _default_mailbox
    calendar_factory: CalendarFactory = _default_calendar
    _mailboxes: dict[str, Mailbox] = field(default_factory=dict)
    _calendars: dict[str, Calendar] = field(default_factory=dict)
    _templates: TemplateSet | None = None

    def now(self) -> datetime:
        return self.clock()

    @property
    def templates(self) -> TemplateSet:
        """The templates, loaded once per App (Jinja2 caches each compiled template)."""
        if self._templates is None:
            from pipeline.compose import TemplateSet

            self._templates = TemplateSet(self.settings.templates_override)
        return self._templates

    def mailbox(self, account: AccountSettings) -> Mailbox:
        if account.name not in self._mailboxes:
            self._mailboxes[account.name] = self.mailbox_factory(account, self.settings.workspace)
        return self._mailboxes[account.name]

    def calendar(self, account: AccountSettings) -> Calendar:
        if account.name not in self._calendars:
            self._calendars[account.name] = self.calendar_factory(account, self.settings.workspace)
        return self._calendars[account.name]

    def close(self) -> None:
        """Close the connectors that hold connections, then the store."""
        for connector in [*self._mailboxes.values(), *self._calendars.values()]:
            close = getattr(connector, "close", None)
            if callable(close):
                close()
        self._mailboxes.clear()
        self._calendars.clear()
        self.store.close()


def sync_accounts(store: Store, settings: Settings, now: datetime) -> None:
    """Make the accounts table match the [[accounts]] of outreach.toml. An account no
    longer listed is marked removed, never deleted: its outreach stays as history and its
    steps wait until an account of that name is added again."""
    configured = {account.name: account for account in settings.accounts}
    with store.write() as session:
        existing = {a.name: a for a in session.scalars(select(Account))}
        for account in settings.accounts:
            row = existing.get(account.name)
            if row is None:
                session.add(
                    Account(
                        name=account.name,
                        kind=account.kind,
                        address=account.address.lower(),
                        created_at=now,
                    )
                )
                continue
            if (row.kind, row.address) != (account.kind, account.address.lower()):
                row.kind, row.address = account.kind, account.address.lower()
            if row.removed_at is not None:
                row.removed_at = None
        for name, row in existing.items():
            if name not in configured and row.removed_at is None:
                row.removed_at = now


def bootstrap(
    settings: Settings,
    *,
    clock: Clock | None = None,
    mailbox_factory: MailboxFactory | None = None,
    calendar_factory: CalendarFactory | None = None,
) -> App:
    """Open the store (migrating it), register the accounts, re-plan the drafts when the
    working hours changed (see pipeline.planning), and wire the adapters. Most days the
    accounts and the working hours are as they were (pipeline.quickread.settled), and
    opening writes nothing.

    The clock is ``clock`` when given, else the one $OUTREACH_NOW describes (see
    pipeline.clock), else the system's; the local connectors read the same clock."""
    clock = clock or clock_from_environment()
    store = open_store(settings.database_url, busy_timeout_ms=settings.busy_timeout_ms)
    policy = policy_from_settings(settings)
    with store.read() as session:  # most days nothing changed: no write at all
        nothing_to_do = settled(session_query(session), settings, policy)
    if not nothing_to_do:
        from pipeline.planning import replan_for_working_hours  # the use cases load on demand

        sync_accounts(store, settings, clock())
        replan_for_working_hours(store, policy, clock())
    return App(
        settings=settings,
        store=store,
        policy=policy,
        clock=clock,
        mailbox_factory=mailbox_factory or partial(_default_mailbox, clock=clock),
        calendar_factory=calendar_factory or partial(_default_calendar, clock=clock),
    )
