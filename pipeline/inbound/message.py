"""One parsed message and what every step of understanding reads from it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any

from pipeline.inbound.mime import all_text, bodies, header, html_to_text, sender
from pipeline.inbound.quotes import trim_reply


@dataclass
class Mail:
    """One parsed message and its texts (the costly ones computed on first use)."""

    msg: Message
    subject: str
    from_address: str
    plain: str
    html: str
    visible: str
    base: dict[str, Any]  # the Inbound fields every kind carries
    _everything: str | None = None
    _new_text: str | None = None

    def new_text(self) -> str:
        """The new text of a reply: quotes and signature removed (computed on first use)."""
        if self._new_text is None:
            source = self.plain if self.plain.strip() else html_to_text(self.html)
            self._new_text = trim_reply(source)
        return self._new_text

    def everything(self) -> str:
        """All readable text, attached mail included (computed on first use)."""
        if self._everything is None:
            self._everything = all_text(self.msg)
        return self._everything


def message_date(msg: Message) -> datetime | None:
    """The Date header as an aware datetime (UTC when it names no zone), or None."""
    value = header(msg, "Date")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _ids(value: str) -> tuple[str, ...]:
    return tuple(re.findall(r"<[^<>\s]+>", value))


def read_mail(msg: Message) -> Mail:
    """The texts and thread fields of a parsed message."""
    from_name, from_address = sender(msg)
    subject = header(msg, "Subject")
    plain, html = bodies(msg)
    return Mail(
        msg=msg,
        subject=subject,
        from_address=from_address,
        plain=plain,
        html=html,
        visible=plain if plain.strip() else html_to_text(html, drop_quotes=False),
        base={
            "message_id": (_ids(header(msg, "Message-ID")) or (None,))[0],
            "in_reply_to": (_ids(header(msg, "In-Reply-To")) or (None,))[0],
            "references": _ids(header(msg, "References")),
            "subject": subject,
            "from_address": from_address or None,
            "from_name": from_name or None,
            "date": message_date(msg),
        },
    )
