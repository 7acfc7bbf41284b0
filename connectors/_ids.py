"""Identifiers derived from idempotency keys, the same in every implementation."""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]")


def key_digest(key: str, length: int = 32) -> str:
    """A stable hexadecimal digest of an idempotency key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:length]


def derived_message_id(key: str, address: str) -> str:
    """The Message-ID a draft gets when the pipeline did not set one: stable per key."""
    domain = address.rpartition("@")[2] or "outreach.invalid"
    return f"<outreach.{key_digest(key)}@{domain}>"


def derived_uid(key: str) -> str:
    """The iCalendar UID of an event the pipeline writes without a uid of its own."""
    return f"outreach-{key_digest(key)}@outreach-pipeline"


def safe_name(text: str, limit: int = 120) -> str:
    """A file-name-safe rendering of ``text`` (for vdir hrefs); long names keep a digest."""
    cleaned = _UNSAFE.sub("_", text).lstrip(".") or "event"
    if len(cleaned) > limit or cleaned != text:
        cleaned = f"{cleaned[: limit - 17]}-{key_digest(text, 16)}"
    return cleaned
