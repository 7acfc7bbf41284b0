"""Business days and send windows in the person's time zone (pipeline.timeplan)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from pipeline.lifecycle import Policy
from pipeline.timeplan import (
    add_business_days,
    local_date,
    next_send_moment,
    start_of_local_day,
    wall_clock_to_utc,
)

NEW_YORK = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
TOKYO = ZoneInfo("Asia/Tokyo")
Z = ZoneInfo("UTC")
MON_FRI = (0, 1, 2, 3, 4)
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --------------------------------------------------------------------------- business days


def test_friday_plus_one_business_day_is_monday_same_wall_time() -> None:
    """Given Friday 10:00 in New York, when adding 1 business day, then Monday 10:00."""
    friday = datetime(2026, 11, 20, 10, 0, tzinfo=NEW_YORK)
    expected = datetime(2026, 11, 23, 10, 0, tzinfo=NEW_YORK)
    assert expected == add_business_days(friday, 1, NEW_YORK, MON_FRI)


def test_five_business_days_from_wednesday_is_next_wednesday() -> None:
    """Given Wednesday, when adding 5 business days, then the Wednesday after (weekend skipped)."""
    assert utc(2026, 12, 2, 15, 0) == add_business_days(utc(2026, 11, 25, 15, 0), 5, Z, MON_FRI)


def test_saturday_plus_one_business_day_is_monday() -> None:
    """Given a Saturday, when adding 1 business day, then the Monday after."""
    assert utc(2026, 11, 30, 9, 0) == add_business_days(utc(2026, 11, 28, 9, 0), 1, Z, MON_FRI)


def test_zero_business_days_is_the_start_itself_in_utc() -> None:
    """Given any start, when adding 0 business days, then the same instant, in UTC."""
    start = datetime(2026, 11, 28, 9, 0, tzinfo=PARIS)
    actual = add_business_days(start, 0, PARIS, MON_FRI)
    assert start == actual
    assert actual.tzinfo is UTC


def test_business_days_across_spring_forward_keep_local_wall_time() -> None:
    """Given Friday 10:00 EST before the clocks jump, when +1, then Monday 10:00 EDT (14:00Z)."""
    friday = utc(2026, 3, 6, 15, 0)  # 10:00 EST
    assert utc(2026, 3, 9, 14, 0) == add_business_days(friday, 1, NEW_YORK, MON_FRI)


def test_business_days_across_fall_back_keep_local_wall_time() -> None:
    """Given Friday 10:00 EDT before the clocks fall back, when +1, then Monday 10:00 EST."""
    friday = utc(2026, 10, 30, 14, 0)  # 10:00 EDT
    assert utc(2026, 11, 2, 15, 0) == add_business_days(friday, 1, NEW_YORK, MON_FRI)


def test_wall_time_in_the_spring_gap_moves_forward_by_the_gap() -> None:
    """Given 02:30 the day before the clocks jump 02:00->03:00, when +1 day, then 03:30 EDT."""
    saturday = datetime(2026, 3, 7, 2, 30, tzinfo=NEW_YORK)
    assert utc(2026, 3, 8, 7, 30) == add_business_days(saturday, 1, NEW_YORK, EVERY_DAY)


def test_ambiguous_wall_time_at_fall_back_is_the_first_occurrence() -> None:
    """Given 01:30 the day before the fall-back hour, when +1 day, then 01:30 EDT (05:30Z)."""
    saturday = datetime(2026, 10, 31, 1, 30, tzinfo=NEW_YORK)
    assert utc(2026, 11, 1, 5, 30) == add_business_days(saturday, 1, NEW_YORK, EVERY_DAY)


def test_business_days_count_in_the_persons_time_zone() -> None:
    """Given Friday 20:00Z (already Saturday in Tokyo), when +1 in Tokyo, then Monday JST."""
    friday_utc = utc(2026, 11, 27, 20, 0)  # Saturday 05:00 JST
    assert utc(2026, 11, 29, 20, 0) == add_business_days(friday_utc, 1, TOKYO, MON_FRI)
    assert utc(2026, 11, 30, 20, 0) == add_business_days(friday_utc, 1, Z, MON_FRI)


def test_other_workweeks_are_honoured() -> None:
    """Given a Sunday-to-Thursday week, when adding 1 business day to Thursday, then Sunday."""
    thursday = utc(2026, 11, 26, 9, 0)
    assert utc(2026, 11, 29, 9, 0) == add_business_days(thursday, 1, Z, (6, 0, 1, 2, 3))


@pytest.mark.parametrize(
    ("start", "days", "workdays"),
    [
        (utc(2026, 11, 25, 9, 0), -1, MON_FRI),
        (datetime(2026, 11, 25, 9, 0), 1, MON_FRI),
        (utc(2026, 11, 25, 9, 0), 1, ()),
        (utc(2026, 11, 25, 9, 0), 1, (7,)),
    ],
)
def test_bad_business_day_arguments_raise_value_error(
    start: datetime, days: int, workdays: tuple[int, ...]
) -> None:
    """Negative days, a naive start or an impossible workweek are programming errors."""
    with pytest.raises(ValueError):
        add_business_days(start, days, Z, workdays)


# ---------------------------------------------------------------------------- send windows

NY_POLICY = Policy(timezone="America/New_York")


def test_inside_the_window_is_now() -> None:
    """Given Wednesday 11:00 New York, when asking the next send moment, then that moment."""
    at = utc(2026, 11, 25, 16, 0)
    actual = next_send_moment(at, NY_POLICY)
    assert at == actual
    assert actual.tzinfo is UTC


def test_before_the_window_is_the_window_start_that_day() -> None:
    """Given Wednesday 06:00 New York, then 08:30 the same day."""
    assert utc(2026, 11, 25, 13, 30) == next_send_moment(utc(2026, 11, 25, 11, 0), NY_POLICY)


def test_window_start_is_inside_and_window_end_is_outside() -> None:
    """Given exactly 08:30 then exactly 17:00 on a Wednesday, then 08:30 and Thursday 08:30."""
    opens = utc(2026, 11, 25, 13, 30)
    closes = utc(2026, 11, 25, 22, 0)
    assert opens == next_send_moment(opens, NY_POLICY)
    assert utc(2026, 11, 26, 13, 30) == next_send_moment(closes, NY_POLICY)


def test_friday_evening_is_monday_morning() -> None:
    """Given Friday 18:00 New York, then Monday 08:30."""
    assert utc(2026, 11, 30, 13, 30) == next_send_moment(utc(2026, 11, 27, 23, 0), NY_POLICY)


def test_weekend_is_monday_morning() -> None:
    """Given Saturday noon, then Monday 08:30."""
    assert utc(2026, 11, 30, 13, 30) == next_send_moment(utc(2026, 11, 28, 17, 0), NY_POLICY)


def test_window_after_spring_forward_is_in_daylight_time() -> None:
    """Given Saturday before the clocks jump, then Monday 08:30 EDT (12:30Z, not 13:30Z)."""
    assert utc(2026, 3, 9, 12, 30) == next_send_moment(utc(2026, 3, 7, 17, 0), NY_POLICY)


def test_window_after_fall_back_is_in_standard_time() -> None:
    """Given Sunday in Paris after the clocks fell back, then Monday 08:30 CET (07:30Z)."""
    paris = Policy(timezone="Europe/Paris")
    assert utc(2026, 10, 26, 7, 30) == next_send_moment(utc(2026, 10, 25, 12, 0), paris)


def test_window_uses_the_local_date_not_the_utc_date() -> None:
    """Given Sunday 23:30Z (Monday 08:30 in Tokyo), then that very moment."""
    tokyo = Policy(timezone="Asia/Tokyo")
    at = utc(2026, 11, 29, 23, 30)
    assert at == next_send_moment(at, tokyo)


def test_custom_window_and_workdays() -> None:
    """Given a Sunday-Thursday week with a 10:00-12:00 window, Thursday 13:00 -> Sunday 10:00."""
    policy = Policy(
        workdays=(6, 0, 1, 2, 3), send_window_start=time(10, 0), send_window_end=time(12, 0)
    )
    assert utc(2026, 11, 29, 10, 0) == next_send_moment(utc(2026, 11, 26, 13, 0), policy)


def test_naive_time_raises_value_error() -> None:
    """A naive datetime is a programming error."""
    with pytest.raises(ValueError):
        next_send_moment(datetime(2026, 11, 25, 9, 0), NY_POLICY)


# ------------------------------------------------------------------------------ local days


def test_local_date_and_start_of_local_day() -> None:
    """Given 03:00Z, then it is still the previous day in New York, which began at 05:00Z."""
    assert date(2026, 11, 24) == local_date(utc(2026, 11, 25, 3, 0), NEW_YORK)
    assert utc(2026, 11, 24, 5, 0) == start_of_local_day(date(2026, 11, 24), NEW_YORK)


def test_midnight_skipped_by_dst_starts_the_day_at_one() -> None:
    """Given Santiago, where clocks jump from 24:00 to 01:00, then the day starts at 01:00."""
    santiago = ZoneInfo("America/Santiago")
    actual = start_of_local_day(date(2026, 9, 6), santiago)
    assert time(1, 0) == actual.astimezone(santiago).time()
    assert wall_clock_to_utc(date(2026, 9, 6), time(1, 0), santiago) == actual
