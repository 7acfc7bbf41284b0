"""Open the Mailbox and Calendar of an account from its settings.

Each account kind is an entry of ``KINDS``: how to open its mailbox and its calendar.
Openers import their connector when called, so a kind's client libraries (Google's,
msal) are loaded only by the accounts that use them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from connectors.base import Calendar, Mailbox
from pipeline.clock import Clock, system_clock
from pipeline.errors import SettingsError
from pipeline.settings import AccountSettings


def local_path(workspace: Path, configured: str | None, default: str) -> Path:
    path = Path(configured or default).expanduser()
    return path if path.is_absolute() else workspace / path


@dataclass(frozen=True)
class AccountKind:
    """How to open the mailbox and the calendar of one kind of account: each opener
    takes the account, the workspace and the clock."""

    open_mailbox: Callable[[AccountSettings, Path, Clock], Mailbox]
    open_calendar: Callable[[AccountSettings, Path, Clock], Calendar]


def local_drafts_and_inbox(account: AccountSettings, workspace: Path) -> tuple[Path, Path]:
    """Where a local account's drafts and inbox are, as a mail client finds them (the sync
    tool's folders when it made them: Maildir++, Verbatim or offlineimap's layout)."""
    from connectors.maildir import DRAFTS, INBOX, folder_in_use

    mail = local_path(workspace, account.maildir, "mail").resolve()
    return folder_in_use(mail, account.drafts_folder, DRAFTS), folder_in_use(mail, None, INBOX)


def _local_mailbox(account: AccountSettings, workspace: Path, clock: Clock) -> Mailbox:
    from connectors.maildir import MaildirMailbox

    return MaildirMailbox(
        local_path(workspace, account.maildir, "mail"),
        account.address,
        drafts_folder=account.drafts_folder,
        sent_folder=account.sent_folder,
        deleted_after=timedelta(minutes=account.deleted_after_minutes),
        clock=clock,
    )


def _local_calendar(account: AccountSettings, workspace: Path, clock: Clock) -> Calendar:
    from connectors.vdir import VdirCalendar

    return VdirCalendar(local_path(workspace, account.calendar, "calendar"), clock=clock)


def _memory_mailbox(account: AccountSettings, workspace: Path, clock: Clock) -> Mailbox:
    from connectors.memory import InMemoryMailbox

    return InMemoryMailbox(account.address, clock=clock)


def _memory_calendar(account: AccountSettings, workspace: Path, clock: Clock) -> Calendar:
    from connectors.memory import InMemoryCalendar

    return InMemoryCalendar()


def _gmail_mailbox(account: AccountSettings, workspace: Path, clock: Clock) -> Mailbox:
    # Gmail keeps the real clock: its server's history is measured against it.
    from connectors.google_open import open_gmail_mailbox

    return open_gmail_mailbox(account, workspace)


def _google_calendar(account: AccountSettings, workspace: Path, clock: Clock) -> Calendar:
    from connectors.google_open import open_google_calendar

    return open_google_calendar(account, workspace)


def _outlook_mailbox(account: AccountSettings, workspace: Path, clock: Clock) -> Mailbox:
    from connectors.outlook_open import open_outlook_mailbox

    return open_outlook_mailbox(account, workspace, clock=clock)


def _outlook_calendar(account: AccountSettings, workspace: Path, clock: Clock) -> Calendar:
    from connectors.outlook_open import open_outlook_calendar

    return open_outlook_calendar(account, workspace, clock=clock)


KINDS: dict[str, AccountKind] = {
    "local": AccountKind(_local_mailbox, _local_calendar),
    "memory": AccountKind(_memory_mailbox, _memory_calendar),
    "gmail": AccountKind(_gmail_mailbox, _google_calendar),
    "outlook": AccountKind(_outlook_mailbox, _outlook_calendar),
}


def account_kind(account: AccountSettings) -> AccountKind:
    found = KINDS.get(account.kind)
    if found is None:
        raise SettingsError(
            f"account {account.name!r} is of kind {account.kind!r}, which this version "
            f"cannot open; kinds: {', '.join(sorted(KINDS))}"
        )
    return found


def open_mailbox(
    account: AccountSettings, workspace: Path, *, clock: Clock = system_clock
) -> Mailbox:
    """The account's mailbox. ``clock`` stamps what the local and in-memory mailboxes
    write; Gmail keeps the real clock, which its server's history is measured against."""
    return account_kind(account).open_mailbox(account, workspace, clock)


def open_calendar(
    account: AccountSettings, workspace: Path, *, clock: Clock = system_clock
) -> Calendar:
    """The account's calendar; ``clock`` as for open_mailbox."""
    return account_kind(account).open_calendar(account, workspace, clock)
