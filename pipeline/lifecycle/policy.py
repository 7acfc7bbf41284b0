"""The person's cadence and limits, as the lifecycle reads them: one frozen Policy, read
from settings by `Policy.from_mapping` (the one loader)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class Policy:
    """The cadence and limits of outreach; every field can be set from settings."""

    nudge_after_business_days: int = 5
    max_nudges: int = 2
    ooo_default_days: int = 7
    soft_bounce_retry_days: int = 2
    thank_you_within_hours: int = 24
    keep_in_touch_days: int = 90
    thanks_anyway_on_decline: bool = True
    timezone: str = "UTC"
    workdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    send_window_start: time = time(8, 30)
    send_window_end: time = time(17, 0)
    prep_notes_lead_minutes: int = 60
    new_outreach_per_day: int = 10

    def __post_init__(self) -> None:
        minimums = {
            "nudge_after_business_days": 1,
            "max_nudges": 0,
            "ooo_default_days": 1,
            "soft_bounce_retry_days": 0,
            "thank_you_within_hours": 1,
            "keep_in_touch_days": 1,
            "prep_notes_lead_minutes": 0,
            "new_outreach_per_day": 1,
        }
        for key, minimum in minimums.items():
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{key} must be a whole number, got {value!r}")
            if value < minimum:
                raise ValueError(f"{key} must be at least {minimum}, got {value}")
        if not isinstance(self.thanks_anyway_on_decline, bool):
            raise ValueError(
                "thanks_anyway_on_decline must be true or false,"
                f" got {self.thanks_anyway_on_decline!r}"
            )
        if not isinstance(self.timezone, str):
            raise ValueError(f"timezone must be an IANA time zone name, got {self.timezone!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"timezone: unknown IANA time zone {self.timezone!r}") from err
        if (
            not isinstance(self.workdays, tuple)
            or not self.workdays
            or any(
                isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6
                for d in self.workdays
            )
        ):
            raise ValueError(
                f"workdays must be a non-empty list of weekday numbers 0 (Monday) to 6,"
                f" got {self.workdays!r}"
            )
        for key in ("send_window_start", "send_window_end"):
            value = getattr(self, key)
            if not isinstance(value, time) or value.tzinfo is not None:
                raise ValueError(f"{key} must be a local time of day, got {value!r}")
        if self.send_window_start >= self.send_window_end:
            raise ValueError(
                f"send_window_end must be later than send_window_start,"
                f" got {self.send_window_start} to {self.send_window_end}"
            )

    @property
    def zone(self) -> ZoneInfo:
        """The person's time zone."""
        return ZoneInfo(self.timezone)

    def working_hours(self) -> str:
        """What planned drafts depend on (zone, workdays, send window), as a stable text:
        plans made for other working hours are made again (pipeline.planning)."""
        return json.dumps(
            {
                "timezone": self.timezone,
                "workdays": list(self.workdays),
                "send_window": [
                    self.send_window_start.isoformat(),
                    self.send_window_end.isoformat(),
                ],
            },
            sort_keys=True,
        )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Policy:
        """A policy from settings (a TOML table); missing keys keep their default.

        Times may be `datetime.time` (TOML local times) or "HH:MM" strings; workdays any
        sequence of weekday numbers. Raises ValueError naming the offending key.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown policy setting (known: {sorted(known)})")
        converted: dict[str, Any] = dict(values)
        for key in ("send_window_start", "send_window_end"):
            if isinstance(converted.get(key), str):
                try:
                    converted[key] = time.fromisoformat(converted[key])
                except ValueError as err:
                    raise ValueError(
                        f"{key} must be a time like 08:30, got {converted[key]!r}"
                    ) from err
        if "workdays" in converted and isinstance(converted["workdays"], list | tuple):
            converted["workdays"] = tuple(converted["workdays"])
        return cls(**converted)
