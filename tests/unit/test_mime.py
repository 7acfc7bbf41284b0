"""Preparing a draft copies the message: the caller's message is never changed."""

from __future__ import annotations

from email.message import EmailMessage

from connectors._mime import prepare_draft
from connectors.base import ThreadRef


def test_prepare_draft_adds_our_headers_to_a_copy_only() -> None:
    original = EmailMessage()
    original["To"] = "dana@example.org"
    original["Subject"] = "Re: hello"
    original.set_content("Thank you!")
    before = bytes(original)
    draft = prepare_draft(
        original, "acct/1/nudge/1", ThreadRef("t1", "<root@example.org>"), "me@example.edu"
    )
    assert bytes(original) == before
    assert draft["X-Outreach-Key"] == "acct/1/nudge/1"
    assert draft["In-Reply-To"] == "<root@example.org>"
    assert draft["References"] == "<root@example.org>"
    assert draft["Message-ID"]
    assert draft.get_content() == original.get_content()
