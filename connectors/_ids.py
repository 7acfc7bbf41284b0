"""Identifiers derived from idempotency keys, the same in every implementation."""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]")


def key_digest(key: str, length: int = 32) -> str:
    """A stable hexadecimal digest of an idempotency key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:length]


def message_id_for(key: str, address: str, secret: str = "") -> str:
    """The Message-ID of the message for ``key`` sent from ``address``: the same inputs
    always give the same id, so a retry finds the draft its first attempt made.

    The left part is a digest of the key and the account's ``secret`` (random, made once
    per account): the key holds contact ids we would rather not publish, and two people
    whose keys coincide (two students of one university) must never share an id. The
    right part is the sender's domain, lowercased and IDNA-encoded."""
    material = f"{secret}\x00{key}" if secret else key
    digest = hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]
    domain = address.rpartition("@")[2].strip().strip(".").lower()
    try:
        domain = domain.encode("idna").decode("ascii") if domain else ""
    except UnicodeError:
        domain = ""
    if not domain or not re.fullmatch(r"[a-z0-9.-]+", domain):
        domain = "outreach.invalid"
    return f"<outreach.{digest}@{domain}>"


def derived_message_id(key: str, address: str) -> str:
    """The Message-ID a draft gets when the pipeline did not set one (no secret known)."""
    return message_id_for(key, address)


def derived_uid(key: str) -> str:
    """The iCalendar UID of an event the pipeline writes without a uid of its own."""
    return f"outreach-{key_digest(key)}@outreach-pipeline"


def safe_name(text: str, limit: int = 120) -> str:
    """A file-name-safe rendering of ``text`` (for vdir hrefs); long names keep a digest."""
    cleaned = _UNSAFE.sub("_", text).lstrip(".") or "event"
    if len(cleaned) > limit or cleaned != text:
        cleaned = f"{cleaned[: limit - 17]}-{key_digest(text, 16)}"
    return cleaned
