"""What the store and the lifecycle accept from the outside world, in one place.

Mail and calendars are written by others, sometimes carelessly and sometimes on purpose:
a Message-ID of 600 characters, a NUL inside a header, a UID longer than a column, an
event in the year 9999 or lasting 99,999,999 days. PostgreSQL refuses what SQLite takes
(long text, NUL); Python's datetime overflows near years 1 and 9999. One rule here for
both databases, applied where outside data enters:

- identifiers (Message-IDs, UIDs, provider ids) that are too long or hold a NUL are
  replaced by a stable digest of themselves, so the same odd identifier always maps to
  the same stored one (a later cancellation still finds its meeting) and never to ours;
- free text loses its NULs and is cut to the column's size;
- times outside ``EARLIEST``..``LATEST``, and meetings longer than ``LONGEST_MEETING``,
  are not meetings: the reader skips them with a reason.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

ID_LENGTH = 500
"""The longest identifier a column holds (Message-ID, UID, provider id)."""

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
LONGEST_MEETING = timedelta(days=14)
_DIGEST_PREFIX = "sha256:"


def storable_id(value: str | None, limit: int = ID_LENGTH) -> str | None:
    """``value`` as it can be stored and compared: itself when it fits, else a stable
    digest (``sha256:<hex>``) of it; None stays None."""
    if value is None:
        return None
    if len(value) <= limit and "\x00" not in value:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{_DIGEST_PREFIX}{digest}"


def storable_text(value: str | None, limit: int | None = None) -> str | None:
    """Free text without NULs, cut to ``limit`` characters when given."""
    if value is None:
        return None
    cleaned = value.replace("\x00", "")
    return cleaned if limit is None else cleaned[:limit]


def plausible_time(value: datetime | None) -> datetime | None:
    """``value`` when it lies within ``EARLIEST``..``LATEST``, else None (a Date header of
    the year 9999 says nothing: the caller uses the time it saw the message)."""
    return value if value is not None and EARLIEST <= value < LATEST else None


def plausible_date(value: date | None) -> date | None:
    """``value`` when it lies within the years of ``EARLIEST``..``LATEST``, else None."""
    return value if value is not None and EARLIEST.date() <= value < LATEST.date() else None


def out_of_range(start: datetime, end: datetime) -> bool:
    """True when ``start`` or ``end`` lies outside ``EARLIEST``..``LATEST``."""
    return not (EARLIEST <= start < LATEST and EARLIEST <= end <= LATEST)


def time_problem(start: datetime, end: datetime) -> str | None:
    """Why ``start``..``end`` cannot be a meeting we act on, or None when it can."""
    if out_of_range(start, end):
        return (
            f"dated outside {EARLIEST.year}-{LATEST.year - 1} "
            f"({start.date().isoformat()} to {end.date().isoformat()})"
        )
    if end < start:
        return "ends before it starts"
    if end - start > LONGEST_MEETING:
        return f"lasts {(end - start).days} days, longer than any conversation"
    return None


def add_safely(start: datetime, delta: timedelta) -> datetime | None:
    """``start + delta``, or None when the sum falls outside what datetime can hold."""
    try:
        return start + delta
    except OverflowError:
        return None


def to_utc_safely(value: datetime) -> datetime | None:
    """``value`` in UTC, or None when that falls outside what datetime can hold
    (0001-01-01 in a zone east of UTC, 9999-12-31 west of it)."""
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
