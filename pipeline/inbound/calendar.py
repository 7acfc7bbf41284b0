"""Meeting invitations, answers and cancellations read from iCalendar (RFC 5545, iTIP 5546).

Times come out as aware UTC datetimes. Time zones are resolved in this order: the
calendar's own VTIMEZONE, an IANA name, a Windows name ("Eastern Standard Time", mapped
by icalendar), an Outlook display name ("(UTC-05:00) Eastern Time (US & Canada)"), the
calendar's X-WR-TIMEZONE, and last UTC for floating times.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar

from pipeline.bounds import add_safely, to_utc_safely

try:
    from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
except ImportError:  # icalendar before 6 kept the table at the top level
    from icalendar.windows_to_olson import WINDOWS_TO_OLSON  # type: ignore[no-redef]

METHODS = frozenset({"REQUEST", "REPLY", "CANCEL", "PUBLISH", "COUNTER", "REFRESH", "ADD"})
_OFFSET_NAME = re.compile(r"^\(UTC([+-]\d{2}):(\d{2})\)\s*(.*)$")
# Outlook sometimes writes the display name of a zone instead of its key.
_DISPLAY_NAMES = {
    "eastern time (us & canada)": "America/New_York",
    "central time (us & canada)": "America/Chicago",
    "mountain time (us & canada)": "America/Denver",
    "pacific time (us & canada)": "America/Los_Angeles",
    "amsterdam, berlin, bern, rome, stockholm, vienna": "Europe/Berlin",
    "brussels, copenhagen, madrid, paris": "Europe/Paris",
    "dublin, edinburgh, lisbon, london": "Europe/London",
    "coordinated universal time": "UTC",
}


_FEED = object()


@dataclass(frozen=True)
class Attendee:
    """One attendee of a meeting and their answer (PARTSTAT)."""

    email: str
    partstat: str


@dataclass(frozen=True)
class Meeting:
    """The one meeting that an invitation, answer or cancellation is about."""

    method: str
    uid: str
    start: datetime | None
    end: datetime | None
    organizer: str | None
    attendees: tuple[Attendee, ...]
    sequence: int
    summary: str | None
    location: str | None = None  # the place, or the video link, as meeting_place gives it


def address(value: Any) -> str | None:
    text = str(value or "").strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    params = getattr(value, "params", None)
    if (not text or "@" not in text) and params is not None:
        email = params.get("EMAIL")
        if email:
            text = str(email)
    text = text.strip().strip("<>")
    return text.lower() if "@" in text else (text or None)


def zone(name: str) -> tzinfo | None:
    name = name.strip().strip('"')
    if not name:
        return None
    olson = WINDOWS_TO_OLSON.get(name)
    if olson:
        return ZoneInfo(olson)
    match = _OFFSET_NAME.match(name)
    if match:
        mapped = _DISPLAY_NAMES.get(match.group(3).strip().lower())
        if mapped:
            return ZoneInfo(mapped)
    mapped = _DISPLAY_NAMES.get(name.lower())
    if mapped:
        return ZoneInfo(mapped)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def utc_time(prop: Any, default_zone: tzinfo | None) -> datetime | date | None:
    """A DTSTART or DTEND property: an aware UTC datetime (its TZID resolved by ``zone``,
    a floating time read in default_zone, else UTC), a date for an all-day value, None
    when it holds neither or lies out of range."""
    value = getattr(prop, "dt", None)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            tzid = getattr(prop, "params", {}).get("TZID")
            named = zone(str(tzid)) if tzid else None
            value = value.replace(tzinfo=named or default_zone or UTC)
        return to_utc_safely(value)  # None past year 1 or 9999: no usable time
    if isinstance(value, date):
        return value
    return None


def _to_utc(prop: Any, default_zone: tzinfo | None) -> datetime | None:
    value = utc_time(prop, default_zone)
    if isinstance(value, datetime) or value is None:
        return value
    return datetime.combine(value, time(0, 0), tzinfo=UTC)


def attendees(event: Any) -> list[tuple[str, str | None, str]]:
    """Each attendee of an event with an address: (address, CN, PARTSTAT)."""
    raw = event.get("ATTENDEE")
    items = [] if raw is None else raw if isinstance(raw, list) else [raw]
    found: list[tuple[str, str | None, str]] = []
    for item in items:
        email = address(item)
        if not email:
            continue
        params = getattr(item, "params", {})
        name = str(params["CN"]) if params.get("CN") else None
        found.append((email, name, str(params.get("PARTSTAT", "NEEDS-ACTION")).upper()))
    return found


def main_event(events: list[Any]) -> Any:
    """The main event of several (no RECURRENCE-ID) over an exception to its rule."""
    return next((e for e in events if e.get("RECURRENCE-ID") is None), events[0])


def _int(value: Any) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0


def _meeting_from(cal: Any, event: Any, method: str) -> Meeting:
    wr_zone = cal.get("X-WR-TIMEZONE")
    default_zone = zone(str(wr_zone)) if wr_zone else None
    start = _to_utc(event.get("DTSTART"), default_zone)
    end = _to_utc(event.get("DTEND"), default_zone)
    if end is None and start is not None:
        duration = event.get("DURATION")
        delta = getattr(duration, "dt", None)
        if isinstance(delta, timedelta):
            end = add_safely(start, delta)
    people = tuple(Attendee(email=e, partstat=p) for e, _, p in attendees(event))
    summary = event.get("SUMMARY")
    return Meeting(
        method=method,
        uid=str(event.get("UID", "")),
        start=start,
        end=end,
        organizer=address(event.get("ORGANIZER")),
        attendees=people,
        sequence=_int(event.get("SEQUENCE", 0)),
        summary=str(summary) if summary is not None else None,
        location=meeting_place(
            str(event.get("LOCATION") or ""), str(event.get("DESCRIPTION") or "")
        ),
    )


_URL = re.compile(r"https://[^\s<>\"')\]]+", re.IGNORECASE)
_VIDEO_HOSTS = (
    "zoom.us",
    "teams.microsoft.com",
    "teams.live.com",
    "meet.google.com",
    "webex.com",
    "whereby.com",
    "gotomeeting.com",
)


def meeting_place(location: str | None, description: str | None) -> str | None:
    """Where a conversation happens, for the prep notes: the event's location, and the
    video-call link from its description when the location does not hold it already."""
    place = " ".join((location or "").split())[:300]
    link = next(
        (
            url
            for url in _URL.findall(description or "")
            if url.split("/")[2].split(":")[0].lower().endswith(_VIDEO_HOSTS)
        ),
        None,
    )
    if link is not None and link not in place:
        place = f"{place} ({link[:500]})" if place else link[:500]
    return place or None


_VTIMEZONE = re.compile(rb"BEGIN:VTIMEZONE\r?\n.*?END:VTIMEZONE\r?\n", re.DOTALL)
_VALARM = re.compile(rb"BEGIN:VALARM\r?\n.*?END:VALARM\r?\n", re.DOTALL)
_ANCIENT_START = re.compile(rb"DTSTART:1[0-8]\d\d0101T")
_TZID_LINE = re.compile(rb"^TZID:(.*?)\r?$", re.MULTILINE)


def _drop_known_zones(match: re.Match[bytes]) -> bytes:
    """A VTIMEZONE whose name is a known zone is left out: zoneinfo is exact and fast,
    while expanding Outlook's rules from the year 1601 is slow."""
    block = match.group(0)
    tzid = _TZID_LINE.search(block)
    if tzid and zone(tzid.group(1).decode("utf-8", "replace")) is not None:
        return b""
    # Yearly rules repeat: starting them in 1970 instead of 1601 gives the same offsets
    # for any meeting since, and saves expanding four centuries of transitions.
    return _ANCIENT_START.sub(b"DTSTART:19700101T", block)


_VCALENDAR = re.compile(rb"BEGIN:VCALENDAR.*?(?:END:VCALENDAR\r?\n?|\Z)", re.DOTALL)
_UID = re.compile(rb"^UID:(.*?)\r?$", re.MULTILINE)
_METHOD = re.compile(rb"^METHOD:\s*(\w+)", re.MULTILINE)


def _parse(block: bytes) -> Any | None:
    """One VCALENDAR block parsed (alarms and known zones left out), or None."""
    block = _VALARM.sub(b"", block)
    block = _VTIMEZONE.sub(_drop_known_zones, block)
    try:
        return icalendar.Calendar.from_ical(block)
    except Exception:  # icalendar raises many kinds on broken input
        return None


def parse_calendars(data: bytes) -> list[Any]:
    """Every VCALENDAR in the data that parses; a broken one does not hide the others."""
    return [cal for block in _VCALENDAR.findall(data) if (cal := _parse(block)) is not None]


def _calendars(data: bytes) -> Iterator[Any]:
    """Each VCALENDAR in the data, parsed one at a time (the first good one is enough)."""
    for block in _VCALENDAR.findall(data):
        method = _METHOD.search(block)
        unfolded = block.replace(b"\r\n ", b"").replace(b"\n ", b"")
        if (method is None or method.group(1).upper() == b"PUBLISH") and len(
            set(_UID.findall(unfolded))
        ) > 1:
            yield _FEED  # a published feed of events, not one meeting
            continue
        parsed = _parse(block)
        if parsed is not None:
            yield parsed


def read_meeting(data: bytes, method_hint: str | None = None) -> tuple[Meeting | None, str]:
    """The meeting of one iCalendar object, and a word on what was found.

    Several calendars or events: the first calendar whose method is known and whose event
    has a start wins; in it, the main event (no RECURRENCE-ID) over an exception. A
    PUBLISH calendar with several different events is a feed, not an invitation.
    """
    for cal in _calendars(data):
        if cal is _FEED:
            return None, "calendar feed with several events"
        method = str(cal.get("METHOD") or method_hint or "").upper().strip()
        events = list(cal.walk("VEVENT"))
        if not events:
            continue
        uids = {str(e.get("UID", "")) for e in events}
        if method in {"", "PUBLISH"} and len(uids) > 1:
            return None, "calendar feed with several events"
        if not method:
            method = "PUBLISH"
        if method not in METHODS:
            continue
        with_start = [e for e in events if e.get("DTSTART") is not None]
        if method in {"REQUEST", "PUBLISH", "ADD", "COUNTER"} and not with_start:
            continue
        event = main_event(with_start or events)
        try:
            meeting = _meeting_from(cal, event, method)
        except Exception:  # noqa: S112 - a broken property must not break the message
            continue
        return meeting, f"iCalendar METHOD:{method}"
    return None, "no usable calendar event"
