"""Open the Gmail mailbox and the Google Calendar of an account (``kind = "gmail"``).

For ``pipeline.connect``: ``open_gmail_mailbox(account, workspace)`` and
``open_google_calendar(account, workspace)``. Both build the authorized transport from the
stored token (``connectors.google_auth``; an ``AuthError`` says how to authorize when
there is none); nothing is contacted until the first call.

- The mailbox's ledger of our drafts is ``<workspace>/state/gmail-<account>-drafts.json``
  (shared by the processes of this machine).
- Its quota bucket (Gmail units: 90% of 250 per second by default, see
  ``connectors.quota.HEADROOM``) is shared through Redis when
  ``redis_url`` (or ``$OUTREACH_BROKER_URL``) is a Redis URL, else in-process.
- The calendar is ``account.calendar`` when set (a Google calendar id), else ``primary``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from connectors._google_http import default_http
from connectors._ledger import FileLedger
from connectors.gmail import GmailMailbox
from connectors.google_auth import load_credentials
from connectors.google_calendar import GoogleCalendar
from connectors.quota import GMAIL_UNITS_PER_SECOND, HEADROOM, bucket_for
from connectors.tokens import TokenStore
from pipeline.settings import AccountSettings, broker_url_from_environment

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def google_http(
    account: AccountSettings, workspace: Path, *, store: TokenStore | None = None
) -> Any:
    """``AuthorizedHttp`` over the production transport, for the account's stored token."""
    from google_auth_httplib2 import AuthorizedHttp

    credentials = load_credentials(account.name, workspace, store=store)
    return AuthorizedHttp(credentials, http=default_http())


def open_gmail_mailbox(
    account: AccountSettings,
    workspace: Path,
    *,
    redis_url: str | None = None,
    units_per_second: float = GMAIL_UNITS_PER_SECOND,
    http: Any = None,
    store: TokenStore | None = None,
) -> GmailMailbox:
    """The account's Gmail mailbox (``http`` replaces the authorized transport in tests)."""
    name = _SAFE.sub("_", account.name)
    quota = bucket_for(
        redis_url or broker_url_from_environment(),
        f"outreach:quota:gmail:{account.address.lower()}",
        units_per_second * HEADROOM,
    )
    return GmailMailbox(
        account.address,
        http if http is not None else google_http(account, workspace, store=store),
        ledger=FileLedger(Path(workspace) / "state" / f"gmail-{name}-drafts.json"),
        quota=quota,
        deleted_after=timedelta(minutes=account.deleted_after_minutes),
    )


def open_google_calendar(
    account: AccountSettings,
    workspace: Path,
    *,
    http: Any = None,
    store: TokenStore | None = None,
) -> GoogleCalendar:
    """The account's Google Calendar (``account.calendar`` or ``primary``)."""
    return GoogleCalendar(
        http if http is not None else google_http(account, workspace, store=store),
        calendar_id=account.calendar or "primary",
    )
