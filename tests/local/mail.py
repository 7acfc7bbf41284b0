"""What the local-account tests write and read: our address, a first outreach, a reply as
the sync tool delivers it, and a settable clock."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

ME = "me@example.org"


def outreach(subject: str = "Informational interview?") -> EmailMessage:
    message = EmailMessage()
    message["From"] = ME
    message["To"] = "ada@example.com"
    message["Subject"] = subject
    message.set_content("Would you have 20 minutes?")
    return message


def inbound(n: int = 1, body: str = "Sure!") -> bytes:
    return (
        f"From: ada@example.com\nTo: {ME}\nSubject: Re: hello\n"
        f"Message-ID: <in-{n}@example.com>\n\n{body}\n"
    ).encode()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now
