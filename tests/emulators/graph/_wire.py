"""What the halves of the Graph emulator share: constants, errors, the stored message,
the request reader, small encoders, and the declared state."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from typing import Any
from urllib.parse import parse_qs

from tests.emulators.core import (
    JSON,
    Answer,
    header_value,
)

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


class GraphState:
    """The state the identity, mail, calendar and delta halves share, declared for the
    type checker; ``GraphEmulator.__init__`` sets it up and holds the lock guarding it."""

    address: str
    client_id: str
    page_size: int
    requests_per_window: int | None
    window_seconds: float
    _window: deque[float]
    refresh_tokens: set[str]
    revoked: str | None
    access_tokens: set[str]
    device_codes: dict[str, JSON]
    auth_codes: dict[str, JSON]
    device_code_pending_polls: int
    auto_approve: bool
    granted_scopes: list[str]
    _ids: Iterator[int]
    _messages: dict[str, _Message]
    _events: dict[str, JSON]
    _log: list[tuple[int, str, str]]
    _seq: int
    _min_seq: int
    _lock: Any
    _clock: Callable[[], datetime]
    now: Callable[[], datetime]  # EmulatorServer's
