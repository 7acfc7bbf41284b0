"""Google's sign-in for an installed app, played locally: the consent page, the token
endpoint and the revocation endpoint, as google-auth-oauthlib's ``InstalledAppFlow`` and a
browser meet them.

- ``GET /o/oauth2/auth``: the person consents at once (``grant`` says which of the asked
  scopes they leave ticked; all of them by default) and the browser is sent back to the
  loopback ``redirect_uri`` with ``code``, ``state`` and the granted ``scope``.
- ``POST /token``: ``authorization_code`` (PKCE S256 checked) answers an access token,
  the granted scope, and a refresh token only when Google would give one: on the first
  consent of this client, or when the request asked ``prompt=consent``.
  ``refresh_token`` answers an access token, or ``invalid_grant`` once revoked.
- ``POST /revoke``: ``token=`` a refresh or access token; 200 and the grant is gone, 400
  ``invalid_token`` for a token it does not know.

``EmulatedBrowser`` is the browser: ``open(url)`` follows the consent page back to the
loopback server the flow listens on, from a thread, as a real browser would.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import webbrowser
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import requests

from tests.emulators.core import Answer, EmulatorServer, Fault

__all__ = ["EmulatedBrowser", "GoogleSignIn", "client_file_json"]


def _form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()}


def _basic(headers: Mapping[str, str]) -> dict[str, str]:
    """The client id and secret of an ``Authorization: Basic`` header (how
    requests-oauthlib sends them), which Google accepts as well as form fields."""
    scheme, _, encoded = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return {}
    client_id, _, secret = base64.b64decode(encoded).decode("utf-8").partition(":")
    return {"client_id": unquote(client_id), "client_secret": unquote(secret)}


def _error(status: int, code: str, description: str = "") -> Answer:
    return Answer.json(status, {"error": code, "error_description": description})


class GoogleSignIn(EmulatorServer):
    """The consent page and the token and revocation endpoints of one Google account."""

    def __init__(self, client_id: str, client_secret: str) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.grant: Sequence[str] | None = None  # None: every asked scope stays ticked
        self.consents: list[dict[str, str]] = []  # the query of each consent page shown
        self.refresh_tokens: dict[str, tuple[str, ...]] = {}  # live ones, with their scopes
        self.revoked: list[str] = []
        self._codes: dict[str, dict[str, str]] = {}
        self._consented_before = False

    def handle(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        batch: int | None = None,
    ) -> tuple[Answer, Fault | None]:
        parts = urlsplit(target)
        query = parse_qs(parts.query)
        fault = self.take_fault(parts.path, parts.path, inner=False)
        if fault is not None and fault.kind == "status":
            answer = self.fault_answer(fault)
        elif method == "GET" and parts.path == "/o/oauth2/auth":
            answer = self._consent({k: v[0] for k, v in query.items()})
        elif method == "POST" and parts.path == "/token":
            answer = self._token({**_basic(headers), **_form(body)})
        elif method == "POST" and parts.path == "/revoke":
            answer = self._revoke(_form(body))
        else:
            answer = _error(404, "not_found")
        self.log(method, parts.path, query, body, parts.path, answer.status, 0, batch)
        return answer, fault

    def fault_answer(self, fault: Fault) -> Answer:
        return _error(fault.status or 500, "internal_failure")

    def _consent(self, query: dict[str, str]) -> Answer:
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            return _error(400, "invalid_request", "unknown client or response type")
        redirect = query.get("redirect_uri", "")
        if urlsplit(redirect).hostname not in ("localhost", "127.0.0.1"):
            return _error(400, "redirect_uri_mismatch")
        self.consents.append(query)
        asked = query.get("scope", "").split()
        granted = [s for s in asked if self.grant is None or s in self.grant]
        code = secrets.token_urlsafe(12)
        self._codes[code] = {
            "redirect_uri": redirect,
            "scope": " ".join(granted),
            "challenge": query.get("code_challenge", ""),
            "prompt": query.get("prompt", ""),
        }
        back = {"state": query.get("state", ""), "code": code, "scope": " ".join(granted)}
        return Answer(302, b"", {"Location": f"{redirect}?{urlencode(back)}"})

    def _token(self, form: dict[str, str]) -> Answer:
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return _error(401, "invalid_client", "The OAuth client was not found.")
        if form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return _error(400, "invalid_grant", "Token has been expired or revoked.")
            return Answer.json(200, self._access(self.refresh_tokens[form["refresh_token"]]))
        issued = self._codes.pop(form.get("code", ""), None)
        if issued is None or issued["redirect_uri"] != form.get("redirect_uri"):
            return _error(400, "invalid_grant", "Malformed auth code.")
        verifier = form.get("code_verifier", "").encode("ascii")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if issued["challenge"] and digest.decode("ascii") != issued["challenge"]:
            return _error(400, "invalid_grant", "Missing code verifier.")
        scopes = tuple(issued["scope"].split())
        answer = self._access(scopes)
        if issued["prompt"] == "consent" or not self._consented_before:
            token = "1//" + secrets.token_urlsafe(24)
            self.refresh_tokens[token] = scopes
            answer["refresh_token"] = token
        self._consented_before = True
        return Answer.json(200, answer)

    @staticmethod
    def _access(scopes: Sequence[str]) -> dict[str, object]:
        return {
            "access_token": "ya29." + secrets.token_urlsafe(24),
            "expires_in": 3599,
            "scope": " ".join(scopes),
            "token_type": "Bearer",
        }

    def _revoke(self, form: dict[str, str]) -> Answer:
        token = form.get("token", "")
        if token not in self.refresh_tokens:
            return _error(400, "invalid_token", "Token expired or revoked")
        del self.refresh_tokens[token]
        self.revoked.append(token)
        return Answer(200)


def client_file_json(emulator: GoogleSignIn) -> dict[str, object]:
    """An OAuth client file of the 'Desktop app' type, as the Cloud console gives it,
    pointing at the emulator."""
    return {
        "installed": {
            "client_id": emulator.client_id,
            "project_id": "outreach-test",
            "auth_uri": f"{emulator.url}/o/oauth2/auth",
            "token_uri": f"{emulator.url}/token",
            "client_secret": emulator.client_secret,
            "redirect_uris": ["http://localhost"],
        }
    }


class EmulatedBrowser(webbrowser.BaseBrowser):
    """A browser that consents on the page it is sent to and follows it back home."""

    def __init__(self) -> None:
        super().__init__("outreach-emulated-browser")
        self.opened: list[str] = []
        self.threads: list[threading.Thread] = []

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        self.opened.append(url)
        visit = threading.Thread(
            target=lambda: requests.get(url, timeout=20), name="browser", daemon=True
        )
        visit.start()
        self.threads.append(visit)
        return True
