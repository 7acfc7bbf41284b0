"""Authorizing a Google account (installed-app OAuth) and keeping its refresh token.

``authorize`` runs google-auth-oauthlib's ``InstalledAppFlow`` with a loopback redirect
(``run_local_server(port=0)``: a free local port, the browser comes back to it) and asks
for the fewest scopes the pipeline needs (``SCOPES``): ``gmail.compose`` (drafts),
``gmail.readonly`` (reading changes), ``gmail.insert`` (the digest into the person's own
inbox) and ``calendar.events`` (reading meetings, writing prep notes). Nothing here can
send mail: ``gmail.send`` is not asked for.

The refresh token (with the OAuth client it belongs to) is kept in the shared token store
(``connectors.tokens``: the OS keyring when there is one, else a 0600 file in the
workspace). Tokens are never logged, and never put in exception messages.

``load_credentials`` builds ``google.oauth2.credentials.Credentials`` from the stored
token (no access token: the first request refreshes it). A missing token is an
``AuthError`` that says how to authorize.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from google.oauth2.credentials import Credentials

from connectors.tokens import (
    FileTokenStore,
    KeyringTokenStore,
    TokenStore,
    token_file_name,
    token_store,
    working_keyring,
)
from pipeline.errors import AuthError

__all__ = [
    "SCOPES",
    "TOKEN_URI",
    "FileTokenStore",
    "KeyringTokenStore",
    "TokenStore",
    "authorize",
    "load_credentials",
    "token_file_name",
    "token_store",
    "working_keyring",
]

SCOPES: tuple[str, ...] = (
    "https://www.googleapis.com/auth/gmail.compose",
    "https://www.googleapis.com/auth/gmail.readonly",
    "https://www.googleapis.com/auth/gmail.insert",
    "https://www.googleapis.com/auth/calendar.events",
)
TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 (an endpoint, not a secret)


def _client(client_secrets: Path) -> tuple[str, str]:
    try:
        data = json.loads(Path(client_secrets).read_text(encoding="utf-8"))
        section = data.get("installed") or data.get("web") or {}
        return str(section["client_id"]), str(section["client_secret"])
    except (OSError, ValueError, KeyError, AttributeError) as err:
        raise AuthError(
            f"{client_secrets} is not a Google OAuth client file (download the JSON of a "
            "'Desktop app' OAuth client from the Google Cloud console)"
        ) from err


FlowFactory = Callable[[str, Sequence[str]], Any]


def _installed_app_flow(client_secrets: str, scopes: Sequence[str]) -> Any:
    from google_auth_oauthlib.flow import InstalledAppFlow

    return InstalledAppFlow.from_client_secrets_file(client_secrets, scopes=list(scopes))


def authorize(
    account: str,
    workspace: Path,
    client_secrets: Path,
    *,
    store: TokenStore | None = None,
    open_browser: bool = True,
    flow_factory: FlowFactory = _installed_app_flow,
) -> None:
    """Ask the person to authorize ``account`` in the browser; store the refresh token."""
    client_id, client_secret = _client(client_secrets)
    flow = flow_factory(str(client_secrets), SCOPES)
    credentials = flow.run_local_server(
        host="localhost",
        port=0,
        open_browser=open_browser,
        authorization_prompt_message="Open this address to authorize outreach-pipeline: {url}",
        success_message="outreach-pipeline is authorized. You can close this window.",
    )
    refresh_token = getattr(credentials, "refresh_token", None)
    if not refresh_token:
        raise AuthError(
            "Google did not return a refresh token; remove outreach-pipeline's access at "
            "https://myaccount.google.com/permissions and authorize again"
        )
    granted = set(getattr(credentials, "granted_scopes", None) or SCOPES)
    missing = [scope for scope in SCOPES if scope not in granted]
    if missing:
        raise AuthError(
            "the authorization lacks "
            + ", ".join(s.rsplit("/", 1)[-1] for s in missing)
            + "; authorize again and allow every requested permission"
        )
    (store or token_store(workspace)).save(
        account,
        {
            "refresh_token": refresh_token,
            "client_id": client_id,
            "client_secret": client_secret,
            "token_uri": TOKEN_URI,
            "scopes": list(SCOPES),
        },
    )


def load_credentials(
    account: str, workspace: Path, *, store: TokenStore | None = None
) -> Credentials:
    """Credentials from the stored token of ``account`` (AuthError when there is none)."""
    data = (store or token_store(workspace)).load(account)
    if not data or not data.get("refresh_token"):
        raise AuthError(
            f"Google account {account!r} is not authorized yet (or was signed out): run "
            f"`outreach accounts add gmail` for it"
        )
    return Credentials(  # type: ignore[no-untyped-call]
        token=None,
        refresh_token=data["refresh_token"],
        token_uri=data.get("token_uri", TOKEN_URI),
        client_id=data.get("client_id"),
        client_secret=data.get("client_secret"),
        scopes=data.get("scopes", list(SCOPES)),
    )
