"""Reading Gmail's answers for ``connectors.gmail``: pure functions, no HTTP.

- ``Cursor``: what ``changes()`` hands back (history id, the newest ``internalDate`` seen,
  digests of the keys already reported).
- ``Meta``: what one message told about itself, read from a ``format=raw`` answer (the
  headers parsed out of the raw bytes, which are kept for ``fetch_raw``) or from a
  ``format=metadata`` one.
- ``candidates``: which messages a page of history records may have made new in INBOX or
  SENT. Google's API definition says the messages inside history records "typically"
  carry only ``id`` and ``threadId``, so their ``labelIds`` are never read: every message
  added is a candidate (its labels come from the fetch), as is one whose ``labelsAdded``
  names SENT or INBOX (a scheduled message that went out, mail moved back to the inbox)
  or whose ``labelsRemoved`` names DRAFT or SCHEDULED (a draft turned into a sent
  message under the same id). The ``labelIds`` of a ``labelsAdded``/``labelsRemoved``
  item are the labels that changed (documented), not the message's labels; an item
  without them is a candidate too.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from typing import Any

from connectors._mime import Headers, headers_of
from connectors.base import KEY_HEADER, MailChange, MailChangeKind

DIGEST_HEADER = "X-Outreach-Digest"
"""Marks the digest ``deliver_to_self`` inserted, so that ``changes()`` does not report it."""

METADATA_HEADERS = [
    "Message-ID",
    "In-Reply-To",
    "References",
    KEY_HEADER,
    DIGEST_HEADER,
    "From",
    "Date",
    "To",
    "Cc",
    "Bcc",
]
HISTORY_TYPES = ["messageAdded", "messageDeleted", "labelAdded", "labelRemoved"]
SCHEDULED = "SCHEDULED"
"""The label of a message the person scheduled to send later (it carries neither DRAFT
nor SENT until it goes out)."""

_CURSOR_PREFIX = "gmail1:"
_HEADERS = BytesHeaderParser(policy=policy.compat32)
_WATCHED_ADDED = frozenset({"SENT", "INBOX"})
_WATCHED_REMOVED = frozenset({"DRAFT", SCHEDULED})


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Cursor:
    history_id: str
    mark: int  # the newest internalDate (ms) seen: a resync reports only what is newer
    done: tuple[str, ...]  # digests of keys already reported SENT or DRAFT_DELETED

    def encode(self) -> str:
        data = {"v": 1, "h": self.history_id, "w": self.mark, "done": list(self.done)}
        return _CURSOR_PREFIX + json.dumps(data, separators=(",", ":"))

    @classmethod
    def decode(cls, cursor: str | None) -> Cursor | None:
        if not cursor or not cursor.startswith(_CURSOR_PREFIX):
            return None
        try:
            data = json.loads(cursor[len(_CURSOR_PREFIX) :])
            history_id, mark, done = str(data["h"]), int(data["w"]), data["done"]
        except (ValueError, KeyError, TypeError):
            return None
        if data.get("v") != 1 or not history_id.isdigit() or not isinstance(done, list):
            return None
        return cls(history_id, mark, tuple(str(d) for d in done))


@dataclass(frozen=True)
class Meta:
    """What Gmail told about one message."""

    id: str
    thread_id: str
    labels: frozenset[str]
    headers: Headers
    sender: str | None
    digest: bool
    millis: int
    history_id: int = 0  # the last history record that touched it

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.millis / 1000, UTC)

    @property
    def reportable(self) -> bool:
        """In INBOX or SENT, and neither a draft nor waiting to be sent."""
        return bool(self.labels & _WATCHED_ADDED) and not self.labels & {"DRAFT", SCHEDULED}

    def change(self, kind: MailChangeKind, key: str | None) -> MailChange:
        return MailChange(
            kind=kind,
            provider_id=self.id,
            message_id=self.headers.message_id,
            thread_id=self.thread_id,
            in_reply_to=self.headers.in_reply_to,
            references=self.headers.references,
            key=key,
            at=self.at,
            recipients=self.headers.recipients,
        )


def _meta(data: Mapping[str, Any], block: bytes) -> Meta:
    """``block``: the message's header block (or the whole raw message)."""
    parsed = _HEADERS.parsebytes(block)
    senders = getaddresses([str(parsed.get("From") or "")])
    return Meta(
        id=data["id"],
        thread_id=data["threadId"],
        labels=frozenset(data.get("labelIds") or ()),
        headers=headers_of(parsed),
        sender=senders[0][1].lower() if senders and senders[0][1] else None,
        digest=parsed.get(DIGEST_HEADER) is not None,
        millis=int(data.get("internalDate") or 0),
        history_id=int(data.get("historyId") or 0),
    )


def meta_of_metadata(data: Mapping[str, Any]) -> Meta:
    """A ``format=metadata`` (or ``threads.get``) message."""
    payload = data.get("payload") or {}
    lines = [f"{h['name']}: {h['value']}" for h in payload.get("headers", [])]
    block = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace")
    return _meta(data, block)


def meta_of_raw(data: Mapping[str, Any]) -> tuple[Meta, bytes]:
    """A ``format=raw`` message, and its bytes."""
    raw = unb64(data["raw"])
    return _meta(data, raw), raw


@dataclass(frozen=True)
class HistoryDigest:
    """What a run of history records says: the messages that may be new in INBOX or SENT
    (id -> thread id, in the order first seen), those among them whose labels changed,
    and those deleted (id -> thread id)."""

    added: dict[str, str]
    relabelled: set[str]
    deleted: dict[str, str]


def candidates(records: Iterable[Mapping[str, Any]]) -> HistoryDigest:
    added: dict[str, str] = {}
    relabelled: set[str] = set()
    deleted: dict[str, str] = {}
    for record in records:
        for item in record.get("messagesAdded", []):
            added.setdefault(item["message"]["id"], item["message"]["threadId"])
        for field, watched in (
            ("labelsAdded", _WATCHED_ADDED),
            ("labelsRemoved", _WATCHED_REMOVED),
        ):
            for item in record.get(field, []):
                changed = item.get("labelIds")
                if changed is None or watched & set(changed):
                    added.setdefault(item["message"]["id"], item["message"]["threadId"])
                    relabelled.add(item["message"]["id"])
        for item in record.get("messagesDeleted", []):
            deleted[item["message"]["id"]] = item["message"]["threadId"]
    return HistoryDigest(added, relabelled, deleted)
