"""The Google emulator's server: state, knobs for tests, dispatch, OAuth, quota, batch."""

from __future__ import annotations

import itertools
import math
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from email import policy
from email.parser import BytesParser, Parser
from urllib.parse import parse_qs, urlsplit

from tests.emulators.core import (
    JSON,
    PHRASES,
    Answer,
    Bucket,
    EmulatorServer,
    Fault,
    LoggedRequest,
    header_value,
)
from tests.emulators.google._wire import (
    _REASONS,
    GMAIL_UNITS,
    ApiError,
    MinuteWindow,
    _error_answer,
    _Message,
)
from tests.emulators.google.calendar import CalendarSide
from tests.emulators.google.gmail import GmailSide


class GoogleEmulator(GmailSide, CalendarSide, EmulatorServer):
    """Gmail + Calendar + OAuth token endpoint on a local port (see the module docstring)."""

    def __init__(
        self,
        address: str = "me@example.org",
        *,
        units_per_second: float | None = None,
        calendar_per_second: float | None = None,
        latency: float = 0.0,
        refresh_token: str = "refresh-token-1",
        history_page_size: int = 100,
        clock: Callable[[], datetime] | None = None,
        units_per_minute: float | None = None,
        search_lag: float = 10.0,
        history_labels: bool = False,
        batch_concurrency: int | None = 50,
    ) -> None:
        super().__init__(latency=latency, clock=clock)
        self.address = address
        self.history_page_size = history_page_size
        self.search_lag = search_lag
        """Seconds (of the emulator's clock) before a new message shows in a search (q)."""
        self.history_labels = history_labels
        """True: history records' messages carry their labelIds (more than Google
        promises: it says they typically carry only id and threadId)."""
        self.batch_concurrency = batch_concurrency
        """Parts of one batch request beyond this many answer 429 (too many concurrent
        requests for the user); None: no limit."""
        self._buckets: dict[str, Bucket | None] = {
            "gmail": Bucket(units_per_second) if units_per_second else None,
            "calendar": Bucket(calendar_per_second) if calendar_per_second else None,
        }
        per_minute = units_per_minute or (15_000.0 if units_per_second else None)
        self._window: MinuteWindow | None = MinuteWindow(per_minute) if per_minute else None
        self._batches = itertools.count(1)
        # auth
        self.refresh_tokens = {refresh_token}
        self._access_tokens: set[str] = set()
        self.token_requests = 0
        # gmail
        self._ids = itertools.count(0x18C0_0000_0000_0001)
        self._draft_ids = itertools.count(1)
        self.history_id = 1000
        self._min_history = 1000
        self._history: list[JSON] = []
        self._messages: dict[str, _Message] = {}
        self._drafts: dict[str, str] = {}  # draft id -> message id
        self._by_msgid: dict[str, str] = {}  # Message-ID -> thread id
        self._sent_from: dict[str, str] = {}  # sent message id -> the draft id it came from
        self._ids_by_msgid: dict[str, list[str]] = {}  # bare Message-ID -> message ids
        # calendar
        self._events: dict[str, JSON] = {}  # event id -> resource (with private "_seq")
        self._seq = 0
        self._min_seq = 0

    # -- knobs for tests ---------------------------------------------------------------------

    def set_quota(self, api: str, per_second: float | None) -> None:
        with self._lock:
            self._buckets[api] = Bucket(per_second) if per_second else None

    def expire_access_tokens(self) -> None:
        """Every access token issued so far answers 401 from now on."""
        with self._lock:
            self._access_tokens.clear()

    def revoke_refresh_token(self) -> None:
        """The person revoked access: refreshing answers 400 invalid_grant."""
        with self._lock:
            self.refresh_tokens.clear()
            self._access_tokens.clear()

    def expire_history(self, upto: int | None = None) -> None:
        """Forget the history so far (or up to the id ``upto``): an older startHistoryId
        answers 404."""
        with self._lock:
            self._min_history = self.history_id if upto is None else upto
            self._history = [r for r in self._history if r["id"] > self._min_history]

    def expire_sync_tokens(self) -> None:
        """Every sync token issued so far answers 410 Gone."""
        with self._lock:
            self._seq += 1
            self._min_seq = self._seq

    def api_requests(self, api: str = "gmail") -> list[LoggedRequest]:
        """The HTTP requests made to ``api`` (a batch counts once; token calls excluded)."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.batch is None and r.method_name.startswith(api) and r.status != 0
            ]

    def calls(self, api: str = "gmail") -> list[LoggedRequest]:
        """The API calls made to ``api``, a batch's parts counted one by one."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.method_name.startswith(api + ".") and r.method_name != f"{api}.batch"
            ]

    def units(self, api: str = "gmail") -> int:
        return sum(r.units for r in self.calls(api))

    # -- HTTP dispatch -----------------------------------------------------------------------

    def handle(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        batch: int | None = None,
    ) -> tuple[Answer, Fault | None]:
        """Answer one request (a plain one or one part of a batch)."""
        parts = urlsplit(target)
        path = parts.path
        query = parse_qs(parts.query, keep_blank_values=True)
        name, handler, args = self._route(method, path)
        fault = self.take_fault(name, path, inner=batch is not None)
        if fault is not None and fault.kind == "status":
            answer = self.fault_answer(fault)
            self.log(method, path, query, body, name, answer.status, 0, batch)
            return answer, None
        if fault is not None and not fault.after and fault.kind == "drop":
            self.log(method, path, query, body, name, 0, 0, batch)
            return Answer(0), fault
        units = 0
        try:
            if name.startswith("unknown."):
                raise ApiError(404, f"Not Found: {method} {path}", "notFound")
            if name == "oauth.token":
                answer = self._token(body)
            elif name.endswith(".batch"):
                answer = self._batch(headers, body)
            else:
                assert handler is not None
                self._authorize(headers)
                units = self._charge(name)
                with self._lock:
                    answer = handler(*args, query=query, body=body)
        except ApiError as err:
            answer = _error_answer(err)
        self.log(method, path, query, body, name, answer.status, units, batch)
        return answer, fault

    def _route(
        self, method: str, path: str
    ) -> tuple[str, Callable[..., Answer] | None, tuple[str, ...]]:
        path = re.sub(r"^/upload", "", path)
        for verb, pattern, name, handler in self._routes():
            if verb != method:
                continue
            found = re.fullmatch(pattern, path)
            if found:
                return name, handler, found.groups()
        return f"unknown.{method}", None, ()

    def _routes(self) -> list[tuple[str, str, str, Callable[..., Answer] | None]]:
        user = r"/gmail/v1/users/([^/]+)"
        events = r"/calendar/v3/calendars/([^/]+)/events"
        return [
            ("POST", r"/token", "oauth.token", None),
            ("POST", r"/o/oauth2/token", "oauth.token", None),
            ("POST", r"/batch(?:/gmail/v1)?", "gmail.batch", None),
            ("POST", r"/batch/calendar/v3", "calendar.batch", None),
            ("GET", user + r"/profile", "gmail.users.getProfile", self._profile),
            ("GET", user + r"/messages", "gmail.users.messages.list", self._messages_list),
            ("POST", user + r"/messages", "gmail.users.messages.insert", self._messages_insert),
            (
                "POST",
                user + r"/messages/import",
                "gmail.users.messages.import",
                self._messages_insert,
            ),
            ("GET", user + r"/messages/([^/]+)", "gmail.users.messages.get", self._messages_get),
            (
                "DELETE",
                user + r"/messages/([^/]+)",
                "gmail.users.messages.delete",
                self._messages_delete,
            ),
            ("GET", user + r"/drafts", "gmail.users.drafts.list", self._drafts_list),
            ("POST", user + r"/drafts", "gmail.users.drafts.create", self._drafts_create),
            ("GET", user + r"/drafts/([^/]+)", "gmail.users.drafts.get", self._drafts_get),
            ("DELETE", user + r"/drafts/([^/]+)", "gmail.users.drafts.delete", self._drafts_delete),
            ("GET", user + r"/history", "gmail.users.history.list", self._history_list),
            ("GET", user + r"/threads/([^/]+)", "gmail.users.threads.get", self._threads_get),
            ("GET", events, "calendar.events.list", self._events_list),
            ("POST", events, "calendar.events.insert", self._events_insert),
            ("GET", events + r"/([^/]+)", "calendar.events.get", self._events_get),
            ("PATCH", events + r"/([^/]+)", "calendar.events.patch", self._events_patch),
            ("PUT", events + r"/([^/]+)", "calendar.events.update", self._events_update),
            ("DELETE", events + r"/([^/]+)", "calendar.events.delete", self._events_delete),
        ]

    def fault_answer(self, fault: Fault) -> Answer:
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        phrase = PHRASES.get(fault.status, "Error")
        domain = "usageLimits" if fault.status in (403, 429) else "global"
        reason = fault.reason or _REASONS.get(fault.status)
        return _error_answer(ApiError(fault.status, phrase, reason, domain=domain, headers=headers))

    # -- auth and quota ----------------------------------------------------------------------

    def _token(self, body: bytes) -> Answer:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        with self._lock:
            self.token_requests += 1
            if form.get("grant_type") != "refresh_token":
                return Answer.json(
                    400, {"error": "unsupported_grant_type", "error_description": "Bad grant."}
                )
            if form.get("refresh_token") not in self.refresh_tokens:
                return Answer.json(
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    },
                )
            token = f"ya29.emulator-{uuid.uuid4().hex}"
            self._access_tokens.add(token)
        return Answer.json(
            200,
            {
                "access_token": token,
                "expires_in": 3599,
                "scope": "https://www.googleapis.com/auth/gmail.compose",
                "token_type": "Bearer",
            },
        )

    def _authorize(self, headers: Mapping[str, str]) -> None:
        value = header_value(headers, "authorization") or ""
        token = value[7:] if value.lower().startswith("bearer ") else ""
        with self._lock:
            valid = token in self._access_tokens
        if not valid:
            raise ApiError(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
                "authError",
                headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
            )

    def _charge(self, name: str) -> int:
        api = name.split(".", 1)[0]
        units = GMAIL_UNITS.get(name, 5) if api == "gmail" else 1
        with self._lock:
            bucket = self._buckets.get(api)
            wait = bucket.take(units) if bucket is not None else 0.0
            if wait <= 0 and api == "gmail" and self._window is not None:
                wait = self._window.take(units)
        if wait > 0:
            raise ApiError(
                429,
                "User-rate limit exceeded.",
                "rateLimitExceeded",
                domain="usageLimits",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        return units

    # -- batch -------------------------------------------------------------------------------

    def _batch(self, headers: Mapping[str, str], body: bytes) -> Answer:
        content_type = header_value(headers, "content-type") or ""
        envelope = BytesParser(policy=policy.compat32).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        if not envelope.is_multipart():
            raise ApiError(400, "Failed to parse batch request.", "badRequest")
        parts = envelope.get_payload()
        assert isinstance(parts, list)
        if len(parts) > 100:
            raise ApiError(400, "Too many requests in a batch (at most 100).", "badRequest")
        batch_id = next(self._batches)
        boundary = f"batch_{uuid.uuid4().hex}"
        out: list[str] = []
        for number, part in enumerate(parts):
            # A long Content-ID reaches us folded (a line break before a space): unfold it
            content_id = re.sub(r"\r?\n(?=[ \t])", "", str(part.get("Content-ID", ""))).strip()
            payload = part.get_payload(decode=False)
            assert isinstance(payload, str)
            request_line, _, rest = payload.replace("\r\n", "\n").partition("\n")
            verb, target, _ = request_line.split(" ", 2)
            inner_head, _, inner_body = rest.partition("\n\n")
            inner = Parser(policy=policy.compat32).parsestr(inner_head + "\n\n", headersonly=True)
            inner_headers = {k.lower(): str(v) for k, v in inner.items()}
            if "authorization" not in inner_headers and header_value(headers, "authorization"):
                inner_headers["authorization"] = header_value(headers, "authorization") or ""
            if self.batch_concurrency is not None and number >= self.batch_concurrency:
                answer = self._too_concurrent(verb, target, inner_body.encode(), batch_id)
            else:
                answer, _ = self.handle(verb, target, inner_headers, inner_body.encode(), batch_id)
            reply_id = f"<response-{content_id[1:-1]}>" if content_id.startswith("<") else ""
            head = "".join(f"{k}: {v}\r\n" for k, v in answer.headers.items())
            phrase = PHRASES.get(answer.status, "Unknown")
            out.append(
                f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: {reply_id}\r\n\r\n"
                f"HTTP/1.1 {answer.status} {phrase}\r\n{head}"
                f"Content-Length: {len(answer.body)}\r\n\r\n{answer.body.decode()}\r\n"
            )
        out.append(f"--{boundary}--\r\n")
        return Answer(
            200, "".join(out).encode(), {"Content-Type": f"multipart/mixed; boundary={boundary}"}
        )

    def _too_concurrent(self, verb: str, target: str, body: bytes, batch_id: int) -> Answer:
        """A part of a large batch that Gmail runs out of concurrency for."""
        parts = urlsplit(target)
        name, _, _ = self._route(verb, parts.path)
        answer = _error_answer(
            ApiError(
                429,
                "Too many concurrent requests for user.",
                "rateLimitExceeded",
                domain="usageLimits",
            )
        )
        query = parse_qs(parts.query, keep_blank_values=True)
        self.log(verb, parts.path, query, body, name, 429, 0, batch_id)
        return answer
