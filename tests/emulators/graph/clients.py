"""The real clients' way in: a routed requests session, a token store in memory, and a
signed-in Graph client."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import requests

from tests.emulators.graph._wire import (
    GRAPH_HOSTS,
)
from tests.emulators.graph.server import GraphEmulator


class RoutedSession(requests.Session):
    """requests.Session with Graph's and Entra's hosts rewritten to the emulator; the
    original host travels in X-Forwarded-Host."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url
        self.trust_env = False  # no proxies from the environment for loopback

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        target = url.decode() if isinstance(url, bytes) else url
        for host in GRAPH_HOSTS:
            if target.startswith(host):
                headers = dict(kwargs.pop("headers", None) or {})
                headers["X-Forwarded-Host"] = host.removeprefix("https://")
                kwargs["headers"] = headers
                target = self.base_url + target[len(host) :]
                break
        return super().request(method, target, *args, **kwargs)


class MemoryTokenStore:
    """A token store that lives as long as the test."""

    def __init__(self) -> None:
        self.saved: dict[str, dict[str, Any]] = {}

    def load(self, account: str) -> dict[str, Any] | None:
        return self.saved.get(account)

    def save(self, account: str, token: dict[str, Any]) -> None:
        self.saved[account] = json.loads(json.dumps(token))

    def delete(self, account: str) -> None:
        self.saved.pop(account, None)


def sign_in(emulator: GraphEmulator, store: MemoryTokenStore, account: str = "uni") -> str:
    """The person signs in with the device code (real msal), approving at once."""
    from connectors.outlook_auth import authorize_device_code

    return authorize_device_code(
        account,
        store,
        client_id=emulator.client_id,
        tenant="common",
        show=lambda _message: emulator.approve_device_code(),
        http_client=RoutedSession(emulator.url),
    )


def graph_client(
    emulator: GraphEmulator,
    *,
    sleep: Callable[[float], None] = time.sleep,
    store: MemoryTokenStore | None = None,
) -> Any:
    """What the connectors get in production, signed in and routed to ``emulator``."""
    from connectors._graph_http import GraphClient
    from connectors.outlook_auth import MsalTokens

    store = store or MemoryTokenStore()
    if store.load("uni") is None:
        sign_in(emulator, store)
    session = RoutedSession(emulator.url)
    tokens = MsalTokens("uni", store, address=emulator.address, http_client=session)
    return GraphClient(session, tokens, sleep=sleep)
