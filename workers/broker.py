"""The broker, chosen by one URL: stub:// (embedded), redis://... or amqp://...

``setup_broker`` sets Dramatiq's global broker once per process. workers.actors calls it
before declaring any actor, so a command that wants another URL than
$OUTREACH_BROKER_URL (default stub://) calls ``setup_broker(url)`` before importing them;
``dramatiq workers.actors`` in a worker process gets the URL from the environment.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Retries, TimeLimit

from pipeline.errors import SettingsError
from pipeline.settings import broker_url_from_environment

DEFAULT_URL = "stub://"
QUEUE = "outreach"

# Short retries in the embedded mode: the next tick redoes anything left undone anyway.
STUB_RETRIES: dict[str, Any] = {"max_retries": 3, "min_backoff": 50, "max_backoff": 500}
PRODUCTION_RETRIES: dict[str, Any] = {
    "max_retries": 8,
    "min_backoff": 5_000,
    "max_backoff": 15 * 60_000,
}
TIME_LIMIT_MS = 5 * 60_000


def configure(broker: Any, retries: dict[str, Any]) -> Any:
    """Give ``broker`` this project's time limit and the given retry policy."""
    for middleware in list(broker.middleware):
        if isinstance(middleware, Retries | TimeLimit):
            broker.middleware.remove(middleware)
    broker.add_middleware(Retries(**retries))
    broker.add_middleware(TimeLimit(time_limit=TIME_LIMIT_MS, interval=1000))
    return broker


def split_namespace(url: str) -> tuple[str, str]:
    """Take ``?namespace=NAME`` off a Redis URL: several pipelines (or test runs) can share
    one Redis without seeing each other's queues. The default namespace is "dramatiq"."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    namespace = next((value for key, value in query if key == "namespace"), "dramatiq")
    rest = urlencode([(key, value) for key, value in query if key != "namespace"])
    return urlunsplit(parts._replace(query=rest)), namespace


def make_broker(url: str) -> Any:
    """A broker for ``url``, with this project's retry and time-limit settings."""
    if url.startswith("stub:"):
        return configure(StubBroker(), STUB_RETRIES)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from dramatiq.brokers.redis import RedisBroker

        plain, namespace = split_namespace(url)
        broker = RedisBroker(url=plain, namespace=namespace)  # type: ignore[no-untyped-call]
        return configure(broker, PRODUCTION_RETRIES)
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return configure(RabbitmqBroker(url=url), PRODUCTION_RETRIES)
    raise SettingsError(
        f"broker url {url!r} is not supported; use stub:// (in-process), "
        "redis://host:6379/0 or amqp://user:password@host:5672/"
    )


def setup_broker(url: str | None = None) -> Any:
    """Set (once) and return the global broker for ``url`` or $OUTREACH_BROKER_URL."""
    wanted = url or broker_url_from_environment() or DEFAULT_URL
    current = _state.get("broker")
    if current is not None:
        if _state["url"] != wanted:
            raise SettingsError(
                f"the broker is already {_state['url']!r} in this process; cannot switch "
                f"to {wanted!r}"
            )
        return current
    broker = make_broker(wanted)
    dramatiq.set_broker(broker)
    _state.update(broker=broker, url=wanted)
    return broker


def is_stub(broker: Any) -> bool:
    return isinstance(broker, StubBroker)


_state: dict[str, Any] = {}
