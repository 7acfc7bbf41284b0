"""How alike two messages read: the tie-break when a message the person sent could have
come from more than one of our drafts (same recipient, our key and Message-ID gone).

A message is reduced to a *fingerprint*: the 64 smallest hashes of its overlapping
three-word runs (subject and plain-text body, quoted lines left out, case and punctuation
ignored). Two fingerprints are compared by the share of the smallest hashes of their union
that both hold, an estimate of how much of the wording they share (a bottom-k MinHash).
A fingerprint keeps no readable text, so a step can carry its draft's without storing the
draft. Pure; never raises on odd mail.
"""

from __future__ import annotations

import email.policy
import re
import zlib
from email import message_from_bytes
from email.message import EmailMessage

SIZE = 64
_WORD = re.compile(r"\w+")


def fingerprint(subject: str, body: str) -> list[int]:
    """The fingerprint of a message's subject and body text (see the module docstring)."""
    lines = [line for line in body.splitlines() if not line.lstrip().startswith(">")]
    words = _WORD.findall(f"{subject}\n" + "\n".join(lines).casefold())
    runs = [" ".join(words[i : i + 3]) for i in range(max(len(words) - 2, 1))] if words else []
    return sorted({zlib.crc32(run.encode("utf-8")) for run in runs})[:SIZE]


def message_fingerprint(message: EmailMessage) -> list[int]:
    """The fingerprint of a parsed message (its plain-text part, else none)."""
    try:
        part = message.get_body(preferencelist=("plain",))
        body = part.get_content() if isinstance(part, EmailMessage) else ""
        return fingerprint(str(message.get("Subject", "")), str(body))
    except Exception:  # a body that cannot be decoded: the subject alone
        return fingerprint(str(message.get("Subject", "")), "")


def raw_fingerprint(raw: bytes) -> list[int]:
    """The fingerprint of a message's bytes."""
    parsed = message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return message_fingerprint(parsed)


def likeness(a: list[int], b: list[int]) -> float:
    """How much wording two fingerprints share, from 0 (nothing) to 1 (the same)."""
    if not a or not b:
        return 0.0
    union = sorted(set(a) | set(b))[:SIZE]
    both = set(a) & set(b)
    return sum(1 for value in union if value in both) / len(union)
