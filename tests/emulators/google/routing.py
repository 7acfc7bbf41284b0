"""Routing the real Google clients to the emulator: the production transport with
Google's hosts rewritten, and credentials as a stored token gives them.
"""

from __future__ import annotations

from typing import Any

from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp

from connectors._google_http import NoResendHttp
from tests.emulators.google.server import GoogleEmulator

# -- routing the real clients to the emulator ------------------------------------------------

GOOGLE_HOSTS = (
    "https://gmail.googleapis.com",
    "https://www.googleapis.com",
    "https://oauth2.googleapis.com",
)


class RoutedHttp(NoResendHttp):
    """The production transport, with Google's hosts rewritten to the emulator."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        kwargs.setdefault("proxy_info", None)
        super().__init__(**kwargs)
        self.base_url = base_url

    def request(self, uri: str, *args: Any, **kwargs: Any) -> Any:
        for host in GOOGLE_HOSTS:
            if uri.startswith(host):
                uri = self.base_url + uri[len(host) :]
                break
        return super().request(uri, *args, **kwargs)


def credentials(refresh_token: str = "refresh-token-1") -> Credentials:
    """Credentials as the stored token gives them: no access token yet, a refresh token."""
    return Credentials(  # type: ignore[no-untyped-call]
        token=None,
        refresh_token=refresh_token,
        token_uri="https://oauth2.googleapis.com/token",
        client_id="emulator-client.apps.googleusercontent.com",
        client_secret="emulator-secret",
    )


def authorized_http(
    emulator: GoogleEmulator, *, timeout: float = 5.0, refresh_token: str | None = None
) -> AuthorizedHttp:
    """What the connectors get in production, routed to ``emulator``."""
    token = refresh_token or next(iter(emulator.refresh_tokens), "revoked")
    return AuthorizedHttp(credentials(token), http=RoutedHttp(emulator.url, timeout=timeout))
