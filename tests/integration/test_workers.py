"""The embedded worker: the stub broker drains in-process, with retries and time limits."""

from __future__ import annotations

import time

import dramatiq
import pytest

from pipeline.errors import SettingsError
from workers.broker import make_broker, setup_broker
from workers.dispatch import drain

broker = setup_broker("stub://")
attempts: dict[str, int] = {}


@dramatiq.actor(queue_name="outreach", time_limit=200, max_retries=0)
def sleepy_test_actor(label: str) -> None:
    attempts[label] = attempts.get(label, 0) + 1
    for _ in range(30):  # interruptible: the limit arrives between two short sleeps
        time.sleep(0.1)


@dramatiq.actor(queue_name="outreach", min_backoff=10, max_backoff=20)
def flaky_test_actor(label: str) -> None:
    attempts[label] = attempts.get(label, 0) + 1
    if attempts[label] < 3:
        raise RuntimeError("not yet")


def test_an_actor_over_its_time_limit_is_stopped_in_the_embedded_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """TimeLimit works only once process_boot was emitted; drain() does it."""
    from workers import actors

    monkeypatch.setitem(actors.ACTORS, "sleepy", sleepy_test_actor)
    started = time.monotonic()
    dead = drain([("sleepy", "slow")])
    assert time.monotonic() - started < 2.5
    assert attempts["slow"] == 1
    assert dead == ["sleepy_test_actor(slow)"]


def test_a_failing_actor_is_retried_quickly_until_it_succeeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workers import actors

    monkeypatch.setitem(actors.ACTORS, "flaky", flaky_test_actor)
    assert drain([("flaky", "third-time")]) == []
    assert attempts["third-time"] == 3


def test_an_unknown_broker_url_says_which_are_supported() -> None:
    with pytest.raises(SettingsError, match=r"stub://.*redis://.*amqp://"):
        make_broker("kafka://somewhere")


def test_the_broker_is_set_once_per_process() -> None:
    assert setup_broker("stub://") is broker
    with pytest.raises(SettingsError, match="already"):
        setup_broker("redis://127.0.0.1:6379/0")


def test_a_redis_url_may_name_its_own_namespace() -> None:
    """Several pipelines (or test runs) can share a Redis without seeing each other's work."""
    from workers.broker import split_namespace

    assert split_namespace("redis://h:6379/2?namespace=office-a") == (
        "redis://h:6379/2",
        "office-a",
    )
    assert split_namespace("redis://h:6379/2") == ("redis://h:6379/2", "dramatiq")
