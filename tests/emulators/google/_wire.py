"""What the Google emulator's parts share: quota units, Google's error envelope, the
stored message, and small readers of requests (JSON bodies, pages, search times, sync
tokens), and the per-minute quota window.
"""

from __future__ import annotations

import base64
import collections
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser
from typing import Any

from tests.emulators.core import (
    JSON,
    Answer,
)

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
    """A header's value as Gmail gives it: unfolded (a long one arrives over two lines)."""
    value = message.get(name)
    return None if value is None else re.sub(r"\r?\n(?=[ \t])", "", str(value)).strip()


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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


class GoogleState:
    """The state the Gmail and Calendar halves share, declared for the type checker;
    ``GoogleEmulator.__init__`` sets it up, and holds the lock that guards it."""

    address: str
    history_page_size: int
    search_lag: float
    history_labels: bool
    _ids: Iterator[int]
    _draft_ids: Iterator[int]
    history_id: int
    _min_history: int
    _history: list[JSON]
    _messages: dict[str, _Message]
    _drafts: dict[str, str]
    _by_msgid: dict[str, str]
    _sent_from: dict[str, str]
    _ids_by_msgid: dict[str, list[str]]
    _events: dict[str, JSON]
    _seq: int
    _min_seq: int
    _lock: Any
    _clock: Callable[[], datetime]
