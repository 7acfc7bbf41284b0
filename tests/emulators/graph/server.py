"""The emulator: its state, routing, throttling and $batch."""

from __future__ import annotations

import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.emulators.core import (
    JSON,
    PHRASES,
    Answer,
    EmulatorServer,
    Fault,
    header_value,
)
from tests.emulators.graph._wire import (
    GraphError,
    _Message,
    _Request,
    b64,
)
from tests.emulators.graph.calendar import CalendarSide
from tests.emulators.graph.identity import IdentitySide
from tests.emulators.graph.mail import MailSide


class GraphEmulator(IdentitySide, MailSide, CalendarSide, EmulatorServer):
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
