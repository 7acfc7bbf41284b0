"""Messages the Gmail tests write and receive."""

from __future__ import annotations

from email.message import EmailMessage

from tests.google.conftest import ME

CONTACT = "ada@example.com"


def outreach(subject: str = "Informational interview?") -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Me <{ME}>"
    message["To"] = f"Ada <{CONTACT}>"
    message["Subject"] = subject
    message.set_content("Would you have 20 minutes for a chat?")
    return message


def inbound(n: int, parent: str | None = None, subject: str = "Hello") -> bytes:
    threading = f"In-Reply-To: {parent}\r\nReferences: {parent}\r\n" if parent else ""
    return (
        f"From: Sender {n} <s{n}@example.com>\r\nTo: {ME}\r\nSubject: {subject}\r\n"
        f"Message-ID: <in-{n}@example.com>\r\n{threading}\r\nBody {n}\r\n"
    ).encode()
