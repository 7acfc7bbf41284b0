"""Open the Outlook mailbox and calendar of an account (``kind = "outlook"``).

For ``pipeline.connect``. Both share one ``GraphClient`` per call, built on the stored
msal cache (``connectors.outlook_auth.MsalTokens``; an ``AuthError`` says how to
authorize when there is none) and a request budget per mailbox; nothing is contacted
until the first request.
The ledgers of our drafts and events are ``<workspace>/state/outlook-<account>-drafts.json``
and ``-events.json`` (shared by the processes of this machine).
"""

from __future__ import annotations

import re
from pathlib import Path

import requests

from connectors._graph_http import GRAPH_REQUESTS_PER_SECOND, GraphClient
from connectors._ledger import FileLedger
from connectors.outlook import OutlookCalendar, OutlookMailbox
from connectors.outlook_auth import MsalTokens
from connectors.quota import HEADROOM, bucket_for
from connectors.tokens import TokenStore, token_store
from pipeline.clock import Clock, system_clock
from pipeline.settings import AccountSettings, broker_url_from_environment

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def new_session() -> requests.Session:
    """The HTTP session msal and Graph requests share (tests route it to the emulator)."""
    return requests.Session()


def graph_client(
    account: AccountSettings,
    workspace: Path,
    *,
    session: requests.Session | None = None,
    store: TokenStore | None = None,
    redis_url: str | None = None,
) -> GraphClient:
    """A Graph client authorized by the account's stored sign-in (``session`` replaces
    the production one in tests). Its request budget is shared through Redis when
    ``redis_url`` (or ``$OUTREACH_BROKER_URL``) is a Redis URL."""
    session = session or new_session()
    tokens = MsalTokens(
        account.name,
        store or token_store(workspace, provider="microsoft"),
        address=account.address,
        client_id=account.client_id,
        tenant=account.tenant,
        http_client=session,
    )
    quota = bucket_for(
        redis_url or broker_url_from_environment(),
        f"outreach:quota:graph:{account.address.lower()}",
        GRAPH_REQUESTS_PER_SECOND * HEADROOM,
    )
    return GraphClient(session, tokens, quota=quota, mailbox=account.address)


def _state(workspace: Path, account: AccountSettings, what: str) -> Path:
    return Path(workspace) / "state" / f"outlook-{_SAFE.sub('_', account.name)}-{what}.json"


def open_outlook_mailbox(
    account: AccountSettings,
    workspace: Path,
    *,
    clock: Clock = system_clock,
    client: GraphClient | None = None,
) -> OutlookMailbox:
    return OutlookMailbox(
        account.address,
        client or graph_client(account, workspace),
        ledger=FileLedger(_state(workspace, account, "drafts")),
        clock=clock,
    )


def open_outlook_calendar(
    account: AccountSettings,
    workspace: Path,
    *,
    clock: Clock = system_clock,
    client: GraphClient | None = None,
) -> OutlookCalendar:
    return OutlookCalendar(
        client or graph_client(account, workspace),
        ledger=FileLedger(_state(workspace, account, "events")),
        clock=clock,
    )
