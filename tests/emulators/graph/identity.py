"""The Microsoft identity platform's endpoints that msal uses."""

from __future__ import annotations

import base64
import hashlib
import html
import time
import uuid
from collections.abc import Mapping

from tests.emulators.core import (
    Answer,
    header_value,
)
from tests.emulators.graph._wire import (
    LOGIN,
    TENANT_ID,
    GraphError,
    GraphState,
    _encode,
    _jwt,
    _oauth_error,
    _Request,
)


class IdentitySide(GraphState):
    """Sign-in: discovery, authorize page, device code, token grants, revocation."""

    def expire_access_tokens(self) -> None:
        with self._lock:
            self.access_tokens.clear()

    def revoke(self, error: str = "invalid_grant") -> None:
        """Refreshing answers ``error`` from now on (``invalid_grant`` after a revoked
        consent or a password change, ``interaction_required`` for conditional access)."""
        with self._lock:
            self.revoked = error
            self.access_tokens.clear()
            self.refresh_tokens.clear()  # a new sign-in gets new ones

    def approve_device_code(self, user_code: str | None = None) -> None:
        """The person enters the code on microsoft.com/devicelogin and consents."""
        with self._lock:
            for flow in self.device_codes.values():
                if user_code is None or flow["user_code"] == user_code:
                    flow["approved"] = True

    def _authorize(self, headers: Mapping[str, str]) -> None:
        value = header_value(headers, "authorization") or ""
        token = value[7:] if value.lower().startswith("bearer ") else ""
        with self._lock:
            valid = token in self.access_tokens
        if not valid:
            raise GraphError(
                401, "Access token has expired or is not yet valid.", "InvalidAuthenticationToken"
            )

    def _discovery(self, request: _Request) -> Answer:
        return Answer.json(
            200,
            {
                "tenant_discovery_endpoint": f"{LOGIN}/common/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [
                    {
                        "preferred_network": "login.microsoftonline.com",
                        "preferred_cache": "login.windows.net",
                        "aliases": [
                            "login.microsoftonline.com",
                            "login.windows.net",
                            "login.microsoft.com",
                            "sts.windows.net",
                        ],
                    }
                ],
            },
        )

    def _openid(self, request: _Request, tenant: str) -> Answer:
        base = f"{request.origin}/{tenant}"
        return Answer.json(
            200,
            {
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "issuer": f"{request.origin}/{{tenantid}}/v2.0",
                "response_types_supported": ["code", "id_token", "code id_token"],
                "tenant_region_scope": None,
            },
        )

    def _authorize_page(self, request: _Request, tenant: str) -> Answer:
        """The person signs in and consents at once: the page posts the code back to the
        app's loopback address (``response_mode=form_post``), as Entra's does."""
        redirect = request.param("redirect_uri") or ""
        if request.param("client_id") != self.client_id or not redirect.startswith(
            "http://localhost"
        ):
            return Answer(400, b"AADSTS50011: the redirect URI does not match.")
        code = f"0.AAAA-{uuid.uuid4().hex}"
        self.auth_codes[code] = {
            "nonce": request.param("nonce"),
            "challenge": request.param("code_challenge"),
            "scope": request.param("scope") or "",
        }
        fields = {"code": code, "state": request.param("state") or ""}
        inputs = "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(v)}"/>' for k, v in fields.items()
        )
        page = (
            f'<html><body onload="document.forms[0].submit()"><form method="POST" '
            f'action="{html.escape(redirect)}">{inputs}</form></body></html>'
        )
        return Answer(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})

    def _devicecode(self, request: _Request, tenant: str) -> Answer:
        form = request.form()
        code = f"DAQABAAEAAAD-{uuid.uuid4().hex}"
        user_code = uuid.uuid4().hex[:9].upper()
        self.device_codes[code] = {
            "user_code": user_code,
            "client_id": form.get("client_id"),
            "scope": form.get("scope", ""),
            "approved": False,
            "polls": 0,
        }
        return Answer.json(
            200,
            {
                "user_code": user_code,
                "device_code": code,
                "verification_uri": "https://microsoft.com/devicelogin",
                "expires_in": 900,
                "interval": 1,
                "message": (
                    "To sign in, use a web browser to open the page "
                    f"https://microsoft.com/devicelogin and enter the code {user_code} "
                    "to authenticate."
                ),
            },
        )

    def _token(self, request: _Request, tenant: str) -> Answer:
        form = request.form()
        grant = form.get("grant_type", "")
        scope = form.get("scope", "")
        if form.get("client_id") != self.client_id:
            return _oauth_error("unauthorized_client", "AADSTS700016: unknown application.")
        if grant == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                error = self.revoked or "invalid_grant"
                return _oauth_error(error, "AADSTS50173: the grant is no longer valid.")
        elif grant == "urn:ietf:params:oauth:grant-type:device_code":
            flow = self.device_codes.get(form.get("device_code", ""))
            if flow is None:
                return _oauth_error("expired_token", "AADSTS70020: the code expired.")
            flow["polls"] += 1
            if flow["polls"] <= self.device_code_pending_polls and not flow["approved"]:
                return _oauth_error("authorization_pending", "AADSTS70016: pending.")
            flow["approved"] = flow["approved"] or self.auto_approve
            if not flow["approved"]:
                return _oauth_error("authorization_declined", "AADSTS70000: declined.")
            scope = flow["scope"]
            self.granted_scopes = scope.split()
        elif grant == "authorization_code":
            issued = self.auth_codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            proof = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            if issued is None or proof.decode().rstrip("=") != issued["challenge"]:
                return _oauth_error("invalid_grant", "AADSTS54005: the code was redeemed.")
            scope = issued["scope"]
            form["nonce"] = issued["nonce"] or ""
            self.granted_scopes = scope.split()
        else:
            return _oauth_error("unsupported_grant_type", "AADSTS70003: unsupported grant.")
        self.revoked = None
        access = f"eyJ0eXAiOiJKV1Qi.emulator-{uuid.uuid4().hex}"
        refresh = f"M.R3_{uuid.uuid4().hex}"
        self.access_tokens.add(access)
        self.refresh_tokens.add(refresh)
        uid = "00000000-0000-0000-66f3-3332eca7ea81"
        now = int(time.time())
        claims = {
            "aud": self.client_id,
            "iss": f"{LOGIN}/{TENANT_ID}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": "Me",
            "oid": uid,
            "preferred_username": self.address,
            "sub": "emulated-subject",
            "tid": TENANT_ID,
            "ver": "2.0",
        }
        if form.get("nonce"):
            claims["nonce"] = form["nonce"]
        return Answer.json(
            200,
            {
                "token_type": "Bearer",
                "scope": " ".join(s for s in scope.split() if s not in ("openid", "profile")),
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": access,
                "refresh_token": refresh,
                "id_token": _jwt(claims),
                "client_info": _encode({"uid": uid, "utid": TENANT_ID}),
            },
        )
