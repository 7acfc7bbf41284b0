"""A message context with every field a template reads, an envelope, and the text of a
rendered message: shared by the compose and template tests."""

from __future__ import annotations

import copy
import email.parser
import email.policy
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.compose import Envelope

NEW_YORK = ZoneInfo("America/New_York")
MEETING_START = datetime(2026, 12, 1, 16, 0, tzinfo=NEW_YORK)


def full_context() -> dict[str, Any]:
    """A context with every field any template reads."""
    me = {
        "name": "Ana Pérez",
        "first_name": "Ana",
        "email": "ana@example.edu",
        "background": "a third-year economics student at Lakeside University",
        "field": "urban planning",
        "intro": "I'm Ana, an economics student at Lakeside, curious how people get into planning.",
        "timezone": "America/New_York",
        "signature": "Ana Pérez\nLakeside University, class of 2028",
    }
    contact = {
        "first_name": "Jordan",
        "last_name": "Lee",
        "name": "Jordan Lee",
        "email": "jordan@city.example",
        "organization": "Metro Transit Authority",
        "role": "senior planner",
        "field": "transportation planning",
        "how_found": "the Lakeside alumni directory",
        "referred_by": "Maria Lopez",
        "timezone": "America/Chicago",
        "notes": "Led the 2024 bus network redesign.",
        "tags": ["alumni", "transit"],
        "custom": {"school": "Lakeside", "connected_on": "2025-01-02"},
    }
    referrer = {
        **contact,
        "first_name": "Maria",
        "last_name": "Lopez",
        "name": "Maria Lopez",
        "email": "maria@example.org",
        "referred_by": None,
    }
    meeting = {
        "start": MEETING_START,
        "end": MEETING_START + timedelta(minutes=30),
        "minutes": 30,
        "location": "Zoom, link in the invitation",
    }
    summary = {"name": "Jordan Lee", "first_name": "Jordan"}
    return {
        "me": me,
        "contact": contact,
        "referrer": referrer,
        "referred": copy.deepcopy(contact),
        "meeting": meeting,
        "notes": "Take the GIS course next term and join the neighborhood board.",
        "step": {"kind": "first", "seq": 0},
        "thread": {"original_subject": "Could I ask you about your work?"},
        "proposed_times": [MEETING_START, MEETING_START + timedelta(days=1)],
        "stage": "exploring",
        "day": date(2026, 12, 1),
        "drafts": [
            {"contact": summary, "kind": "nudge_1", "created_at": MEETING_START, "since_days": 2}
        ],
        "replies": [
            {
                "contact": summary,
                "received_at": MEETING_START,
                "intent": "positive",
                "excerpt": "Happy to talk next week.",
            }
        ],
        "meetings_today": [
            {
                "contact": summary,
                "start": MEETING_START,
                "end": MEETING_START + timedelta(minutes=30),
                "prep_notes": "...",
            }
        ],
        "meetings_week": [],
        "thank_yous": [{"contact": summary, "deadline": MEETING_START + timedelta(days=1)}],
        "bounces": [{"contact": summary, "email": "old@city.example"}],
        "returning": [{"contact": summary, "return_date": date(2026, 12, 7)}],
        "funnel": {"sent": 4, "replied": 2, "met": 1},
        "accounts_needing_auth": [],
    }


def envelope(**changes: Any) -> Envelope:
    fields: dict[str, Any] = {
        "sender": ("Ana Pérez", "ana@example.edu"),
        "to": ("Jordan Lee", "jordan@city.example"),
        "key": "acct1/contact42/first/0",
        "date": MEETING_START,
    }
    fields.update(changes)
    return Envelope(**fields)


def parse(message: EmailMessage) -> EmailMessage:
    """Serialize to bytes and parse back, as a mail client would."""
    parsed = email.parser.BytesParser(policy=email.policy.default).parsebytes(message.as_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


def text_of(message: EmailMessage) -> str:
    """The decoded text/plain body with plain newlines."""
    part = parse(message).get_body(preferencelist=("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")
