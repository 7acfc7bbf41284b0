"""Calendar arithmetic for the lifecycle: business days and send windows, pure.

Every function takes aware datetimes and returns aware datetimes in UTC. Local wall-clock
times are turned into instants with zoneinfo, which settles the two daylight-saving cases:

- a wall time that does not exist (the spring-forward gap) moves forward by the gap,
  so 02:30 on the night clocks jump from 02:00 to 03:00 becomes 03:30;
- a wall time that happens twice (the fall-back hour) is the first of the two.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

__all__ = [
    "SendWindow",
    "add_business_days",
    "local_date",
    "next_send_moment",
    "start_of_local_day",
    "wall_clock_to_utc",
]

_ONE_DAY = timedelta(days=1)


class SendWindow(Protocol):
    """What `next_send_moment` needs to know; `pipeline.lifecycle.Policy` is one."""

    @property
    def timezone(self) -> str: ...

    @property
    def workdays(self) -> tuple[int, ...]: ...

    @property
    def send_window_start(self) -> time: ...

    @property
    def send_window_end(self) -> time: ...


def _require_aware(at: datetime, name: str) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {at.isoformat()}")


def _require_workdays(workdays: Collection[int]) -> None:
    if not workdays or any(not 0 <= day <= 6 for day in workdays):
        raise ValueError(f"workdays must be weekday numbers 0 (Monday) to 6, got {workdays!r}")


def wall_clock_to_utc(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The instant (UTC) at which the clocks in `tz` show `wall` on `day`."""
    local = datetime.combine(day, wall.replace(tzinfo=None, fold=0)).replace(tzinfo=tz)
    return local.astimezone(UTC)


def start_of_local_day(day: date, tz: ZoneInfo) -> datetime:
    """The first instant (UTC) of `day` in `tz` (later than midnight if midnight is skipped)."""
    return wall_clock_to_utc(day, time(0, 0), tz)


def local_date(at: datetime, tz: ZoneInfo) -> date:
    """The calendar date in `tz` at the instant `at`."""
    _require_aware(at, "at")
    return at.astimezone(tz).date()


def add_business_days(
    start: datetime, days: int, tz: ZoneInfo, workdays: Collection[int]
) -> datetime:
    """The same local wall time `days` workdays after `start`'s local date, in UTC.

    Every following date that is a workday counts one, so from a Friday or a Saturday one
    business day is the next Monday (with Monday to Friday as workdays). Zero days is
    `start` itself.
    """
    _require_aware(start, "start")
    _require_workdays(workdays)
    if days < 0:
        raise ValueError(f"days must not be negative, got {days}")
    if days == 0:
        return start.astimezone(UTC)
    local = start.astimezone(tz)
    day = local.date()
    remaining = days
    while remaining:
        day += _ONE_DAY
        if day.weekday() in workdays:
            remaining -= 1
    return wall_clock_to_utc(day, local.time(), tz)


def next_send_moment(at: datetime, policy: SendWindow) -> datetime:
    """`at` itself if it falls inside a workday's send window, else the next window start.

    The window is [send_window_start, send_window_end) in the person's local time.
    """
    _require_aware(at, "at")
    _require_workdays(policy.workdays)
    tz = ZoneInfo(policy.timezone)
    at = at.astimezone(UTC)
    day = local_date(at, tz)
    if day.weekday() in policy.workdays:
        opens = wall_clock_to_utc(day, policy.send_window_start, tz)
        closes = wall_clock_to_utc(day, policy.send_window_end, tz)
        if at < opens:
            return opens
        if at < closes:
            return at
    day += _ONE_DAY
    while day.weekday() not in policy.workdays:
        day += _ONE_DAY
    return wall_clock_to_utc(day, policy.send_window_start, tz)
