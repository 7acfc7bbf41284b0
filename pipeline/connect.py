"""Open the Mailbox and Calendar of an account from its settings."""

from __future__ import annotations

from pathlib import Path

from connectors.base import Calendar, Mailbox
from pipeline.errors import SettingsError
from pipeline.settings import AccountSettings

_NOT_YET = (
    "account {name!r} is of kind {kind!r}, which this version cannot open yet; "
    'use kind = "local" (a Maildir and a vdir in the workspace) for now'
)


def local_path(workspace: Path, configured: str | None, default: str) -> Path:
    path = Path(configured or default).expanduser()
    return path if path.is_absolute() else workspace / path


def open_mailbox(account: AccountSettings, workspace: Path) -> Mailbox:
    if account.kind == "local":
        from connectors.maildir import MaildirMailbox

        return MaildirMailbox(local_path(workspace, account.maildir, "mail"), account.address)
    if account.kind == "memory":
        from connectors.memory import InMemoryMailbox

        return InMemoryMailbox(account.address)
    if account.kind == "gmail":
        from connectors.google_open import open_gmail_mailbox

        return open_gmail_mailbox(account, workspace)
    raise SettingsError(_NOT_YET.format(name=account.name, kind=account.kind))


def open_calendar(account: AccountSettings, workspace: Path) -> Calendar:
    if account.kind == "local":
        from connectors.vdir import VdirCalendar

        return VdirCalendar(local_path(workspace, account.calendar, "calendar"))
    if account.kind == "memory":
        from connectors.memory import InMemoryCalendar

        return InMemoryCalendar()
    if account.kind == "gmail":
        from connectors.google_open import open_google_calendar

        return open_google_calendar(account, workspace)
    raise SettingsError(_NOT_YET.format(name=account.name, kind=account.kind))
