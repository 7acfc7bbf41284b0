"""A local emulator of Microsoft Graph (mail and calendar) and of the Microsoft identity
platform's endpoints that msal uses (login.microsoftonline.com).

The real clients (msal, requests) reach it through ``RoutedSession``, which rewrites the
real hosts to the emulator and passes the original one in ``X-Forwarded-Host``, so every
URL the emulator answers with (delta links, next links, token endpoints) is the absolute
https URL Graph or Entra would give (PROVIDERS.md).

- Identity (``/{tenant}/...``): ``v2.0/.well-known/openid-configuration``,
  ``/common/discovery/instance``, ``oauth2/v2.0/authorize`` (the person signs in at once:
  a page that posts the code back to the loopback redirect, ``response_mode=form_post``),
  ``oauth2/v2.0/devicecode``, ``oauth2/v2.0/token`` (grants ``refresh_token``,
  ``device_code`` with ``authorization_pending`` until the person approves,
  ``authorization_code`` with its PKCE verifier checked). Answers carry access and refresh tokens,
  ``client_info`` and an unsigned id token whose ``aud`` is the client id. ``revoke``
  makes refreshing answer ``invalid_grant`` or ``interaction_required``.
- Graph (``/v1.0/me...``): the user; messages (list with ``$filter`` on a single-value
  extended property or ``internetMessageId``, ``$select``, ``$expand`` of extended
  properties; get; ``$value``; create from JSON or from base64 MIME; create in a folder;
  patch; delete, which moves to Deleted Items; ``createReply``); a folder by well-known
  name; per-folder message ``delta`` (``@odata.nextLink`` paging by
  ``Prefer: odata.maxpagesize``, ``@odata.deltaLink``, ``@removed`` entries, 410 for an
  expired link); events (list with an extended-property ``$filter``, create, patch,
  delete) and ``calendarView/delta`` over a window; ``$batch`` of up to 20 requests,
  each answered on its own (authorized, throttled, faulted; a body that is not JSON in
  base64), the answers in reverse order. Ids are immutable: a sent draft keeps its id,
  and events are created once per ``transactionId``.
- Errors in Graph's envelope ``{"error": {"code", "message", "innerError"}}``; throttling
  as Graph does it: at most ``max_concurrent`` (4) requests in flight per mailbox and
  ``requests_per_window`` per ``window_seconds`` (10,000 per 600 s), answered 429
  ``ApplicationThrottled`` with Retry-After.

Threading (an assumption, not verified against Exchange): a message created from MIME or
received joins the conversation of the message its In-Reply-To or References name, when
that message is in the mailbox; ``createReply`` always stays in the conversation.

The other side (tests play it): ``receive``, ``send_draft``, ``delete_draft``,
``add_event``, ``move_event``, ``cancel_event``, ``remove_event``, ``approve_device_code``,
``revoke``, ``expire_delta_links``, ``expire_access_tokens``, plus the core's faults and
latency; ``graph_requests`` (HTTP requests) and ``graph_calls`` (a batch's parts one by
one) read the log.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import html
import itertools
import json
import math
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests

from tests.emulators.core import (
    JSON,
    PHRASES,
    Answer,
    EmulatorServer,
    Fault,
    header_value,
    loopback_only,
)

__all__ = ["GRAPH_HOSTS", "GraphEmulator", "RoutedSession", "loopback_only"]

GRAPH = "https://graph.microsoft.com"
LOGIN = "https://login.microsoftonline.com"
GRAPH_HOSTS = (GRAPH, LOGIN)

KEY_PROPERTY_ID = "String {6a1c0e2f-7d54-4a8b-9f3e-2c9d1b0a7e61} Name OutreachKey"
MESSAGE_FLAGS = "Integer 0x0E07"  # PidTagMessageFlags; MSGFLAG_UNSENT (8) makes a draft
TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"

_FOLDERS = ("inbox", "sentitems", "drafts", "deleteditems")
_CODES = {
    400: "ErrorInvalidRequest",
    401: "InvalidAuthenticationToken",
    403: "ErrorAccessDenied",
    404: "ErrorItemNotFound",
    409: "ErrorConflict",
    410: "SyncStateNotFound",
    429: "ApplicationThrottled",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
_MSGID = re.compile(r"<[^<>\s]+>")
_EXT_FILTER = re.compile(
    r"singleValueExtendedProperties/any\((\w+):\s*\1/id eq '([^']*)' and \1/value eq '((?:[^']|'')*)'\)",
    re.IGNORECASE,
)
_MSGID_FILTER = re.compile(r"internetMessageId eq '((?:[^']|'')*)'", re.IGNORECASE)


class GraphError(Exception):
    def __init__(
        self, status: int, message: str, code: str | None = None, headers: Mapping[str, str] = {}
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "UnknownError")
        self.message = message
        self.headers = dict(headers)

    def answer(self) -> Answer:
        body = {
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": str(uuid.uuid4()),
                    "client-request-id": str(uuid.uuid4()),
                },
            }
        }
        return Answer.json(self.status, body, self.headers)


@dataclass
class _Message:
    id: str
    folder: str
    raw: bytes
    is_draft: bool
    conversation_id: str
    received: datetime
    sent: datetime | None
    properties: dict[str, str] = field(default_factory=dict)
    modified: datetime | None = None

    def parsed(self) -> EmailMessage:
        message = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message

    def message_id(self) -> str | None:
        found = _MSGID.findall(str(self.parsed().get("Message-ID") or ""))
        return found[0] if found else None


def _recipients(message: EmailMessage, name: str) -> list[JSON]:
    return [
        {"emailAddress": {"name": display, "address": address}}
        for display, address in getaddresses([str(v) for v in message.get_all(name, [])])
        if address
    ]


def b64(data: bytes) -> str | None:
    """A batch answer carries a body that is not JSON in base64."""
    return base64.b64encode(data).decode("ascii") if data else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _encode(data: JSON) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _decode(token: str) -> JSON | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        return None
    return data if isinstance(data, dict) else None


def _jwt(claims: JSON) -> str:
    header = _encode({"typ": "JWT", "alg": "none"})
    return f"{header}.{_encode(claims)}."


class GraphEmulator(EmulatorServer):
    """Graph mail and calendar of one mailbox, and its sign-in endpoints."""

    def __init__(
        self,
        address: str = "me@example.org",
        *,
        client_id: str = "00000000-0000-0000-0000-00000000c0de",
        refresh_token: str = "M.R3_refresh-1",
        latency: float = 0.0,
        clock: Callable[[], datetime] | None = None,
        max_concurrent: int | None = 4,
        requests_per_window: int | None = 10_000,
        window_seconds: float = 600.0,
        page_size: int = 10,
        device_code_pending_polls: int = 1,
        auto_approve: bool = False,
    ) -> None:
        super().__init__(latency=latency, clock=clock, max_concurrent=max_concurrent)
        self.address = address
        self.client_id = client_id
        self.page_size = page_size
        self.requests_per_window = requests_per_window
        self.window_seconds = window_seconds
        self._window: deque[float] = deque()
        self.refresh_tokens = {refresh_token}
        self.revoked: str | None = None  # the error refreshing answers, once revoked
        self.access_tokens: set[str] = set()
        self.device_codes: dict[str, JSON] = {}
        self.auth_codes: dict[str, JSON] = {}
        self.device_code_pending_polls = device_code_pending_polls
        self.auto_approve = auto_approve  # the person approves every code once it is polled
        self.granted_scopes: list[str] = []
        self._ids = itertools.count(1)
        self._messages: dict[str, _Message] = {}
        self._events: dict[str, JSON] = {}
        self._log: list[tuple[int, str, str]] = []  # (seq, stream, id): a change
        self._seq = 0
        self._min_seq = 0

    # -- knobs ------------------------------------------------------------------------------

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

    def expire_delta_links(self) -> None:
        """Every delta link handed out so far answers 410 Gone."""
        with self._lock:
            self._min_seq = self._seq

    def approve_device_code(self, user_code: str | None = None) -> None:
        """The person enters the code on microsoft.com/devicelogin and consents."""
        with self._lock:
            for flow in self.device_codes.values():
                if user_code is None or flow["user_code"] == user_code:
                    flow["approved"] = True

    # -- the other side -----------------------------------------------------------------------

    def receive(self, raw: bytes, at: datetime | None = None) -> str:
        """A message arrives in the inbox; returns its id."""
        with self._lock:
            return self._add("inbox", raw, is_draft=False, at=at)

    def send_draft(self, key: str, edit: Callable[[EmailMessage], None] | None = None) -> str:
        """The person sends our draft from Outlook (edited first, when ``edit``): the item
        keeps its id and moves to Sent Items."""
        with self._lock:
            found = self._by_key(key)
            if edit is not None:
                message = found.parsed()
                edit(message)
                found.raw = message.as_bytes(policy=policy.SMTP)
            found.is_draft = False
            found.sent = self.now()
            self._move(found, "sentitems")
            return found.id

    def person_sends(self, raw: bytes) -> str:
        """The person writes and sends a message of their own (or a copy of a draft they
        deleted): it lands in Sent Items. Returns its id."""
        with self._lock:
            return self._add("sentitems", raw, is_draft=False, at=None)

    def delete_draft(self, key: str) -> None:
        """The person deletes our draft: it moves to Deleted Items."""
        with self._lock:
            self._move(self._by_key(key), "deleteditems")

    def empty_deleted_items(self) -> None:
        """The person empties Deleted Items: what is there is gone for good."""
        with self._lock:
            for found in self._in("deleteditems"):
                del self._messages[found.id]
                self._change("deleteditems", found.id)

    def folder(self, name: str) -> list[EmailMessage]:
        with self._lock:
            return [m.parsed() for m in self._in(name)]

    def message(self, message_id: str) -> _Message:
        with self._lock:
            return self._messages[message_id]

    def add_event(self, event: JSON) -> str:
        """An invitation lands on the calendar (Graph's event JSON); returns its id."""
        with self._lock:
            return str(self._create_event(copy.deepcopy(event))["id"])

    def event_by_uid(self, uid: str) -> JSON:
        with self._lock:
            return next(e for e in self._events.values() if e["iCalUId"] == uid)

    def move_event(self, uid: str, start: datetime, end: datetime) -> None:
        with self._lock:
            event = self.event_by_uid(uid)
            event["start"] = {"dateTime": _iso(start)[:-1], "timeZone": "UTC"}
            event["end"] = {"dateTime": _iso(end)[:-1], "timeZone": "UTC"}
            self._touch_event(event)

    def cancel_event(self, uid: str) -> None:
        with self._lock:
            event = self.event_by_uid(uid)
            event["isCancelled"] = True
            self._touch_event(event)

    def remove_event(self, uid: str) -> None:
        with self._lock:
            event = self.event_by_uid(uid)
            del self._events[event["id"]]
            self._change("events", event["id"])

    def events(self) -> list[JSON]:
        with self._lock:
            return [copy.deepcopy(e) for e in self._events.values()]

    def graph_requests(self) -> list[Any]:
        """The HTTP requests made to Graph (a batch counts once; sign-in excluded)."""
        with self._lock:
            return [
                r for r in self.requests if r.method_name.startswith("graph.") and r.batch is None
            ]

    def graph_calls(self) -> list[Any]:
        """The Graph calls made, those inside a batch one by one (the envelope left out)."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.method_name.startswith("graph.") and r.method_name != "graph.batch"
            ]

    # -- serving ---------------------------------------------------------------------------------

    def fault_answer(self, fault: Fault) -> Answer:
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        if fault.reason in ("invalid_grant", "interaction_required"):
            return Answer.json(
                400,
                {"error": fault.reason, "error_description": "AADSTS50173: grant expired."},
            )
        message = PHRASES.get(fault.status, "Error")
        return GraphError(fault.status, message, fault.reason, headers).answer()

    def handle(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        batch: int | None = None,
    ) -> tuple[Answer, Fault | None]:
        parts = urlsplit(target)
        path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        host = header_value(headers, "x-forwarded-host") or "graph.microsoft.com"
        name, handler, args = self._route(method, path)
        fault = self.take_fault(name, path, inner=batch is not None)
        if fault is not None and fault.kind == "status":
            answer = self.fault_answer(fault)
            self.log(method, path, query, body, name, answer.status, 0, batch)
            return answer, None
        if fault is not None and not fault.after and fault.kind == "drop":
            self.log(method, path, query, body, name, 0, 0, batch)
            return Answer(0), fault
        try:
            if handler is None:
                raise GraphError(400, f"Resource not found for the segment '{path}'.", "BadRequest")
            request = _Request(method, path, query, headers, body, f"https://{host}")
            if name.startswith("graph."):
                self._authorize(headers)
                if name != "graph.batch":  # each request inside a batch counts on its own
                    self._throttle()
            with self._lock:
                answer = handler(request, *args)
        except GraphError as err:
            answer = err.answer()
        self.log(method, path, query, body, name, answer.status, 1, batch)
        return answer, fault

    def _route(self, method: str, path: str) -> tuple[str, Any, tuple[str, ...]]:
        for verb, pattern, name, handler in self._routes():
            if verb == method:
                found = re.fullmatch(pattern, path)
                if found:
                    return name, handler, found.groups()
        return f"unknown.{method}", None, ()

    def _routes(self) -> list[tuple[str, str, str, Any]]:
        me = r"/v1\.0/me"
        folder = r"/mailFolders(?:\('|/)(\w+)(?:'\))?"
        message = me + r"/messages/([^/]+)"
        return [
            ("GET", r"/common/discovery/instance", "login.discovery", self._discovery),
            (
                "GET",
                r"/([^/]+)/v2\.0/\.well-known/openid-configuration",
                "login.openid",
                self._openid,
            ),
            ("GET", r"/([^/]+)/oauth2/v2\.0/authorize", "login.authorize", self._authorize_page),
            ("POST", r"/([^/]+)/oauth2/v2\.0/devicecode", "login.devicecode", self._devicecode),
            ("POST", r"/([^/]+)/oauth2/v2\.0/token", "login.token", self._token),
            ("POST", r"/v1\.0/\$batch", "graph.batch", self._batch),
            ("GET", me, "graph.me", self._me),
            ("GET", me + folder + r"/messages/delta", "graph.messages.delta", self._delta),
            ("POST", me + folder + r"/messages", "graph.messages.create", self._create),
            ("GET", me + folder, "graph.mailFolders.get", self._folder),
            ("GET", me + r"/messages", "graph.messages.list", self._list),
            ("POST", me + r"/messages", "graph.messages.create", self._create_draft),
            ("GET", message + r"/\$value", "graph.messages.value", self._value),
            ("POST", message + r"/createReply", "graph.messages.createReply", self._reply),
            ("GET", message, "graph.messages.get", self._get),
            ("PATCH", message, "graph.messages.update", self._patch),
            ("DELETE", message, "graph.messages.delete", self._delete),
            ("GET", me + r"/calendarView/delta", "graph.events.delta", self._events_delta),
            ("GET", me + r"/events", "graph.events.list", self._events_list),
            ("POST", me + r"/events", "graph.events.create", self._events_create),
            ("GET", me + r"/events/([^/]+)", "graph.events.get", self._events_get),
            ("PATCH", me + r"/events/([^/]+)", "graph.events.update", self._events_patch),
            ("DELETE", me + r"/events/([^/]+)", "graph.events.delete", self._events_delete),
        ]

    def _authorize(self, headers: Mapping[str, str]) -> None:
        value = header_value(headers, "authorization") or ""
        token = value[7:] if value.lower().startswith("bearer ") else ""
        with self._lock:
            valid = token in self.access_tokens
        if not valid:
            raise GraphError(
                401, "Access token has expired or is not yet valid.", "InvalidAuthenticationToken"
            )

    def _throttle(self) -> None:
        if self.requests_per_window is None:
            return
        now = time.monotonic()
        with self._lock:
            while self._window and self._window[0] <= now - self.window_seconds:
                self._window.popleft()
            if len(self._window) >= self.requests_per_window:
                wait = self._window[0] + self.window_seconds - now
                raise GraphError(
                    429,
                    "Application is over its MailboxConcurrency or request limit.",
                    "ApplicationThrottled",
                    {"Retry-After": str(max(1, math.ceil(wait)))},
                )
            self._window.append(now)

    # -- identity -----------------------------------------------------------------------------

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

    # -- batch ----------------------------------------------------------------------------------

    def _batch(self, request: _Request) -> Answer:
        """JSON batching: each request is answered on its own (authorized, throttled,
        faulted), and the answers come back in reverse order, as Graph may."""
        parts = request.json().get("requests")
        if not isinstance(parts, list) or not 1 <= len(parts) <= 20:
            raise GraphError(400, "A batch holds 1 to 20 requests.", "BadRequest")
        number = next(self._ids)
        responses = []
        for part in reversed(parts):
            headers = {str(k).lower(): str(v) for k, v in (part.get("headers") or {}).items()}
            headers["authorization"] = header_value(request.headers, "authorization") or ""
            headers["x-forwarded-host"] = request.origin.removeprefix("https://")
            body = json.dumps(part["body"]).encode() if part.get("body") is not None else b""
            answer, _ = self.handle(
                str(part.get("method", "GET")), "/v1.0" + str(part["url"]), headers, body, number
            )
            is_json = "json" in answer.headers.get("Content-Type", "")
            decoded = json.loads(answer.body) if is_json else b64(answer.body)
            responses.append(
                {
                    "id": part["id"],
                    "status": answer.status,
                    "headers": answer.headers,
                    "body": decoded,
                }
            )
        return Answer.json(200, {"responses": responses})

    # -- mail -----------------------------------------------------------------------------------

    def _me(self, request: _Request) -> Answer:
        return Answer.json(
            200,
            {
                "id": "66f3-3332eca7ea81",
                "displayName": "Me",
                "mail": self.address,
                "userPrincipalName": self.address,
            },
        )

    def _folder(self, request: _Request, name: str) -> Answer:
        folder = _folder_name(name)
        return Answer.json(
            200,
            {
                "id": _folder_id(folder),
                "displayName": folder,
                "totalItemCount": len(self._in(folder)),
            },
        )

    def _list(self, request: _Request) -> Answer:
        items = [m for m in self._messages.values() if _matches(m, request.param("$filter"))]
        top = int(request.param("$top") or 10)
        return Answer.json(200, {"value": [self._json(m, request) for m in items[:top]]})

    def _get(self, request: _Request, message_id: str) -> Answer:
        return Answer.json(200, self._json(self._message(message_id), request))

    def _value(self, request: _Request, message_id: str) -> Answer:
        return Answer(200, self._message(message_id).raw, {"Content-Type": "text/plain"})

    def _create_draft(self, request: _Request) -> Answer:
        return self._create(request, "drafts")

    def _create(self, request: _Request, name: str) -> Answer:
        folder = _folder_name(name)
        content_type = (header_value(request.headers, "content-type") or "").lower()
        if content_type.startswith("text/plain"):
            try:
                raw = base64.b64decode(request.body, validate=True)
            except binascii.Error as err:
                raise GraphError(400, "Invalid base64 string for MIME content.") from err
            message_id = self._add(folder, raw, is_draft=True)
            return Answer.json(201, self._json(self._messages[message_id], request))
        data = request.json()
        properties = _properties(data)
        flags = properties.pop(MESSAGE_FLAGS, None)
        is_draft = flags is None or bool(int(flags) & 8)
        message_id = self._add(folder, _mime_of(data, self.address), is_draft=is_draft)
        self._messages[message_id].properties.update(properties)
        return Answer.json(201, self._json(self._messages[message_id], request))

    def _reply(self, request: _Request, parent_id: str) -> Answer:
        parent = self._message(parent_id)
        original = parent.parsed()
        data = request.json().get("message") or {}
        reply = EmailMessage()
        reply["From"] = self.address
        sender = original.get("Reply-To") or original.get("From") or ""
        reply["To"] = str(sender)
        subject = str(original.get("Subject") or "")
        reply["Subject"] = subject if subject.lower().startswith("re:") else f"RE: {subject}"
        parent_msgid = parent.message_id()
        if parent_msgid:
            chain = _MSGID.findall(str(original.get("References") or ""))
            reply["In-Reply-To"] = parent_msgid
            reply["References"] = " ".join([*chain, parent_msgid])
        reply.set_content("\r\n")
        raw = _apply(reply, data, self.address)
        message_id = self._add("drafts", raw, is_draft=True, conversation=parent.conversation_id)
        self._messages[message_id].properties.update(_properties(data))
        return Answer.json(201, self._json(self._messages[message_id], request))

    def _patch(self, request: _Request, message_id: str) -> Answer:
        found = self._message(message_id)
        data = request.json()
        if set(data) - {"singleValueExtendedProperties"} and not found.is_draft:
            raise GraphError(400, "Only drafts can be changed.", "ErrorInvalidRequest")
        found.properties.update(_properties(data))
        found.modified = self.now()
        rest = {k: v for k, v in data.items() if k != "singleValueExtendedProperties"}
        if rest:
            found.raw = _apply(found.parsed(), rest, self.address)
        self._change(found.folder, found.id)
        return Answer.json(200, self._json(found, request))

    def _delete(self, request: _Request, message_id: str) -> Answer:
        found = self._message(message_id)
        if found.folder == "deleteditems":
            del self._messages[found.id]
            self._change("deleteditems", found.id)
        else:
            self._move(found, "deleteditems")
        return Answer(204)

    def _delta(self, request: _Request, name: str) -> Answer:
        folder = _folder_name(name)
        return self._delta_answer(request, folder, lambda m: self._json(m, request))

    def _delta_answer(
        self, request: _Request, stream: str, render: Callable[[Any], JSON]
    ) -> Answer:
        """One page of a delta round: the items changed after the token's sequence number
        (all current items without a token), then a delta link at the current one."""
        page_size = request.max_page_size() or self.page_size
        skip = request.param("$skiptoken")
        delta = request.param("$deltatoken")
        if skip:
            state = _decode(skip)
            if state is None:
                raise GraphError(400, "Invalid skip token.", "ErrorInvalidSyncStateData")
        elif delta:
            state = _decode(delta)
            if state is None or state.get("stream") != stream:
                raise GraphError(400, "Invalid delta token.", "ErrorInvalidSyncStateData")
            state = {**state, "upto": self._seq, "offset": 0}
        else:
            state = {**self._window_of(request), "stream": stream, "since": None}
            state.update(upto=self._seq, offset=0)
        since = state.get("since")
        if since is not None and since < self._min_seq:
            raise GraphError(410, "The sync state is no longer valid.", "SyncStateNotFound")
        entries = self._delta_entries(stream, since, state["upto"], render, state)
        offset = state["offset"]
        page = entries[offset : offset + page_size]
        path = request.path
        base = f"{request.origin}{path}"
        body: JSON = {"value": page}
        if offset + page_size < len(entries):
            body["@odata.nextLink"] = (
                f"{base}?$skiptoken={_encode({**state, 'offset': offset + page_size})}"
            )
        else:
            window: JSON = {k: state[k] for k in ("start", "end") if k in state}
            token = _encode({"stream": stream, "since": state["upto"], **window})
            body["@odata.deltaLink"] = f"{base}?$deltatoken={token}"
        return Answer.json(200, body)

    def _window_of(self, request: _Request) -> JSON:
        start, end = request.param("startDateTime"), request.param("endDateTime")
        if start is None and end is None:
            return {}
        if not start or not end:
            raise GraphError(400, "startDateTime and endDateTime are required.", "BadRequest")
        return {"start": start, "end": end}

    def _delta_entries(
        self,
        stream: str,
        since: int | None,
        upto: int,
        render: Callable[[Any], JSON],
        state: JSON,
    ) -> list[JSON]:
        if since is None:
            current = self._current(stream, state)
            return [render(item) for item in current]
        changed: dict[str, None] = {}
        for seq, where, item_id in self._log:
            if since < seq <= upto and where == stream:
                changed.pop(item_id, None)
                changed[item_id] = None
        present = {self._item_id(item): item for item in self._current(stream, state)}
        entries = []
        for item_id in changed:
            if item_id in present:
                entries.append(render(present[item_id]))
            else:
                entries.append({"id": item_id, "@removed": {"reason": "deleted"}})
        return entries

    def _current(self, stream: str, state: JSON) -> list[Any]:
        if stream == "events":
            return [e for e in self._events.values() if _in_window(e, state)]
        return self._in(stream)

    @staticmethod
    def _item_id(item: Any) -> str:
        return item["id"] if isinstance(item, dict) else str(item.id)

    def _json(self, found: _Message, request: _Request) -> JSON:
        message = found.parsed()
        headers = [
            {"name": name, "value": str(value)}
            for name, value in message.items()
            if name.lower().startswith("x-")
            or name.lower() in ("in-reply-to", "references", "message-id")
        ]
        sender = parseaddr(str(message.get("From") or ""))
        body_part = message.get_body(("html", "plain"))
        content = body_part.get_content() if body_part is not None else ""
        data: JSON = {
            "id": found.id,
            "createdDateTime": _iso(found.received),
            "lastModifiedDateTime": _iso(found.modified or found.received),
            "receivedDateTime": _iso(found.received),
            "sentDateTime": _iso(found.sent or found.received),
            "subject": str(message.get("Subject") or ""),
            "isDraft": found.is_draft,
            "isRead": not found.is_draft,
            "conversationId": found.conversation_id,
            "internetMessageId": found.message_id(),
            "parentFolderId": _folder_id(found.folder),
            "from": {"emailAddress": {"name": sender[0], "address": sender[1]}},
            "toRecipients": _recipients(message, "To"),
            "ccRecipients": _recipients(message, "Cc"),
            "bccRecipients": _recipients(message, "Bcc"),
            "body": {
                "contentType": "html"
                if body_part is not None and body_part.get_content_subtype() == "html"
                else "text",
                "content": content,
            },
            "internetMessageHeaders": headers,
        }
        selected = request.param("$select")
        if selected:
            keep = {s.strip() for s in selected.split(",")} | {"id"}
            data = {k: v for k, v in data.items() if k in keep}
        elif found.is_draft or found.folder == "sentitems":
            data.pop("internetMessageHeaders")  # Graph returns them on $select only
        data.update(_expanded(found.properties, request))
        return data

    def _message(self, message_id: str) -> _Message:
        found = self._messages.get(message_id)
        if found is None:
            raise GraphError(404, "The specified object was not found in the store.")
        return found

    def _in(self, folder: str) -> list[_Message]:
        return [m for m in self._messages.values() if m.folder == folder]

    def _by_key(self, key: str) -> _Message:
        for found in self._messages.values():
            if found.properties.get(KEY_PROPERTY_ID) == key and found.folder == "drafts":
                return found
        raise AssertionError(f"no draft with key {key!r}")

    def _add(
        self,
        folder: str,
        raw: bytes,
        *,
        is_draft: bool,
        at: datetime | None = None,
        conversation: str | None = None,
    ) -> str:
        message_id = f"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A{next(self._ids):08d}AAA="
        found = _Message(
            message_id,
            folder,
            raw,
            is_draft,
            conversation or "",
            at or self.now(),
            None if is_draft or folder != "sentitems" else self.now(),
        )
        if not found.conversation_id:
            found.conversation_id = self._conversation_of(found)
        self._messages[message_id] = found
        self._change(folder, message_id)
        return message_id

    def _conversation_of(self, found: _Message) -> str:
        message = found.parsed()
        named = _MSGID.findall(
            f"{message.get('In-Reply-To') or ''} {message.get('References') or ''}"
        )
        for other in self._messages.values():
            if other.message_id() in named:
                return other.conversation_id
        return f"AAQkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZi{uuid.uuid4().hex[:16]}="

    def _move(self, found: _Message, folder: str) -> None:
        found.modified = self.now()
        self._change(found.folder, found.id)
        found.folder = folder
        self._change(folder, found.id)

    def _change(self, stream: str, item_id: str) -> None:
        self._seq += 1
        self._log.append((self._seq, stream, item_id))

    # -- calendar ---------------------------------------------------------------------------------

    def _create_event(self, data: JSON) -> JSON:
        event_id = f"AAMkAGI2TG93AAA{next(self._ids):08d}="
        data.setdefault("iCalUId", f"040000008200E00074C5B7101A82E008{uuid.uuid4().hex}")
        data["id"] = event_id
        data.setdefault("isCancelled", False)
        data.setdefault("isAllDay", False)
        data.setdefault("organizer", {"emailAddress": {"name": "Me", "address": self.address}})
        data.setdefault("attendees", [])
        data["_properties"] = _properties(data)
        data.pop("singleValueExtendedProperties", None)
        self._events[event_id] = data
        self._touch_event(data)
        return data

    def _touch_event(self, event: JSON) -> None:
        event["lastModifiedDateTime"] = _iso(self.now())
        self._change("events", event["id"])

    def _event_json(self, event: JSON, request: _Request) -> JSON:
        data = {k: copy.deepcopy(v) for k, v in event.items() if not k.startswith("_")}
        selected = request.param("$select")
        if selected:
            keep = {part.strip() for part in selected.split(",")} | {"id"}
            data = {k: v for k, v in data.items() if k in keep}
        data.update(_expanded(event["_properties"], request))
        return data

    def _events_get(self, request: _Request, event_id: str) -> Answer:
        event = self._events.get(event_id)
        if event is None:
            raise GraphError(404, "The specified object was not found in the store.")
        return Answer.json(200, self._event_json(event, request))

    def _events_delta(self, request: _Request) -> Answer:
        return self._delta_answer(request, "events", lambda e: self._event_json(e, request))

    def _events_list(self, request: _Request) -> Answer:
        wanted = request.param("$filter")
        found = [
            self._event_json(e, request)
            for e in self._events.values()
            if wanted is None or _property_matches(e["_properties"], wanted)
        ]
        return Answer.json(200, {"value": found})

    def _events_create(self, request: _Request) -> Answer:
        data = request.json()
        transaction = data.get("transactionId")
        if transaction:
            for event in self._events.values():
                if event.get("transactionId") == transaction:
                    return Answer.json(201, self._event_json(event, request))
        data.pop("iCalUId", None)  # read-only in Graph
        return Answer.json(201, self._event_json(self._create_event(data), request))

    def _events_patch(self, request: _Request, event_id: str) -> Answer:
        event = self._events.get(event_id)
        if event is None:
            raise GraphError(404, "The specified object was not found in the store.")
        data = request.json()
        event["_properties"].update(_properties(data))
        data.pop("singleValueExtendedProperties", None)
        data.pop("iCalUId", None)
        event.update(data)
        self._touch_event(event)
        return Answer.json(200, self._event_json(event, request))

    def _events_delete(self, request: _Request, event_id: str) -> Answer:
        if self._events.pop(event_id, None) is None:
            raise GraphError(404, "The specified object was not found in the store.")
        self._change("events", event_id)
        return Answer(204)


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    origin: str

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> JSON:
        try:
            data = json.loads(self.body or b"{}")
        except ValueError as err:
            raise GraphError(400, "Unable to read JSON request payload.", "BadRequest") from err
        if not isinstance(data, dict):
            raise GraphError(400, "Unable to read JSON request payload.", "BadRequest")
        return data

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def max_page_size(self) -> int | None:
        prefer = header_value(self.headers, "prefer") or ""
        found = re.search(r"odata\.maxpagesize=(\d+)", prefer)
        return int(found[1]) if found else None


def _oauth_error(error: str, description: str) -> Answer:
    return Answer.json(
        400,
        {
            "error": error,
            "error_description": description,
            "error_codes": [50173],
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        },
    )


def _folder_name(name: str) -> str:
    lowered = name.lower()
    for folder in _FOLDERS:
        if lowered in (folder, _folder_id(folder).lower()):
            return folder
    raise GraphError(
        404, f"The specified folder {name!r} could not be found.", "ErrorInvalidIdMalformed"
    )


def _folder_id(folder: str) -> str:
    return f"AAMkAGVm-{folder}-AAA="


def _properties(data: JSON) -> dict[str, str]:
    return {
        str(p["id"]): str(p["value"])
        for p in data.get("singleValueExtendedProperties") or []
        if isinstance(p, dict) and "id" in p and "value" in p
    }


def _expanded(properties: Mapping[str, str], request: _Request) -> JSON:
    """``$expand=singleValueExtendedProperties($filter=id eq '...' or id eq '...')``."""
    expand = request.param("$expand") or ""
    if "singleValueExtendedProperties" not in expand:
        return {}
    wanted = {w.lower() for w in re.findall(r"id eq '([^']*)'", expand)}
    return {
        "singleValueExtendedProperties": [
            {"id": pid, "value": value}
            for pid, value in properties.items()
            if not wanted or pid.lower() in wanted
        ]
    }


def _property_matches(properties: Mapping[str, str], expression: str) -> bool:
    found = _EXT_FILTER.search(expression)
    if found is None:
        raise GraphError(400, f"Invalid filter clause: {expression}", "BadRequest")
    wanted_id, wanted_value = found[2], found[3].replace("''", "'")
    return any(k.lower() == wanted_id.lower() and v == wanted_value for k, v in properties.items())


def _matches(found: _Message, expression: str | None) -> bool:
    if expression is None:
        return True
    by_id = _MSGID_FILTER.search(expression)
    if by_id is not None:
        return found.message_id() == by_id[1].replace("''", "'")
    return _property_matches(found.properties, expression)


def _in_window(event: JSON, state: JSON) -> bool:
    if "start" not in state:
        return True
    start = _parse_time(event["start"]["dateTime"])
    end = _parse_time(event["end"]["dateTime"])
    return start < _parse_time(state["end"]) and end > _parse_time(state["start"])


def _parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _mime_of(data: JSON, address: str) -> bytes:
    message = EmailMessage()
    sender = (data.get("from") or {}).get("emailAddress") or {"address": address}
    message["From"] = sender.get("address") or address
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = f"<{uuid.uuid4().hex}@emulated.outlook.com>"
    message.set_content("")
    return _apply(message, data, address)


def _apply(message: EmailMessage, data: JSON, address: str) -> bytes:
    """``message`` with the writable properties of ``data`` (Graph's message JSON)."""
    for name, header in (("toRecipients", "To"), ("ccRecipients", "Cc"), ("bccRecipients", "Bcc")):
        if name in data:
            del message[header]
            listed = [r["emailAddress"]["address"] for r in data[name]]
            if listed:
                message[header] = ", ".join(listed)
    if "subject" in data:
        del message["Subject"]
        message["Subject"] = data["subject"]
    for header in data.get("internetMessageHeaders") or []:
        if not str(header.get("name", "")).lower().startswith("x-"):
            raise GraphError(
                400, "Only custom x- headers can be set.", "InvalidInternetMessageHeader"
            )
        message[header["name"]] = header["value"]
    body = data.get("body")
    if body:
        subtype = "html" if str(body.get("contentType", "text")).lower() == "html" else "plain"
        message.set_content(str(body.get("content", "")), subtype=subtype)
    return message.as_bytes(policy=policy.SMTP)


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
