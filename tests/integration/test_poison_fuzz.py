"""Fuzzing the storage path: whatever headers, identifiers and dates arrive, a tick
stores what it can, skips what it cannot, moves its cursors on, and never raises (SQLite
and PostgreSQL). Inbound understanding itself is fuzzed in unit/test_inbound_fuzz.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import Attendee, CalendarEvent
from tests.harness import World, started_world

START = datetime(2026, 12, 8, 16, 0, tzinfo=UTC)
CONTACTS = """name,email,organization,role,how_found
Dana Kim,dana.kim@example.org,County Health Department,epidemiologist,the staff page
"""
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Text the way hostile or careless mail carries it: long runs, NULs, other controls,
# characters outside the Basic Multilingual Plane, lone angle brackets.
odd_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from("x\x00\x01<>@\u00e9\U0001f600 \t"), max_size=40),
    st.integers(min_value=490, max_value=2000).map(lambda n: "<" + "y" * n + "@example.org>"),
)
extreme_times = st.one_of(
    st.datetimes(timezones=st.just(UTC)),  # anywhere from year 1 to 9999
    st.sampled_from(
        [
            datetime(1, 1, 1, tzinfo=UTC),
            datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
            datetime(1969, 12, 31, 23, 59, tzinfo=UTC),
            datetime(2200, 1, 1, tzinfo=UTC),
        ]
    ),
)


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    with started_world(tmp_path, database_url, START, CONTACTS) as made:
        made.tick()
        yield made


def _header(value: str) -> str:
    # A header line cannot hold a line break; everything else may arrive as it is.
    return value.replace("\r", " ").replace("\n", " ")


@FUZZ
@given(
    message_id=odd_text,
    in_reply_to=odd_text,
    sender=odd_text,
    subject=odd_text,
    date=extreme_times,
    body=st.text(max_size=300),
)
def test_any_headers_and_dates_in_mail_leave_the_tick_standing(
    world: World,
    message_id: str,
    in_reply_to: str,
    sender: str,
    subject: str,
    date: datetime,
    body: str,
) -> None:
    """A message with any identifiers, sender, subject and date is stored or skipped, the
    cursor moves past it, and a real reply arriving next is still read."""
    headers = [
        f"From: {_header(sender)}",
        "To: ada@example.edu",
        f"Subject: {_header(subject)}",
        f"Date: {date:%a, %d %b %Y %H:%M:%S} +0000" if date.year > 1900 else "Date: whenever",
        f"Message-ID: {_header(message_id)}",
        f"In-Reply-To: {_header(in_reply_to)}",
    ]
    raw = ("\r\n".join(headers) + "\r\n\r\n" + body).encode("utf-8", "surrogatepass")
    world.mailbox.receive(raw, at=world.clock())
    first = world.tick()
    assert first.inbound + first.unreadable == 1, first
    assert world.tick().inbound == 0  # the cursor moved on


@FUZZ
@given(uid=odd_text, start=extreme_times, length=st.sampled_from([0, 30, 10**6, 10**9]))
def test_any_uid_and_times_in_a_calendar_leave_the_tick_standing(
    world: World, uid: str, start: datetime, length: int
) -> None:
    """An event with any UID and any times (to the ends of what datetime holds) is booked,
    ignored or skipped with a reason; the next tick sees nothing new."""
    try:
        end = start + timedelta(minutes=length)
    except OverflowError:
        end = datetime.max.replace(tzinfo=UTC)
    world.calendar.add_external_event(
        CalendarEvent(
            uid=uid or "empty",
            summary="chat",
            start=start,
            end=end,
            organizer="dana.kim@example.org",
            attendees=(Attendee("ada@example.edu", "Ada Park", "ACCEPTED"),),
        )
    )
    world.tick()
    world.clock.advance(minutes=1)
    assert world.tick().meetings == 0
