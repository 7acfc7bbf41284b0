"""Pure helpers on RFC 5322 messages shared by the mailbox implementations."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses, make_msgid, parsedate_to_datetime

from connectors._ids import derived_message_id
from connectors.base import KEY_HEADER, ThreadRef
from pipeline.errors import PermanentError

_MSGID = re.compile(r"<[^<>\s]+>")
_HEADER_PARSER = BytesHeaderParser(policy=policy.compat32)


@dataclass(frozen=True)
class Headers:
    """The headers the connectors care about, read without parsing the body."""

    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    key: str | None
    date: datetime | None
    recipients: tuple[str, ...] = ()


def msgids(value: str | None) -> tuple[str, ...]:
    """The Message-IDs (with angle brackets) in a header value, in order."""
    return tuple(_MSGID.findall(value or ""))


def _first_msgid(value: str | None) -> str | None:
    found = msgids(value)
    return found[0] if found else None


def parse_date(value: str | None) -> datetime | None:
    """An aware UTC datetime from a Date header, None when absent or unreadable."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):  # e.g. year 9999 at -0100
        return None


def _text(message: Message, name: str) -> str | None:
    value = message.get(name)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def read_headers(raw: bytes) -> Headers:
    """Parse the threading headers and our key out of raw message bytes (headers only)."""
    message = _HEADER_PARSER.parsebytes(raw)
    return headers_of(message)


def headers_of(message: Message) -> Headers:
    """The threading headers and our key of a parsed message."""
    return Headers(
        message_id=_first_msgid(_text(message, "Message-ID")),
        in_reply_to=_first_msgid(_text(message, "In-Reply-To")),
        references=msgids(_text(message, "References")),
        key=_text(message, KEY_HEADER),
        date=parse_date(_text(message, "Date")),
        recipients=recipients_of(message),
    )


def recipients_of(message: Message) -> tuple[str, ...]:
    """The addresses a message is written to (To, Cc, Bcc), lowercased, in order, once."""
    values = [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name) or ()]
    found: dict[str, None] = {}
    for _, address in getaddresses(values):
        address = address.strip().lower()
        if "@" in address:
            found.setdefault(address)
    return tuple(found)


def prepare_draft(
    message: EmailMessage, key: str, thread: ThreadRef | None, address: str
) -> EmailMessage:
    """A copy of ``message`` ready to store as our draft (the original is left alone).

    Adds ``X-Outreach-Key``, a Message-ID derived from the key when there is none, and for
    a reply In-Reply-To and References (the parent appended) when the message lacks them.
    """
    if not isinstance(message, EmailMessage):
        raise PermanentError("a draft must be an email.message.EmailMessage")
    # Only headers change below: a shallow copy with its own header list leaves the original
    # alone at a fraction of deepcopy's cost (the body parts are shared, never modified).
    draft = copy.copy(message)
    draft._headers = list(message._headers)  # type: ignore[attr-defined]
    del draft[KEY_HEADER]
    draft[KEY_HEADER] = key
    if not _first_msgid(_text(draft, "Message-ID")):
        del draft["Message-ID"]
        draft["Message-ID"] = derived_message_id(key, address)
    if thread is not None and thread.in_reply_to:
        if not _text(draft, "In-Reply-To"):
            draft["In-Reply-To"] = thread.in_reply_to
        if not _text(draft, "References"):
            chain = list(thread.references)
            if thread.in_reply_to not in chain:
                chain.append(thread.in_reply_to)
            draft["References"] = " ".join(chain)
    return draft


def to_bytes(message: EmailMessage) -> bytes:
    """Serialise a message as RFC 5322 bytes with LF line ends, as Maildir files have."""
    try:
        return message.as_bytes(policy=message.policy.clone(linesep="\n"))
    except (TypeError, ValueError, UnicodeError) as err:
        raise PermanentError(f"the message cannot be serialised: {err}") from err


def ensure_self_only(message: EmailMessage, address: str) -> None:
    """Refuse (PermanentError) a message addressed to anyone but ``address``."""
    to = [addr for _, addr in getaddresses([str(v) for v in message.get_all("To", [])])]
    others = [
        addr
        for name in ("Cc", "Bcc")
        for _, addr in getaddresses([str(v) for v in message.get_all(name, [])])
    ]
    own = address.strip().lower()
    if not to or any(addr.strip().lower() != own for addr in to) or others:
        raise PermanentError(
            "deliver_to_self only delivers to the person's own address "
            f"({address}); this message has other or no recipients"
        )


def ensure_delivery_headers(message: EmailMessage, address: str, now: datetime) -> EmailMessage:
    """A copy of a self-addressed message with Message-ID and Date filled in if missing."""
    copied = copy.deepcopy(message)
    if not _text(copied, "Message-ID"):
        copied["Message-ID"] = make_msgid(domain=address.rpartition("@")[2] or None)
    if not _text(copied, "Date"):
        copied["Date"] = now
    return copied
