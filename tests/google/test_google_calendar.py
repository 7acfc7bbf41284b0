"""Google Calendar on the emulator: sync tokens, resyncs, our events' idempotency, errors."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from connectors._google_http import pin_refresh
from connectors.base import CalendarEvent, EventChangeKind
from connectors.google_calendar import GoogleCalendar
from pipeline.errors import AuthError, TransientError
from tests.emulators.google import GoogleEmulator, authorized_http
from tests.google.conftest import ME, Sleeps

START = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


@pytest.fixture
def cal(emulator: GoogleEmulator, sleeps: Sleeps) -> Iterator[GoogleCalendar]:
    calendar = GoogleCalendar(authorized_http(emulator), sleep=sleeps)
    yield calendar
    calendar.close()


def booking(uid: str, start: datetime = START, **extra: object) -> dict[str, object]:
    return {
        "iCalUID": uid,
        "summary": "Coffee chat",
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + timedelta(minutes=30)).isoformat()},
        "organizer": {"email": "ada@example.com", "displayName": "Ada"},
        **extra,
    }


def prep(start: datetime = START - timedelta(minutes=30)) -> CalendarEvent:
    return CalendarEvent(
        uid="",
        summary="Prep",
        start=start,
        end=start + timedelta(minutes=15),
        organizer=None,
        attendees=(),
        description="Ask about the roadmap.",
    )


def test_attendee_answers_become_partstats(emulator: GoogleEmulator, cal: GoogleCalendar) -> None:
    emulator.add_event(
        booking(
            "b1@x",
            attendees=[
                {"email": "ada@example.com", "responseStatus": "accepted"},
                {"email": ME, "responseStatus": "tentative", "self": True},
                {"email": "bob@example.com", "responseStatus": "declined"},
                {"email": "room@resource.example.com", "resource": True},
            ],
        )
    )
    (change,) = cal.changes(None)[0]
    assert change.event is not None
    assert [(a.email, a.partstat) for a in change.event.attendees] == [
        ("ada@example.com", "ACCEPTED"),
        (ME, "TENTATIVE"),
        ("bob@example.com", "DECLINED"),
    ]
    assert change.event.organizer == "ada@example.com"


def test_all_day_events_are_not_meetings(emulator: GoogleEmulator, cal: GoogleCalendar) -> None:
    emulator.add_event(
        {
            "iCalUID": "holiday@x",
            "summary": "Holiday",
            "start": {"date": "2026-12-24"},
            "end": {"date": "2026-12-25"},
        }
    )
    emulator.add_event(booking("b1@x"))
    assert [c.uid for c in cal.changes(None)[0]] == ["b1@x"]


def test_an_expired_sync_token_means_a_full_sync(
    emulator: GoogleEmulator, cal: GoogleCalendar
) -> None:
    emulator.add_event(booking("b1@x"))
    _, cursor = cal.changes(None)
    emulator.add_event(booking("b2@x"))
    emulator.expire_sync_tokens()
    changes, cursor = cal.changes(cursor)
    assert sorted((c.kind, c.uid) for c in changes) == [
        (EventChangeKind.UPSERTED, "b1@x"),
        (EventChangeKind.UPSERTED, "b2@x"),
    ]
    assert [r.status for r in emulator.calls("calendar")][-2:] == [410, 200]
    emulator.move_event("b2@x", START + timedelta(days=1), START + timedelta(days=1, hours=1))
    assert [c.uid for c in cal.changes(cursor)[0]] == ["b2@x"]


def test_every_page_is_read(emulator: GoogleEmulator, sleeps: Sleeps) -> None:
    calendar = GoogleCalendar(authorized_http(emulator), sleep=sleeps, page_size=2)
    for n in range(5):
        emulator.add_event(booking(f"b{n}@x"))
    changes, cursor = calendar.changes(None)
    assert len(changes) == 5
    for n in range(3):
        emulator.cancel_event(f"b{n}@x")
    changes, _ = calendar.changes(cursor)
    assert [(c.uid, c.event and c.event.status) for c in changes] == [
        (f"b{n}@x", "cancelled") for n in range(3)
    ]
    assert len(emulator.calls("calendar")) == 3 + 2
    calendar.close()


def test_put_event_after_a_lost_answer_leaves_one_event(
    emulator: GoogleEmulator, cal: GoogleCalendar, sleeps: Sleeps
) -> None:
    emulator.drop_next(match="events.insert", after=True)
    uid = cal.put_event(prep(), "prep-1")
    assert [e["iCalUID"] for e in emulator.events()] == [uid]
    assert len(sleeps) == 1
    inserts = [c for c in emulator.calls("calendar") if c.method_name == "calendar.events.insert"]
    assert "id" not in json.loads(inserts[0].body)  # the iCalUID only


def test_the_emulator_refuses_an_insert_with_both_id_and_ical_uid(
    emulator: GoogleEmulator, cal: GoogleCalendar
) -> None:
    """Google takes an event id or an iCalUID at creation, not both."""
    from googleapiclient.errors import HttpError

    with pytest.raises(HttpError) as caught:
        cal._events.insert(
            calendarId="primary",
            body={**booking("both@x"), "id": "outreach0123456789"},
        ).execute()
    assert caught.value.resp.status == 400


def test_put_event_after_delete_brings_our_event_back(
    emulator: GoogleEmulator, cal: GoogleCalendar
) -> None:
    uid = cal.put_event(prep(), "prep-1")
    assert cal.delete_event("prep-1") is True
    assert cal.put_event(prep(START), "prep-1") == uid
    (event,) = emulator.events()
    assert event["status"] == "confirmed"
    assert event["start"]["dateTime"].startswith("2026-12-03T15:00")


def test_a_429_is_retried_after_its_retry_after(
    emulator: GoogleEmulator, cal: GoogleCalendar, sleeps: Sleeps
) -> None:
    emulator.fail_next(429, match="events.list", retry_after=2)
    emulator.add_event(booking("b1@x"))
    assert len(cal.changes(None)[0]) == 1
    assert sleeps == [2.0]


def test_a_revoked_grant_is_an_auth_error(
    emulator: GoogleEmulator, cal: GoogleCalendar, sleeps: Sleeps
) -> None:
    emulator.revoke_refresh_token()
    with pytest.raises(AuthError):
        cal.put_event(prep(), "prep-1")
    assert sleeps == []


def test_the_emulator_answers_calendar_batches(
    emulator: GoogleEmulator, cal: GoogleCalendar
) -> None:
    """The real client's batch request on /batch/calendar/v3, answered part by part."""
    from googleapiclient.discovery import build

    http = authorized_http(emulator)
    pin_refresh(http)  # else the client refreshes inside a batch with a bare httplib2.Http()
    service = build("calendar", "v3", http=http, static_discovery=True)
    answers: dict[str, object] = {}
    batch = service.new_batch_http_request(
        callback=lambda rid, response, error: answers.__setitem__(rid, error or response["iCalUID"])
    )
    for n in range(2):
        batch.add(
            service.events().insert(calendarId="primary", body=booking(f"b{n}@x")),
            request_id=f"r{n}",
        )
    batch.add(service.events().delete(calendarId="primary", eventId="nosuchevent"), request_id="r2")
    batch.execute()
    service.close()
    assert answers["r0"] == "b0@x" and answers["r1"] == "b1@x"
    assert getattr(answers["r2"], "status_code", None) == 404
    assert [r.path for r in emulator.api_requests("calendar")] == ["/batch/calendar/v3"]
    assert sorted(c.uid for c in cal.changes(None)[0]) == ["b0@x", "b1@x"]


def test_the_emulator_adds_latency_and_enforces_a_calendar_quota(sleeps: Sleeps) -> None:
    with GoogleEmulator(ME, latency=0.05, calendar_per_second=2) as emulator:
        calendar = GoogleCalendar(authorized_http(emulator), sleep=sleeps)
        started = time.perf_counter()
        calendar.changes(None)
        assert time.perf_counter() - started >= 0.1  # the token request and the list
        with pytest.raises(TransientError) as caught:  # the sleeps here do not wait
            calendar.put_event(prep(), "prep-1")  # a lookup and an insert: over 2 a second
        assert caught.value.retry_after == 1
        assert 429 in [r.status for r in emulator.calls("calendar")]
        assert sleeps == [1.0, 1.0, 1.0]
        calendar.close()
