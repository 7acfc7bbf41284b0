"""Authorizing a Google account (installed-app OAuth) and keeping its refresh token.

``authorize`` runs google-auth-oauthlib's ``InstalledAppFlow`` with a loopback redirect
(``run_local_server(port=0)``: a free local port, the browser comes back to it) and asks
for the fewest scopes the pipeline needs (``SCOPES``): ``gmail.compose`` (drafts),
``gmail.readonly`` (reading changes), ``gmail.insert`` (the digest into the person's own
inbox) and ``calendar.events`` (reading meetings, writing prep notes). Nothing here can
send mail: ``gmail.send`` is not asked for.

The refresh token (with the OAuth client it belongs to) is kept in the OS keyring when
the ``keyring`` package is importable and has a working backend, else in
``<workspace>/secrets/<account>.json`` (directory 0700, file 0600, written atomically; a
character of the name outside ``[A-Za-z0-9._-]`` is written as ``%XX`` per UTF-8 byte, so two
names never share a file).
Tokens are never logged, and never put in exception messages.

``load_credentials`` builds ``google.oauth2.credentials.Credentials`` from the stored
token (no access token: the first request refreshes it). A missing token is an
``AuthError`` that says how to authorize.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from google.oauth2.credentials import Credentials

from connectors._files import write_atomically
from pipeline.errors import AuthError

SCOPES: tuple[str, ...] = (
    "https://www.googleapis.com/auth/gmail.compose",
    "https://www.googleapis.com/auth/gmail.readonly",
    "https://www.googleapis.com/auth/gmail.insert",
    "https://www.googleapis.com/auth/calendar.events",
)
TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 (an endpoint, not a secret)
KEYRING_SERVICE = "outreach-pipeline"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def token_file_name(account: str) -> str:
    """The file name of an account's token: injective (``a b`` and ``a_b`` differ), and the
    name itself for the names settings allow."""
    encoded = _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m[0].encode("utf-8")), account)
    return f"{encoded}.json"


class TokenStore(Protocol):
    """Where an account's stored token (a small JSON object) lives."""

    def load(self, account: str) -> dict[str, Any] | None: ...
    def save(self, account: str, token: dict[str, Any]) -> None: ...
    def delete(self, account: str) -> None: ...


class FileTokenStore:
    """``<workspace>/secrets/<account>.json``, readable by the owner only."""

    def __init__(self, workspace: Path) -> None:
        self.directory = Path(workspace) / "secrets"

    def path(self, account: str) -> Path:
        return self.directory / token_file_name(account)

    def load(self, account: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path(account).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            raise AuthError(
                f"the stored Google token of account {account!r} cannot be read "
                f"({type(err).__name__}); authorize the account again"
            ) from err
        return data if isinstance(data, dict) else None

    def save(self, account: str, token: dict[str, Any]) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)  # noqa: PTH101
        target = self.path(account)
        write_atomically(target, json.dumps(token).encode("utf-8"), mode=0o600)

    def delete(self, account: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(account).unlink()


class KeyringTokenStore:
    """The OS keyring (Secret Service, macOS Keychain, Windows Credential Locker)."""

    def __init__(self, backend: Any = None) -> None:
        if backend is None:
            backend = importlib.import_module("keyring").get_keyring()
        self._keyring = backend

    @staticmethod
    def _user(account: str) -> str:
        return f"google:{account}"

    def load(self, account: str) -> dict[str, Any] | None:
        text = self._keyring.get_password(KEYRING_SERVICE, self._user(account))
        if not text:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def save(self, account: str, token: dict[str, Any]) -> None:
        self._keyring.set_password(KEYRING_SERVICE, self._user(account), json.dumps(token))

    def delete(self, account: str) -> None:
        with contextlib.suppress(Exception):
            self._keyring.delete_password(KEYRING_SERVICE, self._user(account))


def working_keyring() -> Any | None:
    """The keyring backend when ``keyring`` is installed and has a usable backend."""
    try:  # optional: ``keyring`` is not a dependency of the project
        keyring = importlib.import_module("keyring")
        fail = importlib.import_module("keyring.backends.fail")
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # a misconfigured keyring must not break the pipeline
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 1) <= 0:
        return None
    return backend


def token_store(workspace: Path) -> TokenStore:
    """The keyring when it works, else the 0600 file in the workspace."""
    backend = working_keyring()
    if backend is not None:
        return KeyringTokenStore(backend)
    return FileTokenStore(workspace)


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
