"""Messages the Gmail tests write and receive."""

from __future__ import annotations

from tests.contract.clients import CONTACT, outreach
from tests.google.conftest import ME

__all__ = ["CONTACT", "inbound", "outreach"]


def inbound(n: int, parent: str | None = None, subject: str = "Hello") -> bytes:
    threading = f"In-Reply-To: {parent}\r\nReferences: {parent}\r\n" if parent else ""
    return (
        f"From: Sender {n} <s{n}@example.com>\r\nTo: {ME}\r\nSubject: {subject}\r\n"
        f"Message-ID: <in-{n}@example.com>\r\n{threading}\r\nBody {n}\r\n"
    ).encode()
