"""Authorizing an Outlook or Microsoft 365 account with msal, and the access tokens
Graph requests need.

The app is a public client (no secret) registered by the person or their career office
(README). It asks for the fewest delegated permissions that do the job (``SCOPES``):
``Mail.ReadWrite`` (drafts, reading replies, the digest into the person's own Inbox),
``Calendars.ReadWrite`` (meetings, prep notes) and ``User.Read`` (the signed-in address);
msal adds ``offline_access`` (a refresh token), ``openid`` and ``profile`` itself.
``Mail.Send`` is never asked for: nothing here can send mail.

Two ways to sign in: ``authorize_interactive`` (the browser comes back to a one-time
loopback address) and ``authorize_device_code`` (a code to enter on another device, for a
terminal without a browser, e.g. over SSH). msal's token cache is kept in the shared token
store (``connectors.tokens``: the OS keyring, else a 0600 file), never logged.

``MsalTokens`` gives Graph requests their access token from that cache, refreshing it
when needed; Entra's ``invalid_grant`` and ``interaction_required`` (revoked consent,
password change, conditional access, MFA) are an ``AuthError``: the account needs the
person, and ``outreach accounts add outlook`` again. Tests pass ``http_client`` (a
requests.Session routed to the emulator); the authority stays the real one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import msal
import requests

from connectors.tokens import TokenStore
from pipeline.errors import AuthError, TransientError

SCOPES: tuple[str, ...] = ("Mail.ReadWrite", "Calendars.ReadWrite", "User.Read")
AUTHORITY = "https://login.microsoftonline.com/{tenant}"
_NEEDS_PERSON = {"invalid_grant", "interaction_required", "consent_required", "login_required"}


def _app(
    client_id: str,
    tenant: str,
    cache: msal.SerializableTokenCache,
    http_client: requests.Session | None,
) -> msal.PublicClientApplication:
    try:
        return msal.PublicClientApplication(
            client_id,
            authority=AUTHORITY.format(tenant=tenant),
            token_cache=cache,
            http_client=http_client,
        )
    except requests.RequestException as err:
        raise TransientError(
            f"Microsoft's sign-in service could not be reached ({type(err).__name__})"
        ) from err
    except ValueError as err:
        raise AuthError(f"Microsoft's sign-in service refused tenant {tenant!r}") from err


def _failure(result: dict[str, Any] | None, account: str) -> Exception:
    error = str((result or {}).get("error") or "no_account")
    if error in _NEEDS_PERSON or error == "no_account":
        return AuthError(
            f"Outlook account {account!r} needs to be authorized again ({error}): run "
            "`outreach accounts add outlook` for it"
        )
    if error in ("temporarily_unavailable", "server_error", "slow_down"):
        return TransientError(f"Microsoft's sign-in service is unavailable ({error})")
    return AuthError(f"Microsoft's sign-in service refused account {account!r} ({error})")


def _save(store: TokenStore, account: str, settings: dict[str, str], cache: Any) -> None:
    store.save(account, {**settings, "msal_cache": cache.serialize()})


def authorize_device_code(
    account: str,
    store: TokenStore,
    *,
    client_id: str,
    tenant: str,
    show: Callable[[str], None],
    http_client: requests.Session | None = None,
) -> str:
    """Sign in with a code the person enters at microsoft.com/devicelogin (``show``
    prints msal's instructions); store msal's cache; return the signed-in address."""
    cache = msal.SerializableTokenCache()
    app = _app(client_id, tenant, cache, http_client)
    flow = app.initiate_device_flow(scopes=list(SCOPES))
    if "user_code" not in flow:
        raise _failure(flow, account)
    show(str(flow["message"]))
    result = app.acquire_token_by_device_flow(flow)
    return _finish(account, store, app, cache, result, client_id, tenant)


def authorize_interactive(
    account: str,
    store: TokenStore,
    *,
    client_id: str,
    tenant: str,
    login_hint: str | None = None,
    http_client: requests.Session | None = None,
) -> str:
    """Sign in in the browser (a loopback redirect on a free port); as above."""
    cache = msal.SerializableTokenCache()
    app = _app(client_id, tenant, cache, http_client)
    result = app.acquire_token_interactive(
        list(SCOPES),
        login_hint=login_hint,
        success_template="outreach-pipeline is authorized. You can close this window.",
    )
    return _finish(account, store, app, cache, result, client_id, tenant)


def _finish(
    account: str,
    store: TokenStore,
    app: msal.PublicClientApplication,
    cache: msal.SerializableTokenCache,
    result: dict[str, Any] | None,
    client_id: str,
    tenant: str,
) -> str:
    if not result or "access_token" not in result:
        raise _failure(result, account)
    granted = {s.lower() for s in str(result.get("scope", "")).split()}
    missing = [s for s in SCOPES if s.lower() not in granted]
    if missing:
        raise AuthError(
            f"the authorization lacks {', '.join(missing)}; sign in again and accept every "
            "requested permission (or ask your administrator to consent to them)"
        )
    _save(store, account, {"client_id": client_id, "tenant": tenant}, cache)
    claims = result.get("id_token_claims") or {}
    return str(claims.get("preferred_username") or "")


class MsalTokens:
    """Access tokens for Graph from the account's stored msal cache (thread-safe)."""

    def __init__(
        self,
        account: str,
        store: TokenStore,
        *,
        address: str,
        client_id: str | None = None,
        tenant: str | None = None,
        http_client: requests.Session | None = None,
    ) -> None:
        data = store.load(account)
        if not data or not data.get("msal_cache"):
            raise AuthError(
                f"Outlook account {account!r} is not authorized yet (or was signed out): run "
                "`outreach accounts add outlook` for it"
            )
        self.account = account
        self.store = store
        self.address = address.lower()
        self.settings = {
            "client_id": client_id or str(data.get("client_id")),
            "tenant": tenant or str(data.get("tenant") or "common"),
        }
        self.loaded = str(data["msal_cache"])
        self.cache = msal.SerializableTokenCache()
        self.cache.deserialize(self.loaded)
        self.http_client = http_client
        self._app: msal.PublicClientApplication | None = None
        self._lock = threading.Lock()

    def __call__(self, force_refresh: bool = False) -> str:
        with self._lock:
            if self._app is None:
                self._app = _app(
                    self.settings["client_id"],
                    self.settings["tenant"],
                    self.cache,
                    self.http_client,
                )
            result = self._silent(force_refresh)
            if (not result or "access_token" not in result) and self._reload():
                result = self._silent(force_refresh)  # signed in again since we loaded
            if not result or "access_token" not in result:
                raise _failure(result, self.account)
            if self.cache.has_state_changed:
                _save(self.store, self.account, self.settings, self.cache)
                self.loaded = self.cache.serialize()
                self.cache.has_state_changed = False
            return str(result["access_token"])

    def _silent(self, force_refresh: bool) -> dict[str, Any] | None:
        assert self._app is not None
        accounts = self._app.get_accounts(username=self.address) or self._app.get_accounts()
        if not accounts:
            return None
        try:
            result: dict[str, Any] | None = self._app.acquire_token_silent_with_error(
                list(SCOPES), account=accounts[0], force_refresh=force_refresh
            )
        except requests.RequestException as err:
            raise TransientError(
                f"Microsoft's sign-in service could not be reached ({type(err).__name__})"
            ) from err
        return result

    def _reload(self) -> bool:
        """Take the stored cache when another process (``accounts add outlook``) replaced
        it since this one loaded; True when there was a new one."""
        data = self.store.load(self.account) or {}
        stored = str(data.get("msal_cache") or "")
        if not stored or stored == self.loaded:
            return False
        self.loaded = stored
        self.cache.deserialize(stored)
        return True
