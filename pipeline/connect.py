"""Open the Mailbox and Calendar of an account from its settings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from connectors.base import Calendar, Mailbox
from pipeline.clock import Clock, system_clock
from pipeline.errors import SettingsError
from pipeline.settings import AccountSettings

_NOT_YET = (
    "account {name!r} is of kind {kind!r}, which this version cannot open yet; "
    'use kind = "local" (a Maildir and a vdir in the workspace) for now'
)


def local_path(workspace: Path, configured: str | None, default: str) -> Path:
    path = Path(configured or default).expanduser()
    return path if path.is_absolute() else workspace / path


def open_mailbox(
    account: AccountSettings, workspace: Path, *, clock: Clock = system_clock
) -> Mailbox:
    """The account's mailbox. ``clock`` stamps what the local and in-memory mailboxes
    write; Gmail keeps the real clock, which its server's history is measured against."""
    if account.kind == "local":
        from connectors.maildir import MaildirMailbox

        return MaildirMailbox(
            local_path(workspace, account.maildir, "mail"),
            account.address,
            drafts_folder=account.drafts_folder,
            sent_folder=account.sent_folder,
            deleted_after=timedelta(minutes=account.deleted_after_minutes),
            clock=clock,
        )
    if account.kind == "memory":
        from connectors.memory import InMemoryMailbox

        return InMemoryMailbox(account.address, clock=clock)
    if account.kind == "gmail":
        from connectors.google_open import open_gmail_mailbox

        return open_gmail_mailbox(account, workspace)
    raise SettingsError(_NOT_YET.format(name=account.name, kind=account.kind))


def open_calendar(
    account: AccountSettings, workspace: Path, *, clock: Clock = system_clock
) -> Calendar:
    """The account's calendar; ``clock`` as for open_mailbox."""
    if account.kind == "local":
        from connectors.vdir import VdirCalendar

        return VdirCalendar(local_path(workspace, account.calendar, "calendar"), clock=clock)
    if account.kind == "memory":
        from connectors.memory import InMemoryCalendar

        return InMemoryCalendar()
    if account.kind == "gmail":
        from connectors.google_open import open_google_calendar

        return open_google_calendar(account, workspace)
    raise SettingsError(_NOT_YET.format(name=account.name, kind=account.kind))
