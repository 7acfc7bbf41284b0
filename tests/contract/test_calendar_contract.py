"""What every Calendar does, whatever stands behind it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from connectors.base import Attendee, Calendar, CalendarEvent, EventChange, EventChangeKind
from tests.contract.clients import CalendarWorld

World = tuple[Calendar, CalendarWorld]
START = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


def meeting(uid: str = "meet-1@booking.example.com", start: datetime = START) -> CalendarEvent:
    """A booked informational interview, as the contact's booking tool sends it."""
    return CalendarEvent(
        uid=uid,
        summary="Coffee chat: Ada / Me",
        start=start,
        end=start + timedelta(minutes=30),
        organizer="ada@example.com",
        attendees=(
            Attendee("ada@example.com", "Ada Lovelace", "ACCEPTED"),
            Attendee("me@example.org", None, "NEEDS-ACTION"),
        ),
        status="confirmed",
        location="https://meet.example.com/abc",
    )


def prep_notes(start: datetime = START - timedelta(minutes=30)) -> CalendarEvent:
    return CalendarEvent(
        uid="",
        summary="Prep: coffee chat with Ada",
        start=start,
        end=start + timedelta(minutes=15),
        organizer=None,
        attendees=(),
        description="Ask about the team's roadmap.\nMention the referral from Bob.",
    )


def kinds(changes: list[EventChange]) -> list[tuple[EventChangeKind, str]]:
    return [(c.kind, c.uid) for c in changes]


def test_implementation_satisfies_the_port(calendar: World) -> None:
    cal, _ = calendar
    assert isinstance(cal, Calendar)


def test_a_first_sync_reports_every_current_event(calendar: World) -> None:
    cal, world = calendar
    world.add_external(meeting())
    changes, cursor = cal.changes(None)
    assert [c.event for c in changes] == [meeting()]
    assert cal.changes(cursor)[0] == []


def test_put_event_is_idempotent_by_key(calendar: World) -> None:
    cal, _ = calendar
    _, cursor = cal.changes(None)
    first = cal.put_event(prep_notes(), "prep-1")
    second = cal.put_event(prep_notes(), "prep-1")
    assert first == second
    changes, _ = cal.changes(cursor)
    assert kinds(changes) == [(EventChangeKind.UPSERTED, first)]
    (event,) = [c.event for c in changes]
    assert event is not None
    assert event.key == "prep-1"
    assert event.description == prep_notes().description
    assert (event.start, event.end) == (prep_notes().start, prep_notes().end)


def test_a_second_put_moves_our_event(calendar: World) -> None:
    cal, _ = calendar
    uid = cal.put_event(prep_notes(), "prep-1")
    _, cursor = cal.changes(None)
    later = START + timedelta(days=1)
    assert cal.put_event(prep_notes(later), "prep-1") == uid
    changes, _ = cal.changes(cursor)
    assert [(c.kind, c.uid, c.event and c.event.start) for c in changes] == [
        (EventChangeKind.UPSERTED, uid, later)
    ]
    everything, _ = cal.changes(None)
    assert len(everything) == 1


def test_put_event_uses_the_callers_uid_for_a_new_event(calendar: World) -> None:
    cal, _ = calendar
    uid = cal.put_event(replace(prep_notes(), uid="prep-ada@outreach"), "prep-1")
    assert uid == "prep-ada@outreach"


def test_delete_event_removes_our_event(calendar: World) -> None:
    cal, _ = calendar
    uid = cal.put_event(prep_notes(), "prep-1")
    _, cursor = cal.changes(None)
    assert cal.delete_event("prep-1") is True
    assert cal.delete_event("prep-1") is False
    changes, cursor = cal.changes(cursor)
    assert kinds(changes) == [(EventChangeKind.DELETED, uid)]
    assert cal.changes(None)[0] == []


def test_an_external_event_is_reported_once(calendar: World) -> None:
    cal, world = calendar
    _, cursor = cal.changes(None)
    world.add_external(meeting())
    changes, cursor = cal.changes(cursor)
    assert [(c.kind, c.event) for c in changes] == [(EventChangeKind.UPSERTED, meeting())]
    assert cal.changes(cursor)[0] == []


def test_a_moved_external_event_is_reported(calendar: World) -> None:
    cal, world = calendar
    world.add_external(meeting())
    _, cursor = cal.changes(None)
    later = START + timedelta(hours=2)
    world.move(meeting().uid, later, later + timedelta(minutes=45))
    changes, _ = cal.changes(cursor)
    assert [(c.kind, c.event and (c.event.start, c.event.end)) for c in changes] == [
        (EventChangeKind.UPSERTED, (later, later + timedelta(minutes=45)))
    ]


def test_a_cancelled_event_is_reported_with_its_status(calendar: World) -> None:
    cal, world = calendar
    world.add_external(meeting())
    _, cursor = cal.changes(None)
    world.cancel(meeting().uid)
    changes, cursor = cal.changes(cursor)
    assert [(c.kind, c.uid, c.event and c.event.status) for c in changes] == [
        (EventChangeKind.UPSERTED, meeting().uid, "cancelled")
    ]
    assert cal.changes(cursor)[0] == []


def test_a_removed_external_event_is_reported_deleted(calendar: World) -> None:
    cal, world = calendar
    world.add_external(meeting())
    _, cursor = cal.changes(None)
    world.remove(meeting().uid)
    changes, _ = cal.changes(cursor)
    assert kinds(changes) == [(EventChangeKind.DELETED, meeting().uid)]


def test_times_are_utc(calendar: World) -> None:
    cal, world = calendar
    paris = timezone(timedelta(hours=1))
    world.add_external(meeting(start=datetime(2026, 12, 3, 16, 0, tzinfo=paris)))
    (change,) = cal.changes(None)[0]
    assert change.event is not None
    assert change.event.start == START
    assert change.event.start.utcoffset() == timedelta(0)


def test_an_old_cursor_reports_the_same_changes_again(calendar: World) -> None:
    cal, world = calendar
    _, cursor = cal.changes(None)
    world.add_external(meeting())
    first, _ = cal.changes(cursor)
    assert cal.changes(cursor)[0] == first


@pytest.mark.parametrize("cursor", ["bogus", "0.0"])
def test_an_unknown_cursor_acts_like_a_first_sync(calendar: World, cursor: str) -> None:
    cal, world = calendar
    world.add_external(meeting())
    changes, _ = cal.changes(cursor)
    assert kinds(changes) == [(EventChangeKind.UPSERTED, meeting().uid)]
