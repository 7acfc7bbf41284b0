"""vdir specifics: time zones, ends, all-day and broken files, what is parsed when."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import IO

import pytest

from connectors.base import KEY_PROPERTY, CalendarEvent, EventChangeKind
from connectors.vdir import STATE_FILE, IcsSkipped, VdirCalendar, parse_event
from tests.conftest import require_corpus


def ics(*lines: str, before: tuple[str, ...] = ()) -> bytes:
    body = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//tests//EN",
        *before,
        "BEGIN:VEVENT",
        "DTSTAMP:20261101T000000Z",
        *lines,
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    return "\r\n".join(body).encode()


class CountingOpener:
    def __init__(self) -> None:
        self.opened: list[str] = []

    def __call__(self, path: Path) -> IO[bytes]:
        self.opened.append(path.name)
        return path.open("rb")

    def events(self) -> list[str]:
        return [name for name in self.opened if name != STATE_FILE]


@pytest.fixture
def opener() -> CountingOpener:
    return CountingOpener()


@pytest.fixture
def cal(tmp_path: Path, opener: CountingOpener) -> VdirCalendar:
    return VdirCalendar(tmp_path, opener=opener)


@pytest.mark.parametrize(
    ("tzid", "expected_utc_hour"),
    [
        ("W. Europe Standard Time", 8),  # Europe/Berlin, summer time
        ("Pacific Standard Time", 17),  # America/Los_Angeles, daylight time
        ("Europe/Berlin", 8),
        ("India Standard Time", 4),  # Asia/Kolkata, +05:30
        ('"(UTC-05:00) Eastern Time (US & Canada)"', 14),  # Outlook's display name, EDT
    ],
)
def test_tzid_names_are_resolved_to_utc(tzid: str, expected_utc_hour: int) -> None:
    event = parse_event(
        ics("UID:a", f"DTSTART;TZID={tzid}:20260710T100000", f"DTEND;TZID={tzid}:20260710T110000")
    )
    assert event.start.utcoffset() == timedelta(0)
    assert event.start.hour == expected_utc_hour
    assert event.end - event.start == timedelta(hours=1)


def test_a_vtimezone_in_the_file_is_used() -> None:
    vtimezone = (
        "BEGIN:VTIMEZONE",
        "TZID:Company Time",
        "BEGIN:STANDARD",
        "DTSTART:16010101T000000",
        "TZOFFSETFROM:+0300",
        "TZOFFSETTO:+0300",
        "END:STANDARD",
        "END:VTIMEZONE",
    )
    event = parse_event(
        ics(
            "UID:a",
            "DTSTART;TZID=Company Time:20261203T120000",
            "DTEND;TZID=Company Time:20261203T130000",
            before=vtimezone,
        )
    )
    assert event.start == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_a_floating_time_is_read_in_the_default_zone() -> None:
    data = ics("UID:a", "DTSTART:20261203T120000", "DTEND:20261203T130000")
    event = parse_event(data, default_tz=timezone(timedelta(hours=2)))
    assert event.start == datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def test_duration_stands_in_for_a_missing_end() -> None:
    event = parse_event(ics("UID:a", "DTSTART:20261203T120000Z", "DURATION:PT45M"))
    assert event.end == datetime(2026, 12, 3, 12, 45, tzinfo=UTC)


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (("UID:a", "DTSTART:20261203T120000Z"), "without an end"),
        (("UID:a", "DTSTART;VALUE=DATE:20261203", "DTEND;VALUE=DATE:20261204"), "all-day"),
        (("UID:a", "DTEND:20261203T120000Z"), "DTSTART"),
    ],
)
def test_events_that_are_not_meetings_are_skipped(lines: tuple[str, ...], reason: str) -> None:
    with pytest.raises(IcsSkipped, match=reason):
        parse_event(ics(*lines))


def test_attendees_organizer_status_and_key_are_read() -> None:
    event = parse_event(
        ics(
            "UID:meet-1",
            "SUMMARY:Coffee chat",
            "DTSTART:20261203T150000Z",
            "DTEND:20261203T153000Z",
            "STATUS:TENTATIVE",
            "ORGANIZER;CN=Ada:MAILTO:ada@example.com",
            "ATTENDEE;CN=Ada Lovelace;PARTSTAT=ACCEPTED:mailto:ada@example.com",
            "ATTENDEE;PARTSTAT=DECLINED:mailto:bob@example.com",
            "ATTENDEE:mailto:me@example.org",
            f"{KEY_PROPERTY}:prep-1",
        )
    )
    assert (event.uid, event.summary, event.status, event.organizer, event.key) == (
        "meet-1",
        "Coffee chat",
        "tentative",
        "ada@example.com",
        "prep-1",
    )
    assert [(a.email, a.name, a.partstat) for a in event.attendees] == [
        ("ada@example.com", "Ada Lovelace", "ACCEPTED"),
        ("bob@example.com", None, "DECLINED"),
        ("me@example.org", None, "NEEDS-ACTION"),
    ]


def test_a_recurring_event_is_read_from_its_master() -> None:
    data = ics(
        "UID:weekly",
        "DTSTART:20261203T150000Z",
        "DTEND:20261203T153000Z",
        "RRULE:FREQ=WEEKLY",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "DTSTAMP:20261101T000000Z",
        "UID:weekly",
        "RECURRENCE-ID:20261210T150000Z",
        "DTSTART:20261210T160000Z",
        "DTEND:20261210T163000Z",
    )
    assert parse_event(data).start == datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


def test_skipped_files_are_logged_by_name_and_others_still_reported(
    tmp_path: Path, cal: VdirCalendar, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "broken.ics").write_bytes(b"BEGIN:VCALENDAR\r\nthis is not ical\r\n")
    (tmp_path / "no-end.ics").write_bytes(ics("UID:x", "DTSTART:20261203T120000Z"))
    (tmp_path / "holiday.ics").write_bytes(
        ics("UID:h", "DTSTART;VALUE=DATE:20261225", "DTEND;VALUE=DATE:20261226")
    )
    (tmp_path / "good.ics").write_bytes(
        ics("UID:good", "DTSTART:20261203T120000Z", "DTEND:20261203T130000Z")
    )
    with caplog.at_level(logging.WARNING, logger="connectors.vdir"):
        changes, cursor = cal.changes(None)
    assert [c.uid for c in changes] == ["good"]
    for name in ("broken.ics", "no-end.ics", "holiday.ics"):
        assert name in caplog.text
    caplog.clear()
    assert cal.changes(cursor)[0] == []
    assert caplog.text == ""  # not re-read, not re-logged


def test_our_event_file_carries_the_key_and_no_temp_file_is_left(
    tmp_path: Path, cal: VdirCalendar
) -> None:
    start = datetime(2026, 12, 3, 14, 30, tzinfo=UTC)
    event = CalendarEvent("", "Prep", start, start + timedelta(minutes=15), None, ())
    uid = cal.put_event(event, "prep-1")
    (path,) = tmp_path.glob("*.ics")
    assert path.name.startswith("outreach-")
    assert not list(tmp_path.glob(".*.tmp"))
    parsed = parse_event(path.read_bytes())
    assert (parsed.uid, parsed.key, parsed.start) == (uid, "prep-1", start)


def test_an_unchanged_put_does_not_touch_the_file(tmp_path: Path, cal: VdirCalendar) -> None:
    start = datetime(2026, 12, 3, 14, 30, tzinfo=UTC)
    event = CalendarEvent("", "Prep", start, start + timedelta(minutes=15), None, ())
    cal.put_event(event, "prep-1")
    (path,) = tmp_path.glob("*.ics")
    before = path.stat()
    cal.put_event(event, "prep-1")
    after = path.stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_only_new_or_changed_files_are_parsed(
    tmp_path: Path, cal: VdirCalendar, opener: CountingOpener
) -> None:
    for n in range(10):
        (tmp_path / f"e{n}.ics").write_bytes(
            ics(f"UID:e{n}", "DTSTART:20261203T120000Z", "DTEND:20261203T130000Z")
        )
    _, cursor = cal.changes(None)
    assert len(opener.events()) == 10
    opener.opened.clear()
    _, cursor = cal.changes(cursor)
    assert opener.events() == []
    replacement = tmp_path / ".e3.tmp"
    replacement.write_bytes(ics("UID:e3", "DTSTART:20261203T140000Z", "DTEND:20261203T150000Z"))
    replacement.replace(tmp_path / "e3.ics")
    changes, _ = cal.changes(cursor)
    assert opener.events() == ["e3.ics"]
    assert [(c.kind, c.uid) for c in changes] == [(EventChangeKind.UPSERTED, "e3")]


def test_a_file_that_becomes_unusable_reports_its_event_deleted(
    tmp_path: Path, cal: VdirCalendar
) -> None:
    path = tmp_path / "e.ics"
    path.write_bytes(ics("UID:e", "DTSTART:20261203T120000Z", "DTEND:20261203T130000Z"))
    _, cursor = cal.changes(None)
    tmp = tmp_path / ".e.tmp"
    tmp.write_bytes(b"garbage")
    tmp.replace(path)
    changes, _ = cal.changes(cursor)
    assert [(c.kind, c.uid) for c in changes] == [
        (EventChangeKind.UNREADABLE, "e.ics"),
        (EventChangeKind.DELETED, "e"),
    ]
    assert "does not parse" in str(changes[0].reason)


def test_real_invitations_parse_or_are_skipped_with_a_reason() -> None:
    read = 0
    for path in sorted((require_corpus() / "invite_ics").glob("*.ics")):
        try:
            event = parse_event(path.read_bytes(), fallback_uid=path.stem)
        except IcsSkipped:
            continue
        read += 1
        assert event.start.utcoffset() == timedelta(0)
        assert event.end >= event.start
    assert read >= 5


@pytest.mark.parametrize(
    ("lines", "says"),
    [
        (("UID:a", "DTSTART:99991231T230000Z", "DURATION:PT2H"), "past year 9999"),
        (("UID:b", "DTSTART:20261210T100000Z", "DURATION:P99999999D"), "past year 9999"),
        (("UID:c", "DTSTART:00010101T000000Z", "DTEND:00010101T010000Z"), "dated outside"),
        (("UID:d", "DTSTART:99990101T100000Z", "DTEND:99990101T110000Z"), "dated outside"),
        (
            ("UID:e", "DTSTART;TZID=Asia/Tokyo:00010101T010000", "DTEND:00010101T020000Z"),
            "out of range",
        ),
    ],
    ids=["year-9999-plus-duration", "huge-duration", "year-1", "year-9999", "year-1-east"],
)
def test_an_event_out_of_any_sensible_range_is_a_problem_worth_telling(
    lines: tuple[str, ...], says: str
) -> None:
    """Dates past what datetime can hold, or outside 1970-2199, are refused with a reason
    (never an OverflowError), and marked as a problem, not as an ordinary non-meeting."""
    with pytest.raises(IcsSkipped) as skipped:
        parse_event(ics(*lines))
    assert says in str(skipped.value)
    assert not skipped.value.ordinary


def test_a_long_event_is_ordinary_and_not_reported(tmp_path: Path, cal: VdirCalendar) -> None:
    """A three-week block with times is no conversation, but nothing is wrong with it."""
    with pytest.raises(IcsSkipped) as skipped:
        parse_event(ics("UID:f", "DTSTART:20261201T090000Z", "DTEND:20261222T090000Z"))
    assert skipped.value.ordinary
    _, cursor = cal.changes(None)
    (tmp_path / "f.ics").write_bytes(
        ics("UID:f", "DTSTART:20261201T090000Z", "DTEND:20261222T090000Z")
    )
    assert cal.changes(cursor)[0] == []
