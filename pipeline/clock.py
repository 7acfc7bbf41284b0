"""The clock every entry point reads: the system's, unless ``OUTREACH_NOW`` says otherwise.

Time is an input. The lifecycle takes ``now`` as an argument, and the CLI, the workers, the
demo and the benches all get their clock here, so a test (or a person asking "what would
tomorrow morning's tick do?") can set it without touching the system clock:

``OUTREACH_NOW=2026-12-08T09:00+01:00``
    a fixed instant: every reading gives it. For one command, or a series of commands
    run one after the other (each sees the same instant).
``OUTREACH_NOW=+2d``, ``-3h30m``, ``+86400s``
    the system clock shifted by that much: it runs on, and every process given the same
    value agrees on the time. For worker processes, whose claims must age and expire.

libfaketime is no substitute: it breaks the threads of Dramatiq's workers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pipeline.errors import SettingsError

Clock = Callable[[], datetime]
VARIABLE = "OUTREACH_NOW"

_SHIFT = re.compile(
    r"(?P<sign>[+-])(?:(?P<days>\d+)d)?(?:(?P<hours>\d+)h)?(?:(?P<minutes>\d+)m)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)s)?"
)
_EXAMPLES = "e.g. 2026-12-08T09:00+01:00 (a fixed instant) or +2d, -3h30m (a shift)"


def system_clock() -> datetime:
    """The system's clock, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class FixedClock:
    """A clock that always reads ``at``."""

    at: datetime

    def __call__(self) -> datetime:
        return self.at


@dataclass(frozen=True)
class ShiftedClock:
    """The system clock moved by ``shift``: it runs on at the system's pace."""

    shift: timedelta

    def __call__(self) -> datetime:
        return system_clock() + self.shift


def parse_clock(value: str, *, source: str = VARIABLE) -> Clock:
    """The clock that ``value`` describes (see the module's docstring); a SettingsError
    naming ``source`` when it describes none."""
    text = value.strip()
    if not text:
        return system_clock
    shift = _SHIFT.fullmatch(text)
    if shift is not None:
        parts = {k: float(v) for k, v in shift.groupdict().items() if k != "sign" and v}
        if not parts:
            raise SettingsError(f"{source}={value!r}: a shift needs an amount, {_EXAMPLES}")
        try:
            amount = timedelta(**parts)
            moved = ShiftedClock(-amount if shift["sign"] == "-" else amount)
            moved()  # a shift past year 1 or 9999 fails here, not in the middle of a tick
        except OverflowError:
            raise SettingsError(f"{source}={value!r}: that shift is too large") from None
        return moved
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise SettingsError(f"{source}={value!r} is not a time; {_EXAMPLES}") from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise SettingsError(
            f"{source}={value!r} has no zone; add one, e.g. {text}+01:00 or {text}Z"
        )
    try:
        return FixedClock(at.astimezone(UTC))
    except OverflowError:
        raise SettingsError(f"{source}={value!r} is out of range") from None


def clock_from_environment(environ: Mapping[str, str] | None = None) -> Clock:
    """The clock for this process: ``OUTREACH_NOW`` when set, else the system's."""
    value = (os.environ if environ is None else environ).get(VARIABLE, "")
    return parse_clock(value)
