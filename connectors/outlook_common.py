"""What the Outlook mailbox and calendar share: the extended properties that mark our items,
the cursor codec, and small readers of Graph items."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors._mime import (
    msgids,
)

KEY_PROPERTY_ID = "String {6a1c0e2f-7d54-4a8b-9f3e-2c9d1b0a7e61} Name OutreachKey"
"""The single-value extended property carrying a step's key on our drafts and events."""
DISCARDED_PROPERTY_ID = "String {6a1c0e2f-7d54-4a8b-9f3e-2c9d1b0a7e61} Name OutreachDiscarded"
"""Set on our draft just before the pipeline deletes it: not the person's decline."""
UID_PROPERTY_ID = "String {6a1c0e2f-7d54-4a8b-9f3e-2c9d1b0a7e61} Name OutreachUid"
"""Our uid of an event we wrote (Graph's iCalUId cannot be set)."""
MESSAGE_FLAGS = "Integer 0x0E07"
"""PidTagMessageFlags: 1 (read, not unsent) makes a created message a received one."""
DIGEST_HEADER = "X-Outreach-Digest"

_FOLDERS = ("sentitems", "inbox", "drafts")
_MAIL_CURSOR = "outlook-mail-1:"
_RECENT = timedelta(days=30)
_CALENDAR_CURSOR = "outlook-calendar-1:"
_SELECT = (
    "id,internetMessageId,conversationId,receivedDateTime,sentDateTime,isDraft,"
    "internetMessageHeaders,toRecipients,ccRecipients,bccRecipients"
)
_PARTSTAT = {
    "accepted": "ACCEPTED",
    "organizer": "ACCEPTED",
    "declined": "DECLINED",
    "tentativelyAccepted": "TENTATIVE",
}


def _judged_url(provider_id: str) -> str:
    """What tells a sent draft from a deleted or discarded one, and whose it was."""
    return (
        f"/me/messages/{provider_id}?$select=id,isDraft,parentFolderId,internetMessageId,"
        "conversationId,lastModifiedDateTime&$expand=singleValueExtendedProperties("
        f"$filter=id eq '{KEY_PROPERTY_ID}' or id eq '{DISCARDED_PROPERTY_ID}')"
    )


def _marks_url(path: str) -> str:
    """An item with our key and uid properties only."""
    return (
        f"{path}?$select=id&$expand=singleValueExtendedProperties("
        f"$filter=id eq '{KEY_PROPERTY_ID}' or id eq '{UID_PROPERTY_ID}')"
    )


def _marks(item: Any) -> dict[str, Any]:
    """An item's extended properties by lower-cased id."""
    if not isinstance(item, dict):
        return {}
    return {
        str(p.get("id", "")).lower(): p.get("value")
        for p in item.get("singleValueExtendedProperties") or []
    }


def _key_filter(key: str) -> str:
    value = key.replace("'", "''")
    return (
        f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY_PROPERTY_ID}' "
        f"and ep/value eq '{value}')"
    )


def _encode(data: dict[str, Any], prefix: str) -> str:
    return prefix + base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _decode(cursor: str | None, prefix: str) -> dict[str, Any] | None:
    if not cursor or not cursor.startswith(prefix):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor[len(prefix) :]))
    except (ValueError, binascii.Error):
        return None
    return data if isinstance(data, dict) else None


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _headers(item: dict[str, Any]) -> dict[str, str]:
    return {
        str(h.get("name", "")).lower(): str(h.get("value", ""))
        for h in item.get("internetMessageHeaders") or []
    }


def _first(value: str | None) -> str | None:
    found = msgids(value)
    return found[0] if found else None
