"""Per-user rate limits as token buckets in the provider's units: wait, never fail.

Gmail counts quota units per user (PROVIDERS.md: 250 units per second, 15,000 per minute;
6,000 per minute for projects created after 2026-05-01), and each call costs units
(``GMAIL_UNITS``). A connector calls ``acquire(units)`` before each request (for a batch:
the sum of its calls), which sleeps until the bucket holds that many units.

- ``TokenBucket``: in-process (threads of one worker share it).
- ``RedisTokenBucket``: shared by every process and machine using the same Redis and key,
  through one small Lua script (the bucket's level and time stamp live in a Redis hash;
  Redis's own clock is used, so the machines' clocks do not matter).

A request larger than the bucket's capacity is let through once the bucket is full (the
level goes below zero and later requests wait for it to refill).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

GMAIL_UNITS: Mapping[str, int] = {
    "gmail.users.drafts.create": 10,
    "gmail.users.drafts.get": 5,
    "gmail.users.drafts.list": 5,
    "gmail.users.drafts.delete": 10,
    "gmail.users.drafts.send": 100,
    "gmail.users.messages.send": 100,
    "gmail.users.messages.get": 5,
    "gmail.users.messages.list": 5,
    "gmail.users.messages.insert": 25,
    "gmail.users.messages.import": 25,
    "gmail.users.history.list": 2,
    "gmail.users.threads.get": 10,
    "gmail.users.getProfile": 1,
}
"""Quota units per Gmail method (keep configurable: pass your own mapping)."""

GMAIL_UNITS_PER_SECOND = 250.0
"""Gmail's published per-user limit (15,000 units per minute)."""

HEADROOM = 0.9
"""The share of a provider's limit the connectors' buckets aim at by default. Our bucket
and the provider's cannot be in step (a request is charged here before the network and
there after it), so aiming at exactly the limit draws 429s; aiming a little below it
draws none and costs a tenth of the peak rate."""


_EPSILON = 1e-6  # units: float rounding must not leave a waiter short of a millionth
_MIN_WAIT = 0.001  # seconds: never a tight loop


class Quota(Protocol):
    """Something that makes the caller wait until ``units`` may be spent."""

    def acquire(self, units: float) -> None: ...


class Unlimited:
    """No limit (tests that are not about rate limits)."""

    def acquire(self, units: float) -> None:
        return None


class TokenBucket:
    """An in-process token bucket: ``rate`` units per second, at most ``capacity`` saved."""

    def __init__(
        self,
        rate: float = GMAIL_UNITS_PER_SECOND,
        capacity: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = capacity if capacity is not None else rate
        self._clock = clock
        self._sleep = sleep
        self._level = self.capacity
        self._stamp = clock()
        self._lock = threading.Lock()
        self.waited = 0.0
        """Seconds spent waiting so far (for benchmarks and logs)."""

    def _reserve(self, units: float) -> float:
        """Take ``units`` if possible and return 0, else return how long to wait."""
        with self._lock:
            now = self._clock()
            self._level = min(self.capacity, self._level + (now - self._stamp) * self.rate)
            self._stamp = now
            need = min(units, self.capacity)
            if self._level >= need - _EPSILON:
                self._level -= units
                return 0.0
            return max((need - self._level) / self.rate, _MIN_WAIT)

    def acquire(self, units: float) -> None:
        while True:
            wait = self._reserve(units)
            if wait <= 0:
                return
            self.waited += wait
            self._sleep(wait)


_LUA = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local units = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', key, 'level', 'stamp')
local level = tonumber(state[1]) or capacity
local stamp = tonumber(state[2]) or now
level = math.min(capacity, level + math.max(0, now - stamp) * rate)
local need = math.min(units, capacity)
local wait = 0
if level >= need - 0.000001 then
  level = level - units
else
  wait = math.max((need - level) / rate, 0.001)
end
redis.call('HSET', key, 'level', tostring(level), 'stamp', tostring(now))
redis.call('EXPIRE', key, math.ceil(capacity / rate) + 60)
return tostring(wait)
"""


class RedisTokenBucket:
    """A token bucket shared through Redis (``redis://host:port/db``), one per ``key``
    (use one key per account, e.g. ``outreach:quota:gmail:<address>``)."""

    def __init__(
        self,
        url: str,
        key: str,
        rate: float = GMAIL_UNITS_PER_SECOND,
        capacity: float | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        client: Any = None,
    ) -> None:
        if client is None:
            import redis

            client = redis.Redis.from_url(url)
        self._redis = client
        self._script = client.register_script(_LUA)
        self.key = key
        self.rate = rate
        self.capacity = capacity if capacity is not None else rate
        self._sleep = sleep
        self.waited = 0.0

    def acquire(self, units: float) -> None:
        while True:
            answer = self._script(keys=[self.key], args=[self.rate, self.capacity, units])
            wait = float(answer.decode() if isinstance(answer, bytes) else answer)
            if wait <= 0:
                return
            self.waited += wait
            self._sleep(wait)


def bucket_for(
    redis_url: str | None, key: str, rate: float = GMAIL_UNITS_PER_SECOND * HEADROOM
) -> TokenBucket | RedisTokenBucket:
    """A Redis-shared bucket when ``redis_url`` names a Redis, else an in-process one."""
    if redis_url and redis_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisTokenBucket(redis_url, key, rate)
    return TokenBucket(rate)
