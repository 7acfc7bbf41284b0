"""Token buckets in quota units: they make callers wait, never fail."""

from __future__ import annotations

import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest

from connectors.quota import RedisTokenBucket, TokenBucket, bucket_for
from tests.conftest import REDIS_URL, require_service


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_full_bucket_lets_a_burst_through_then_paces() -> None:
    fake = FakeTime()
    bucket = TokenBucket(250, clock=fake.clock, sleep=fake.sleep)
    for _ in range(25):
        bucket.acquire(10)  # 250 units: the burst the bucket holds
    assert fake.now == 0
    bucket.acquire(10)
    assert fake.now == pytest.approx(10 / 250)


def test_the_rate_over_time_is_the_quota() -> None:
    fake = FakeTime()
    bucket = TokenBucket(250, clock=fake.clock, sleep=fake.sleep)
    for _ in range(1000):
        bucket.acquire(10)
    # 10,000 units at 250 per second, less the first second's full bucket
    assert fake.now == pytest.approx((10_000 - 250) / 250)


def test_a_request_larger_than_the_bucket_waits_for_a_full_bucket() -> None:
    fake = FakeTime()
    bucket = TokenBucket(100, clock=fake.clock, sleep=fake.sleep)
    bucket.acquire(60)
    bucket.acquire(250)  # a batch of 50 messages.get: more than the bucket holds
    assert fake.now == pytest.approx(0.6)
    bucket.acquire(1)  # the debt is paid back first
    assert fake.now == pytest.approx(0.6 + 1.51)


def test_threads_share_one_bucket() -> None:
    bucket = TokenBucket(1000, capacity=10)
    started = time.monotonic()

    def work() -> None:
        for _ in range(10):
            bucket.acquire(5)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - started >= (200 - 10) / 1000 * 0.9


def test_without_a_redis_url_the_bucket_is_in_process() -> None:
    assert isinstance(bucket_for(None, "k"), TokenBucket)
    assert isinstance(bucket_for("stub://", "k"), TokenBucket)


@pytest.mark.redis
def test_a_redis_bucket_is_shared_between_clients() -> None:
    parts = urlsplit(REDIS_URL)
    require_service("Redis", parts.hostname or "127.0.0.1", parts.port or 6379)
    key = f"outreach:test:quota:{uuid.uuid4().hex}"
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    one = RedisTokenBucket(REDIS_URL, key, rate=100, sleep=sleep)
    two = RedisTokenBucket(REDIS_URL, key, rate=100, sleep=sleep)
    assert isinstance(bucket_for(REDIS_URL, key), RedisTokenBucket)
    one.acquire(60)
    two.acquire(40)
    assert waits == []
    two.acquire(20)  # the bucket both share is empty: wait for 20 units
    assert waits and 0.1 <= sum(waits) <= 0.5
