"""A local emulator of the Gmail API, the Google Calendar API and Google's token endpoint.

It speaks the wire formats the real client libraries (google-api-python-client over
httplib2, google-auth) use, so tests run the real clients against it (PROVIDERS.md):

- OAuth: ``POST /token`` (refresh_token grant; ``invalid_grant`` 400 for a revoked token).
  API calls need ``Authorization: Bearer <token>``; a stale token answers 401, which the
  client cures by refreshing.
- Gmail (``/gmail/v1/users/{me}/...``): ``profile``, ``messages`` list / get (raw,
  metadata, minimal, full) / insert / import, ``drafts`` create / list / get / delete,
  ``threads.get``,
  ``history`` (startHistoryId, historyTypes, pagination, 404 for an id older than the
  kept history). Search (``q``) understands ``rfc822msgid:``, ``in:``/``label:``,
  ``after:`` and ``before:``.
- Calendar (``/calendar/v3/calendars/{id}/events``): list (syncToken with 410 once
  expired, pageToken, privateExtendedProperty, iCalUID, showDeleted), get, insert (409 for
  a duplicate id), patch, update, delete (410 when already deleted).
- Batch: ``POST /batch``, ``/batch/gmail/v1``, ``/batch/calendar/v3`` (multipart/mixed of
  ``application/http`` parts; answers carry ``Content-ID: <response-...>``).

Errors use Google's envelope ``{"error": {"code", "message", "errors": [{"reason",
"domain", "message"}], "status"}}``. History ids only grow; a new thread's id is the id of
its first message, and a message joins a thread only as Gmail threads (the thread id given
with matching In-Reply-To/References and Subject; received mail by headers and Subject).

What tests and benchmarks get besides the API: state to seed and inspect (``receive``,
``send_draft``, ``edit_draft``, ``delete_draft``, ``add_event``, ``move_event``,
``cancel_event``, ``remove_event``, ...), a log of every request (``requests``), a
per-user quota in units per second answered with 429 and Retry-After, fault injection
(``fail_next``: any status, ``drop_next``: a dropped connection before or after the work
is done, ``stall_next``: a response slower than the client's time-out), ``expire_history``,
``expire_sync_tokens``, ``expire_access_tokens``, ``revoke_refresh_token``, and a fixed
``latency`` per HTTP request. Headers are read case-insensitively (httplib2 lower-cases).

One emulator serves one person (``address``); "me" and the address both name them.
"""

from __future__ import annotations

import base64
import collections
import copy
import email.utils
import itertools
import json
import math
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser, BytesParser, Parser
from typing import Any
from urllib.parse import parse_qs, urlsplit

from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp

from connectors._google_http import NoResendHttp
from tests.emulators.core import (
    JSON,
    PHRASES,
    Answer,
    Bucket,
    EmulatorServer,
    Fault,
    LoggedRequest,
    header_value,
    loopback_only,
)

__all__ = ["GOOGLE_HOSTS", "GoogleEmulator", "LoggedRequest", "authorized_http", "loopback_only"]

# Gmail quota units per method (PROVIDERS.md); Calendar calls cost 1 in their own bucket.
GMAIL_UNITS: dict[str, int] = {
    "gmail.users.getProfile": 1,
    "gmail.users.messages.list": 5,
    "gmail.users.messages.get": 5,
    "gmail.users.messages.insert": 25,
    "gmail.users.messages.import": 25,
    "gmail.users.messages.delete": 10,
    "gmail.users.drafts.create": 10,
    "gmail.users.drafts.list": 5,
    "gmail.users.drafts.get": 5,
    "gmail.users.drafts.delete": 10,
    "gmail.users.history.list": 2,
    "gmail.users.threads.get": 10,
}

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    410: "GONE",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_REASONS = {
    400: "badRequest",
    401: "authError",
    403: "forbidden",
    404: "notFound",
    409: "duplicate",
    410: "deleted",
    429: "rateLimitExceeded",
    500: "backendError",
    502: "backendError",
    503: "backendError",
    504: "backendError",
}
_HEADERS = BytesHeaderParser(policy=policy.compat32)
_MSGID = re.compile(r"<[^<>\s]+>")
_SUBJECT_PREFIX = re.compile(r"^\s*((re|fwd?|aw|wg|sv|tr)\s*:\s*)+", re.IGNORECASE)
_EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")


class ApiError(Exception):
    """An error answer in Google's envelope."""

    def __init__(
        self,
        code: int,
        message: str,
        reason: str | None = None,
        *,
        domain: str = "global",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or _REASONS.get(code, "unknown")
        self.domain = domain
        self.headers = dict(headers or {})

    def body(self) -> JSON:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [{"message": self.message, "domain": self.domain, "reason": self.reason}],
                "status": _STATUS_NAMES.get(self.code, "UNKNOWN"),
            }
        }


@dataclass
class _Message:
    id: str
    thread_id: str
    labels: list[str]
    raw: bytes
    internal_date: int  # milliseconds since the epoch
    history_id: int
    added: float = 0.0  # the emulator's clock (seconds) when it was stored: search lags it
    _parsed: Message | None = None

    def headers(self) -> Message:
        if self._parsed is None:
            self._parsed = _HEADERS.parsebytes(self.raw)
        return self._parsed

    def rfc822msgid(self) -> str | None:
        own = _msgids(_header(self.headers(), "Message-ID"))
        return own[0].strip("<>").lower() if own else None


def _error_answer(err: ApiError) -> Answer:
    return Answer.json(err.code, err.body(), err.headers)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def unb64url(text: str) -> bytes:
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _msgids(value: str | None) -> list[str]:
    return _MSGID.findall(value or "")


def _norm_subject(subject: str | None) -> str:
    return _SUBJECT_PREFIX.sub("", subject or "").strip().lower()


def _header(message: Message, name: str) -> str | None:
    value = message.get(name)
    return None if value is None else str(value)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class GoogleEmulator(EmulatorServer):
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

    # -- the other side of the mailbox -------------------------------------------------------

    def receive(self, raw: bytes, at: datetime | None = None) -> str:
        """A message arrives in the inbox; return its id."""
        with self._lock:
            headers = _HEADERS.parsebytes(raw)
            thread = self._thread_by_headers(headers)
            message = self._add_message(raw, ["INBOX", "UNREAD"], thread, at)
            self._record(added=[message])
            return message.id

    def person_sends(self, raw: bytes) -> str:
        """The person writes and sends a message of their own in Gmail."""
        with self._lock:
            thread = self._thread_by_headers(_HEADERS.parsebytes(raw))
            message = self._add_message(raw, ["SENT"], thread, None)
            self._record(added=[message])
            return message.id

    def send_draft(
        self,
        key_or_draft_id: str,
        edit: Callable[[EmailMessage], EmailMessage | None] | None = None,
        *,
        in_place: bool = False,
    ) -> str:
        """The person sends a draft (after ``edit``): the draft goes, a SENT message with a
        new id appears in the same thread, in one history record. Returns the new id.
        ``in_place``: the draft's own message loses DRAFT and gains SENT instead (a
        labelsRemoved and a labelsAdded record; the id stays)."""
        with self._lock:
            draft_id = self._find_draft(key_or_draft_id)
            old = self._messages[self._drafts[draft_id]]
            if in_place:
                del self._drafts[draft_id]
                old.labels = ["SENT"]
                self._sent_from[old.id] = draft_id
                self._record(relabelled=(old, ["SENT"], ["DRAFT"]))
                return old.id
            raw = self._edited(old.raw, edit, date=True)
            del self._drafts[draft_id]
            del self._messages[old.id]
            sent = self._add_message(raw, ["SENT"], old.thread_id, None)
            self._sent_from[sent.id] = draft_id
            self._record(added=[sent], deleted=[old])
            return sent.id

    def undo_send(self, sent_id: str) -> str:
        """The person clicks "Undo" right after sending: the sent message goes and the
        draft comes back under its old draft id (a new message id). Returns that id."""
        with self._lock:
            sent = self._messages.pop(sent_id)
            draft_id = self._sent_from.pop(sent_id)
            back = self._add_message(sent.raw, ["DRAFT"], sent.thread_id, None)
            self._drafts[draft_id] = back.id
            self._record(added=[back], deleted=[sent])
            return back.id

    def schedule_draft(
        self,
        key_or_draft_id: str,
        edit: Callable[[EmailMessage], EmailMessage | None] | None = None,
    ) -> str:
        """The person schedules a draft to be sent later: the draft goes, a message
        labelled SCHEDULED (neither DRAFT nor SENT) takes its place. Returns its id."""
        with self._lock:
            draft_id = self._find_draft(key_or_draft_id)
            old = self._messages[self._drafts.pop(draft_id)]
            del self._messages[old.id]
            raw = self._edited(old.raw, edit, date=True)
            waiting = self._add_message(raw, ["SCHEDULED"], old.thread_id, None)
            self._record(added=[waiting], deleted=[old])
            return waiting.id

    def send_scheduled(self, message_id: str) -> None:
        """The scheduled time comes: the message loses SCHEDULED and gains SENT."""
        with self._lock:
            message = self._messages[message_id]
            message.labels = [label for label in message.labels if label != "SCHEDULED"]
            message.labels.append("SENT")
            self.history_id += 1
            message.history_id = self.history_id
            self._record(relabelled=(message, ["SENT"], ["SCHEDULED"]))

    def edit_draft(
        self, key_or_draft_id: str, edit: Callable[[EmailMessage], EmailMessage | None]
    ) -> str:
        """The person edits a draft: Gmail stores a new message under the same draft id."""
        with self._lock:
            draft_id = self._find_draft(key_or_draft_id)
            old = self._messages[self._drafts[draft_id]]
            raw = self._edited(old.raw, edit, date=False)
            del self._messages[old.id]
            new = self._add_message(raw, ["DRAFT"], old.thread_id, None)
            self._drafts[draft_id] = new.id
            self._record(added=[new], deleted=[old])
            return new.id

    def delete_draft(self, key_or_draft_id: str) -> None:
        """The person discards a draft."""
        with self._lock:
            draft_id = self._find_draft(key_or_draft_id)
            old = self._messages.pop(self._drafts.pop(draft_id))
            self._record(deleted=[old])

    def delete_message(self, message_id: str) -> None:
        with self._lock:
            old = self._messages.pop(message_id)
            self._record(deleted=[old])

    def drafts(self) -> list[bytes]:
        with self._lock:
            return [self._messages[m].raw for m in self._drafts.values()]

    def draft_ids(self) -> dict[str, str]:
        with self._lock:
            return dict(self._drafts)

    def labelled(self, label: str) -> list[bytes]:
        with self._lock:
            return [m.raw for m in self._messages.values() if label in m.labels]

    def message(self, message_id: str) -> tuple[str, list[str], bytes]:
        """(thread id, labels, raw) of a stored message."""
        with self._lock:
            found = self._messages[message_id]
            return found.thread_id, list(found.labels), found.raw

    # -- the other side of the calendar ------------------------------------------------------

    def add_event(self, resource: JSON) -> str:
        """An event someone else organised appears (or is replaced); return its id."""
        with self._lock:
            body = copy.deepcopy(resource)
            event_id = body.get("id") or uuid.uuid4().hex[:26]
            if event_id in self._events:
                return self._replace_event(event_id, body, keep_organizer=False)["id"]
            return self._create_event(body, event_id)["id"]

    def event_id(self, ical_uid: str) -> str:
        with self._lock:
            for event_id, event in self._events.items():
                if event["iCalUID"] == ical_uid and event["status"] != "cancelled":
                    return event_id
            for event_id, event in self._events.items():
                if event["iCalUID"] == ical_uid:
                    return event_id
        raise KeyError(ical_uid)

    def move_event(self, ical_uid: str, start: datetime, end: datetime) -> None:
        with self._lock:
            event = self._events[self.event_id(ical_uid)]
            event["start"] = {"dateTime": start.isoformat()}
            event["end"] = {"dateTime": end.isoformat()}
            self._touch(event)

    def cancel_event(self, ical_uid: str) -> None:
        """The organiser cancels: the event stays, every field kept, status cancelled."""
        with self._lock:
            event = self._events[self.event_id(ical_uid)]
            event["status"] = "cancelled"
            self._touch(event)

    def remove_event(self, ical_uid: str) -> None:
        """The event is deleted (incremental sync shows an id-and-status tombstone)."""
        with self._lock:
            event = self._events[self.event_id(ical_uid)]
            event["status"] = "cancelled"
            event["_deleted"] = True
            self._touch(event)

    def events(self, *, deleted: bool = False) -> list[JSON]:
        with self._lock:
            return [
                self._public_event(e)
                for e in self._events.values()
                if deleted or not e.get("_deleted")
            ]

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
            content_id = str(part.get("Content-ID", "")).strip()
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

    # -- gmail -------------------------------------------------------------------------------

    def _user(self, user: str) -> None:
        if user not in ("me", self.address):
            raise ApiError(403, "Delegation denied for " + self.address, "forbidden")

    def _profile(self, user: str, *, query: dict[str, list[str]], body: bytes) -> Answer:
        self._user(user)
        threads = {m.thread_id for m in self._messages.values()}
        return Answer.json(
            200,
            {
                "emailAddress": self.address,
                "messagesTotal": len(self._messages),
                "threadsTotal": len(threads),
                "historyId": str(self.history_id),
            },
        )

    def _messages_list(self, user: str, *, query: dict[str, list[str]], body: bytes) -> Answer:
        self._user(user)
        found = [m for m in self._candidates(query) if self._search(m, query)]
        found.sort(key=lambda m: (m.internal_date, int(m.id, 16)), reverse=True)
        page, token = _page(found, query, default=100, limit=500)
        data: JSON = {"resultSizeEstimate": len(found)}
        if page:
            data["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in page]
        if token:
            data["nextPageToken"] = token
        return Answer.json(200, data)

    def _candidates(self, query: dict[str, list[str]]) -> list[_Message]:
        """Every message, or only those with the Message-ID the query names (indexed)."""
        for term in " ".join(query.get("q", [])).split():
            name, _, value = term.partition(":")
            if name.lower() == "rfc822msgid":
                ids = self._ids_by_msgid.get(value.strip("<>").lower(), [])
                return [self._messages[i] for i in ids if i in self._messages]
        return list(self._messages.values())

    def _search(self, message: _Message, query: dict[str, list[str]]) -> bool:
        if query.get("q") and message.added > self._clock().timestamp() - self.search_lag:
            return False  # not indexed yet
        labels = query.get("labelIds", [])
        if any(label not in message.labels for label in labels):
            return False
        if "SPAM" in message.labels or "TRASH" in message.labels:
            return False
        for term in " ".join(query.get("q", [])).split():
            name, _, value = term.partition(":")
            name = name.lower()
            if name == "rfc822msgid":
                if message.rfc822msgid() != value.strip("<>").lower():
                    return False
            elif name in ("in", "label"):
                if (
                    value.upper() not in message.labels
                    and f"{value.upper()}S" not in message.labels
                ):
                    return False
            elif name in ("after", "before"):
                seconds = _search_time(value)
                if name == "after" and message.internal_date // 1000 <= seconds:
                    return False
                if name == "before" and message.internal_date // 1000 >= seconds:
                    return False
        return True

    def _message_json(self, message: _Message, query: dict[str, list[str]]) -> JSON:
        fmt = (query.get("format") or ["full"])[0]
        data: JSON = {"id": message.id, "threadId": message.thread_id}
        data["labelIds"] = list(message.labels)
        data.update(
            historyId=str(message.history_id),
            internalDate=str(message.internal_date),
            sizeEstimate=len(message.raw),
        )
        if fmt == "raw":
            data["raw"] = b64url(message.raw)
        elif fmt in ("metadata", "full"):
            headers = message.headers()
            wanted = {h.lower() for h in query.get("metadataHeaders", [])}
            data["snippet"] = ""
            data["payload"] = {
                "partId": "",
                "mimeType": headers.get_content_type(),
                "filename": "",
                "headers": [
                    {"name": k, "value": str(v)}
                    for k, v in headers.items()
                    if fmt == "full" or not wanted or k.lower() in wanted
                ],
            }
        return data

    def _messages_get(
        self, user: str, message_id: str, *, query: dict[str, list[str]], body: bytes
    ) -> Answer:
        self._user(user)
        found = self._messages.get(message_id)
        if found is None:
            raise ApiError(404, "Requested entity was not found.", "notFound")
        return Answer.json(200, self._message_json(found, query))

    def _messages_delete(
        self, user: str, message_id: str, *, query: dict[str, list[str]], body: bytes
    ) -> Answer:
        self._user(user)
        if message_id not in self._messages:
            raise ApiError(404, "Requested entity was not found.", "notFound")
        self.delete_message(message_id)
        return Answer(204)

    def _messages_insert(self, user: str, *, query: dict[str, list[str]], body: bytes) -> Answer:
        self._user(user)
        data = _json_body(body)
        raw = _raw_of(data)
        labels = list(data.get("labelIds") or [])
        thread = data.get("threadId")
        headers = _HEADERS.parsebytes(raw)
        thread_id = (
            self._thread_for(headers, thread) if thread else self._thread_by_headers(headers)
        )
        at = None
        if (query.get("internalDateSource") or ["receivedTime"])[0] == "dateHeader":
            date = _header(headers, "Date")
            at = email.utils.parsedate_to_datetime(date) if date else None
        message = self._add_message(raw, labels, thread_id, at)
        self._record(added=[message])
        return Answer.json(
            200, {"id": message.id, "threadId": message.thread_id, "labelIds": labels}
        )

    def _drafts_list(self, user: str, *, query: dict[str, list[str]], body: bytes) -> Answer:
        self._user(user)
        drafts = [
            (draft_id, self._messages[message_id]) for draft_id, message_id in self._drafts.items()
        ]
        wanted = {m.id for m in self._candidates(query)}
        found = [
            (d, m)
            for d, m in drafts
            if m.id in wanted and self._search(m, {"q": query.get("q", [])})
        ]
        found.sort(key=lambda dm: (dm[1].internal_date, int(dm[1].id, 16)), reverse=True)
        page, token = _page(found, query, default=100, limit=500)
        data: JSON = {"resultSizeEstimate": len(found)}
        if page:
            data["drafts"] = [
                {"id": d, "message": {"id": m.id, "threadId": m.thread_id}} for d, m in page
            ]
        if token:
            data["nextPageToken"] = token
        return Answer.json(200, data)

    def _drafts_create(self, user: str, *, query: dict[str, list[str]], body: bytes) -> Answer:
        self._user(user)
        data = _json_body(body).get("message") or {}
        raw = _raw_of(data)
        headers = _HEADERS.parsebytes(raw)
        thread_id = self._thread_for(headers, data.get("threadId"))
        message = self._add_message(raw, ["DRAFT"], thread_id, None)
        draft_id = f"r{next(self._draft_ids):019d}"
        self._drafts[draft_id] = message.id
        self._record(added=[message])
        return Answer.json(
            200,
            {
                "id": draft_id,
                "message": {
                    "id": message.id,
                    "threadId": message.thread_id,
                    "labelIds": ["DRAFT"],
                },
            },
        )

    def _drafts_get(
        self, user: str, draft_id: str, *, query: dict[str, list[str]], body: bytes
    ) -> Answer:
        self._user(user)
        if draft_id not in self._drafts:
            raise ApiError(404, "Requested entity was not found.", "notFound")
        message = self._messages[self._drafts[draft_id]]
        return Answer.json(200, {"id": draft_id, "message": self._message_json(message, query)})

    def _drafts_delete(
        self, user: str, draft_id: str, *, query: dict[str, list[str]], body: bytes
    ) -> Answer:
        self._user(user)
        if draft_id not in self._drafts:
            raise ApiError(404, "Requested entity was not found.", "notFound")
        self.delete_draft(draft_id)
        return Answer(204)

    def _threads_get(
        self, user: str, thread_id: str, *, query: dict[str, list[str]], body: bytes
    ) -> Answer:
        self._user(user)
        members = sorted(
            self._thread_members(thread_id), key=lambda m: (m.internal_date, int(m.id, 16))
        )
        if not members:
            raise ApiError(404, "Requested entity was not found.", "notFound")
        return Answer.json(
            200,
            {
                "id": thread_id,
                "historyId": str(max(m.history_id for m in members)),
                "messages": [self._message_json(m, query) for m in members],
            },
        )

    def _history_list(self, user: str, *, query: dict[str, list[str]], body: bytes) -> Answer:
        self._user(user)
        start_text = (query.get("startHistoryId") or [""])[0]
        if not start_text.isdigit():
            raise ApiError(400, "Invalid startHistoryId", "invalidArgument")
        start = int(start_text)
        if start < self._min_history:
            raise ApiError(404, "Requested entity was not found.", "notFound")
        types = set(query.get("historyTypes", [])) or {
            "messageAdded",
            "messageDeleted",
            "labelAdded",
            "labelRemoved",
        }
        label = (query.get("labelId") or [None])[0]
        wanted = {
            "messageAdded": "messagesAdded",
            "messageDeleted": "messagesDeleted",
            "labelAdded": "labelsAdded",
            "labelRemoved": "labelsRemoved",
        }
        records = []
        for record in self._history:
            if record["id"] <= start:
                continue
            out: JSON = {"id": str(record["id"]), "messages": []}
            for kind in types:
                key = wanted.get(kind)
                items = [
                    i
                    for i in record.get(key or "", [])
                    if label is None or label in i["message"]["labelIds"]
                ]
                if key and items:
                    out[key] = copy.deepcopy(items)
            if len(out) > 2:
                out["messages"] = [
                    {"id": i["message"]["id"], "threadId": i["message"]["threadId"]}
                    for k in wanted.values()
                    for i in out.get(k, [])
                ]
                if not self.history_labels:  # as Google documents: id and threadId only
                    for k in wanted.values():
                        for i in out.get(k, []):
                            i["message"] = {
                                "id": i["message"]["id"],
                                "threadId": i["message"]["threadId"],
                            }
                records.append(out)
        page, token = _page(records, query, default=self.history_page_size, limit=500)
        data: JSON = {"historyId": str(self.history_id)}
        if page:
            data["history"] = page
        if token:
            data["nextPageToken"] = token
        return Answer.json(200, data)

    # -- gmail internals ---------------------------------------------------------------------

    def _find_draft(self, key_or_draft_id: str) -> str:
        if key_or_draft_id in self._drafts:
            return key_or_draft_id
        for draft_id, message_id in self._drafts.items():
            if _header(self._messages[message_id].headers(), "X-Outreach-Key") == key_or_draft_id:
                return draft_id
        raise KeyError(f"no draft with key or id {key_or_draft_id!r}")

    def _edited(
        self, raw: bytes, edit: Callable[[EmailMessage], EmailMessage | None] | None, *, date: bool
    ) -> bytes:
        if edit is None and not date:
            return raw
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        if edit is not None:
            message = edit(message) or message
        if date and "Date" not in message:
            message["Date"] = email.utils.format_datetime(self._clock())
        return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))

    def _thread_members(self, thread_id: str) -> list[_Message]:
        return [m for m in self._messages.values() if m.thread_id == thread_id]

    def _thread_for(self, headers: Message, thread_id: str | None) -> str | None:
        """Gmail's rule for a message added with a thread id: it joins that thread only
        when it refers to a message of it and the Subject matches; else a new thread."""
        if not thread_id:
            return None
        members = self._thread_members(thread_id)
        if not members:
            raise ApiError(404, "Requested entity was not found.", "notFound")
        parents = set(_msgids(_header(headers, "In-Reply-To"))) | set(
            _msgids(_header(headers, "References"))
        )
        subject = _norm_subject(_header(headers, "Subject"))
        for member in members:
            own = member.headers()
            ids = set(_msgids(_header(own, "Message-ID")))
            if parents & ids and _norm_subject(_header(own, "Subject")) == subject:
                return thread_id
        return None

    def _thread_by_headers(self, headers: Message) -> str | None:
        """Received mail joins the thread of a message it refers to, Subject matching."""
        subject = _norm_subject(_header(headers, "Subject"))
        parents = _msgids(_header(headers, "In-Reply-To")) + list(
            reversed(_msgids(_header(headers, "References")))
        )
        for parent in parents:
            thread_id = self._by_msgid.get(parent)
            if thread_id is None:
                continue
            for member in self._thread_members(thread_id):
                if _norm_subject(_header(member.headers(), "Subject")) == subject:
                    return thread_id
        return None

    def _add_message(
        self, raw: bytes, labels: list[str], thread_id: str | None, at: datetime | None
    ) -> _Message:
        message_id = f"{next(self._ids):x}"
        self.history_id += 1
        moment = at or self._clock()
        stored = _Message(
            message_id,
            thread_id or message_id,
            labels,
            raw,
            int(moment.timestamp() * 1000),
            self.history_id,
            self._clock().timestamp(),
        )
        self._messages[message_id] = stored
        for own in _msgids(_header(stored.headers(), "Message-ID"))[:1]:
            self._by_msgid.setdefault(own, stored.thread_id)
            self._ids_by_msgid.setdefault(own.strip("<>").lower(), []).append(message_id)
        return stored

    def _record(
        self,
        added: list[_Message] | None = None,
        deleted: list[_Message] | None = None,
        *,
        relabelled: tuple[_Message, list[str], list[str]] | None = None,
    ) -> None:
        """One history record; ``relabelled``: (message, labels added, labels removed)."""
        self.history_id += 1

        def item(message: _Message) -> JSON:
            return {
                "message": {
                    "id": message.id,
                    "threadId": message.thread_id,
                    "labelIds": list(message.labels),
                }
            }

        record: JSON = {"id": self.history_id}
        for message in added or ():
            message.history_id = self.history_id  # a message's historyId: its last record
        if added:
            record["messagesAdded"] = [item(m) for m in added]
        if deleted:
            record["messagesDeleted"] = [item(m) for m in deleted]
        if relabelled is not None:
            message, plus, minus = relabelled
            if plus:
                record["labelsAdded"] = [{**item(message), "labelIds": plus}]
            if minus:
                record["labelsRemoved"] = [{**item(message), "labelIds": minus}]
        self._history.append(record)

    # -- calendar ----------------------------------------------------------------------------

    def _calendar(self, calendar_id: str) -> None:
        if calendar_id not in ("primary", self.address):
            raise ApiError(404, "Not Found", "notFound")

    def _touch(self, event: JSON) -> None:
        self._seq += 1
        event["_seq"] = self._seq
        event["updated"] = _rfc3339(self._clock())
        event["etag"] = f'"{self._seq}"'
        event["sequence"] = event.get("sequence", -1) + 1

    def _create_event(self, body: JSON, event_id: str) -> JSON:
        now = _rfc3339(self._clock())
        event = {
            **body,
            "kind": "calendar#event",
            "id": event_id,
            "iCalUID": body.get("iCalUID") or f"{event_id}@google.com",
            "status": body.get("status") or "confirmed",
            "created": now,
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
            "creator": {"email": self.address, "self": True},
            "organizer": body.get("organizer") or {"email": self.address, "self": True},
        }
        self._events[event_id] = event
        self._touch(event)
        return event

    def _replace_event(self, event_id: str, body: JSON, *, keep_organizer: bool) -> JSON:
        old = self._events[event_id]
        event = {
            **body,
            "kind": "calendar#event",
            "id": event_id,
            "iCalUID": old["iCalUID"],
            "created": old["created"],
            "htmlLink": old["htmlLink"],
            "creator": old["creator"],
            "sequence": old.get("sequence", 0),
            "status": body.get("status") or "confirmed",
            "organizer": old["organizer"]
            if keep_organizer
            else body.get("organizer", old["organizer"]),
        }
        self._events[event_id] = event
        self._touch(event)
        return event

    @staticmethod
    def _public_event(event: JSON) -> JSON:
        if event.get("_deleted"):
            return {
                "kind": "calendar#event",
                "etag": event["etag"],
                "id": event["id"],
                "status": "cancelled",
            }
        return {k: copy.deepcopy(v) for k, v in event.items() if not k.startswith("_")}

    def _event(self, calendar_id: str, event_id: str) -> JSON:
        self._calendar(calendar_id)
        event = self._events.get(event_id)
        if event is None:
            raise ApiError(404, "Not Found", "notFound")
        return event

    def _events_list(self, calendar_id: str, *, query: dict[str, list[str]], body: bytes) -> Answer:
        self._calendar(calendar_id)
        sync = (query.get("syncToken") or [None])[0]
        page_token = (query.get("pageToken") or [None])[0]
        props = query.get("privateExtendedProperty", [])
        ical_uid = (query.get("iCalUID") or [None])[0]
        show_deleted = (query.get("showDeleted") or ["false"])[0] == "true"
        if sync and (props or ical_uid or query.get("timeMin") or query.get("q")):
            raise ApiError(400, "Sync token cannot be combined with these filters.", "invalid")
        since: int | None = None
        snapshot = self._seq
        if page_token:
            state = json.loads(unb64url(page_token))
            since, snapshot, offset = state["since"], state["snapshot"], state["offset"]
        else:
            offset = 0
            if sync:
                since = _sync_seq(sync)
                if since is None or since < self._min_seq:
                    raise ApiError(
                        410,
                        "Sync token is no longer valid, a full sync is required.",
                        "fullSyncRequired",
                        domain="calendar",
                    )
        found = []
        for event in sorted(self._events.values(), key=lambda e: e["_seq"]):
            if since is not None:
                if not since < event["_seq"] <= snapshot:
                    continue
            else:
                if event["status"] == "cancelled" and not show_deleted:
                    continue
                if event["_seq"] > snapshot:
                    continue
            if ical_uid and event["iCalUID"] != ical_uid:
                continue
            private = event.get("extendedProperties", {}).get("private", {})
            if any(private.get(p.partition("=")[0]) != p.partition("=")[2] for p in props):
                continue
            found.append(self._public_event(event))
        size = min(int((query.get("maxResults") or ["250"])[0]), 2500)
        page = found[offset : offset + size]
        data: JSON = {
            "kind": "calendar#events",
            "summary": self.address,
            "timeZone": "UTC",
            "updated": _rfc3339(self._clock()),
            "items": page,
        }
        if offset + size < len(found):
            data["nextPageToken"] = b64url(
                json.dumps({"since": since, "snapshot": snapshot, "offset": offset + size}).encode()
            )
        else:
            data["nextSyncToken"] = b64url(f"sync:{snapshot}".encode())
        return Answer.json(200, data)

    def _events_get(
        self, calendar_id: str, event_id: str, *, query: dict[str, list[str]], body: bytes
    ) -> Answer:
        event = self._event(calendar_id, event_id)
        return Answer.json(200, self._public_event({**event, "_deleted": False}))

    def _events_insert(
        self, calendar_id: str, *, query: dict[str, list[str]], body: bytes
    ) -> Answer:
        self._calendar(calendar_id)
        data = _json_body(body)
        if data.get("id") and data.get("iCalUID"):
            # Google: "only one of them should be supplied at event creation time"
            raise ApiError(400, "Invalid resource: supply id or iCalUID, not both.", "invalid")
        event_id = data.get("id") or uuid.uuid4().hex[:26]
        if not _EVENT_ID.fullmatch(event_id):
            raise ApiError(400, "Invalid resource id value.", "invalid")
        if event_id in self._events:
            raise ApiError(409, "The requested identifier already exists.", "duplicate")
        uid = data.get("iCalUID")
        if uid and any(
            e["iCalUID"] == uid and e["status"] != "cancelled" for e in self._events.values()
        ):
            raise ApiError(409, "The requested identifier already exists.", "duplicate")
        if "start" not in data or "end" not in data:
            raise ApiError(400, "Missing end time.", "required")
        data.pop("organizer", None)
        return Answer.json(200, self._public_event(self._create_event(data, event_id)))

    def _events_patch(
        self, calendar_id: str, event_id: str, *, query: dict[str, list[str]], body: bytes
    ) -> Answer:
        event = self._event(calendar_id, event_id)
        merged = {k: v for k, v in event.items() if not k.startswith("_")}
        merged.update(_json_body(body))
        merged.setdefault("status", "confirmed")
        return Answer.json(
            200, self._public_event(self._replace_event(event_id, merged, keep_organizer=True))
        )

    def _events_update(
        self, calendar_id: str, event_id: str, *, query: dict[str, list[str]], body: bytes
    ) -> Answer:
        self._event(calendar_id, event_id)
        data = _json_body(body)
        return Answer.json(
            200, self._public_event(self._replace_event(event_id, data, keep_organizer=True))
        )

    def _events_delete(
        self, calendar_id: str, event_id: str, *, query: dict[str, list[str]], body: bytes
    ) -> Answer:
        event = self._event(calendar_id, event_id)
        if event.get("_deleted"):
            raise ApiError(410, "Resource has been deleted", "deleted")
        event["status"] = "cancelled"
        event["_deleted"] = True
        self._touch(event)
        return Answer(204)


# -- helpers ---------------------------------------------------------------------------------


class MinuteWindow:
    """Units per rolling minute (Gmail's 15,000 per user), beside the per-second bucket."""

    def __init__(self, per_minute: float) -> None:
        self.per_minute = per_minute
        self.spent: collections.deque[tuple[float, int]] = collections.deque()
        self.total = 0

    def take(self, units: int) -> float:
        """0 when ``units`` fit in the last 60 seconds, else how long until they do."""
        now = time.monotonic()
        while self.spent and self.spent[0][0] <= now - 60:
            self.total -= self.spent.popleft()[1]
        if self.total + units <= self.per_minute:
            self.spent.append((now, units))
            self.total += units
            return 0.0
        freed, need = 0, self.total + units - self.per_minute
        for stamp, spent in self.spent:
            freed += spent
            if freed >= need:
                return max(stamp + 60 - now, 0.001)
        return 60.0


def _json_body(body: bytes) -> JSON:
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError as err:
        raise ApiError(400, f"Invalid JSON payload received. {err}", "parseError") from err
    if not isinstance(data, dict):
        raise ApiError(400, "Invalid JSON payload received.", "parseError")
    return data


def _raw_of(data: JSON) -> bytes:
    raw = data.get("raw")
    if not isinstance(raw, str) or not raw:
        raise ApiError(
            400,
            "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
            "invalidArgument",
        )
    try:
        return unb64url(raw)
    except ValueError as err:
        raise ApiError(400, "Invalid value for ByteString", "invalidArgument") from err


def _page(
    items: list[Any], query: dict[str, list[str]], *, default: int, limit: int
) -> tuple[list[Any], str | None]:
    size = max(1, min(int((query.get("maxResults") or [str(default)])[0]), limit))
    token = (query.get("pageToken") or [""])[0]
    offset = int(token) if token.isdigit() else 0
    page = items[offset : offset + size]
    return page, (str(offset + size) if offset + size < len(items) else None)


def _search_time(value: str) -> int:
    if value.isdigit():
        return int(value)
    moment = datetime.strptime(value, "%Y/%m/%d").replace(tzinfo=UTC)
    return int(moment.timestamp())


def _sync_seq(token: str) -> int | None:
    try:
        text = unb64url(token).decode()
    except (ValueError, UnicodeError):
        return None
    kind, _, number = text.partition(":")
    return int(number) if kind == "sync" and number.isdigit() else None


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
    return Credentials(
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
