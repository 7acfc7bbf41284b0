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

Every authorization asks for consent again (``prompt=consent``): Google gives a refresh
token only with a consent, so a re-authorization would otherwise come back without one.
A consent with a permission left unticked (Google's granular consent) is refused with the
permissions that are missing, before anything is stored.

``load_credentials`` builds ``google.oauth2.credentials.Credentials`` from the stored
token (no access token: the first request refreshes it). A missing token is an
``AuthError`` that says how to authorize. ``revoke`` withdraws the grant at Google (the
revocation endpoint beside the client's token endpoint) and deletes the stored token.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from google.oauth2.credentials import Credentials
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from connectors.tokens import (
    FileTokenStore,
    KeyringTokenStore,
    TokenStore,
    token_file_name,
    token_store,
    working_keyring,
)
from pipeline.errors import AuthError, TransientError

__all__ = [
    "SCOPES",
    "TOKEN_URI",
    "FileTokenStore",
    "KeyringTokenStore",
    "TokenStore",
    "authorize",
    "load_credentials",
    "revoke",
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
# What each permission lets outreach do, in the words of the consent screen's purpose.
_PURPOSE = {
    "gmail.compose": "write drafts",
    "gmail.readonly": "read your mail",
    "gmail.insert": "put the digest in your inbox",
    "calendar.events": "see meetings and add prep notes",
}


def _client(client_secrets: Path) -> tuple[str, str, str]:
    """The client id, secret and token endpoint of an OAuth client file."""
    try:
        data = json.loads(Path(client_secrets).read_text(encoding="utf-8"))
        section = data.get("installed") or data.get("web") or {}
        return (
            str(section["client_id"]),
            str(section["client_secret"]),
            str(section.get("token_uri") or TOKEN_URI),
        )
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
    client_id, client_secret, token_uri = _client(client_secrets)
    try:
        flow = flow_factory(str(client_secrets), SCOPES)
    except ValueError as err:  # google-auth-oauthlib: a key it needs is missing
        raise AuthError(
            f"{client_secrets} lacks auth_uri or token_uri ({err}); download the JSON of "
            "the 'Desktop app' OAuth client again from the Google Cloud console"
        ) from None
    try:
        credentials = flow.run_local_server(
            host="localhost",
            port=0,
            open_browser=open_browser,
            authorization_prompt_message=(
                "Open this address to authorize outreach-pipeline: {url}"
            ),
            success_message="outreach-pipeline is authorized. You can close this window.",
            prompt="consent",  # a refresh token comes back on every authorization
        )
    except Warning as warning:  # oauthlib's way of saying the consent was partial
        granted = getattr(warning, "new_scope", None)
        if granted is None:
            raise
        raise _partial(granted) from None
    except OAuth2Error as err:  # Google refused the client or the code
        raise AuthError(
            f"Google refused the authorization ({err.error}: {err.description or 'no reason'}); "
            f"check that {client_secrets} is your project's current 'Desktop app' client, "
            "then authorize again"
        ) from None
    refresh_token = getattr(credentials, "refresh_token", None)
    if not refresh_token:
        raise AuthError(
            "Google did not return a refresh token; remove outreach-pipeline's access at "
            "https://myaccount.google.com/permissions and authorize again"
        )
    granted = getattr(credentials, "granted_scopes", None)
    if granted is not None and not set(SCOPES) <= set(granted):
        raise _partial(granted)
    (store or token_store(workspace)).save(
        account,
        {
            "refresh_token": refresh_token,
            "client_id": client_id,
            "client_secret": client_secret,
            "token_uri": token_uri,
            "scopes": list(SCOPES),
        },
    )


def _partial(granted: Sequence[str]) -> AuthError:
    """The error for a consent given with some permissions unticked."""
    missing = [scope.rsplit("/", 1)[-1] for scope in SCOPES if scope not in set(granted)]
    listed = "; ".join(f"{_PURPOSE[name]} ({name})" for name in missing)
    return AuthError(
        f"Google's consent page was accepted without every permission; missing: {listed}. "
        "Nothing was saved. Authorize again and leave every box ticked: outreach only "
        "ever writes drafts, never sends"
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


RevokePost = Callable[[str, dict[str, str]], int]


def _post(url: str, form: dict[str, str]) -> int:
    import requests

    try:
        return requests.post(url, data=form, timeout=20).status_code
    except requests.RequestException as err:
        raise TransientError(
            f"Google's revocation endpoint could not be reached ({type(err).__name__})"
        ) from err


def revoke(
    account: str,
    workspace: Path,
    *,
    store: TokenStore | None = None,
    post: RevokePost = _post,
) -> bool:
    """Withdraw outreach's access to ``account`` at Google and delete its stored token.

    True when Google confirmed it, or already had no such grant; False when there was no
    stored token. The token is deleted only once Google answered, so a failure here
    (TransientError, AuthError) leaves everything as it was, to try again."""
    tokens = store or token_store(workspace)
    data = tokens.load(account)
    if not data or not data.get("refresh_token"):
        return False
    parts = urlsplit(str(data.get("token_uri") or TOKEN_URI))
    endpoint = urlunsplit((parts.scheme, parts.netloc, "/revoke", "", ""))
    status = post(endpoint, {"token": str(data["refresh_token"])})
    # 400 is Google's answer for a token it no longer knows (revoked, expired): gone either way
    if status not in (200, 400):
        raise TransientError(f"Google's revocation endpoint answered HTTP {status}")
    tokens.delete(account)
    return True
