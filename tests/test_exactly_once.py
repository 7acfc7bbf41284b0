"""Exactly once, whatever crashes or retries: real worker processes, Redis, PostgreSQL.

Given 500 due first-outreach steps, when a worker process is killed with SIGKILL half-way,
or the mailbox fails a fifth of its calls, or two ticks run at once, then every step ends
with exactly one draft in the Maildir and none is lost. Each runs on both production
brokers: Redis (namespaced per test) and RabbitMQ (the project's queues emptied around
each test, so run one suite at a time against one RabbitMQ).
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
import redis
import sqlalchemy

from tests.clitools import WORKDAY_MORNING, shift_to
from tests.conftest import AMQP_URL, REDIS_URL, require_service
from workers.broker import QUEUE

ROOT = Path(__file__).resolve().parents[1]
TOML = """
[profile]
name = "Ada Park"
email = "ada@example.edu"
background = "a biology senior"
field = "public health"
intro = "I study biology."
timezone = "UTC"

[[accounts]]
name = "local"
kind = "local"
address = "ada@example.edu"

[limits]
new_outreach_per_day = 5000
drafts_per_tick = 5000
step_lease_seconds = 2
"""


def contacts_csv(path: Path, count: int) -> Path:
    rows = ["name,email,organization,role,how_found"]
    rows += [
        f"Person {n},person{n}@example.org,Org {n % 17},analyst,the alumni directory"
        for n in range(count)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


class Setup:
    def __init__(self, workspace: Path, env: dict[str, str], broker: Broker) -> None:
        self.workspace = workspace
        self.env = env
        self.broker = broker

    def outreach(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-c", "from pipeline.cli import main; main()", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
        )
        assert result.returncode in (0, 1), result.stderr
        return result

    def worker(self, fault_rate: float = 0.0) -> subprocess.Popen[str]:
        env = {**self.env, "OUTREACH_TEST_FAULT_RATE": str(fault_rate)}
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.workerproc"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "worker ready"
        return process

    def drafted(self) -> int:
        engine = sqlalchemy.create_engine(self.env["OUTREACH_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                return int(
                    conn.exec_driver_sql(
                        "SELECT count(*) FROM steps WHERE status = 'drafted'"
                    ).scalar()
                    or 0
                )
        finally:
            engine.dispose()

    def wait_for_drafted(self, count: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.drafted()
            if done >= count:
                return done
            time.sleep(0.2)
        return self.drafted()

    def draft_keys(self) -> Counter[str]:
        keys: Counter[str] = Counter()
        folder = self.workspace / "mail" / ".Drafts"
        for path in list((folder / "cur").glob("*")) + list((folder / "new").glob("*")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            keys[str(message["X-Outreach-Key"])] += 1
        return keys


class Broker:
    """A production broker as the tests see it: its URL, its queue length, a clean-up."""

    url: str

    def queued(self) -> int:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError


class RedisQueues(Broker):
    def __init__(self) -> None:
        require_service("Redis", "127.0.0.1", 6379)
        self.namespace = f"outreach-test-{uuid.uuid4().hex[:10]}"  # concurrent runs stay apart
        self.url = f"{REDIS_URL}?namespace={self.namespace}"

    def queued(self) -> int:
        client = redis.Redis.from_url(REDIS_URL)
        try:
            return int(client.llen(f"{self.namespace}:{QUEUE}"))
        finally:
            client.close()

    def clear(self) -> None:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{self.namespace}:*"):
            client.delete(key)
        client.close()


class RabbitQueues(Broker):
    # Dramatiq's queue, its delay queue and its dead-letter queue.
    NAMES = (QUEUE, f"{QUEUE}.DQ", f"{QUEUE}.XQ")

    def __init__(self) -> None:
        require_service("RabbitMQ", "127.0.0.1", 5672)
        self.url = AMQP_URL
        self.clear()

    def _channel_do(self, work: Any) -> Any:
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        try:
            return work(connection.channel())
        finally:
            connection.close()

    def queued(self) -> int:
        return int(
            self._channel_do(
                lambda channel: channel.queue_declare(QUEUE, passive=True).method.message_count
            )
        )

    def clear(self) -> None:
        self._channel_do(lambda channel: [channel.queue_delete(name) for name in self.NAMES])


@pytest.fixture(
    params=[
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
    ]
)
def setup(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str) -> Iterator[Setup]:
    broker: Broker = RedisQueues() if request.param == "redis" else RabbitQueues()
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "outreach.toml").write_text(TOML, encoding="utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")},
        "OUTREACH_HOME": str(workspace),
        "OUTREACH_DATABASE_URL": postgres_url,
        "OUTREACH_BROKER_URL": broker.url,
        # Every process runs on one clock that starts on a workday morning and runs on, so
        # that the send window is open and claims age past their lease at any real hour.
        "OUTREACH_NOW": shift_to(WORKDAY_MORNING),
    }
    yield Setup(workspace, env, broker)
    broker.clear()


def plan(setup: Setup, count: int) -> None:
    setup.outreach("contacts", "import", str(contacts_csv(setup.workspace / "c.csv", count)))
    setup.outreach("start", "--all")
    setup.outreach("tick")  # enqueues every due step on Redis


def stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> None:
    os.killpg(process.pid, sig)
    process.wait(timeout=30)
    if process.stdout is not None:
        process.stdout.close()


@pytest.mark.postgres
def test_a_worker_killed_mid_way_loses_no_step_and_duplicates_no_draft(setup: Setup) -> None:
    plan(setup, 500)
    first = setup.worker()
    reached = setup.wait_for_drafted(100, timeout=120)
    stop(first, signal.SIGKILL)
    assert 100 <= reached < 500, "the kill should land in the middle of the work"
    second = setup.worker()
    try:
        time.sleep(2.5)  # past the step lease: claims of the killed worker may be retaken
        setup.outreach("tick")
        assert setup.wait_for_drafted(500, timeout=180) == 500
    finally:
        stop(second)
    keys = setup.draft_keys()
    assert len(keys) == 500
    assert max(keys.values()) == 1


@pytest.mark.postgres
def test_a_mailbox_failing_a_fifth_of_its_calls_still_gives_one_draft_per_step(
    setup: Setup,
) -> None:
    plan(setup, 500)
    worker = setup.worker(fault_rate=0.2)
    try:
        done = setup.wait_for_drafted(500, timeout=180)
        if done < 500:  # a step whose retries ran out comes back with the next tick
            time.sleep(2.5)
            setup.outreach("tick")
            done = setup.wait_for_drafted(500, timeout=120)
    finally:
        stop(worker)
    assert done == 500
    keys = setup.draft_keys()
    assert len(keys) == 500
    assert max(keys.values()) == 1


@pytest.mark.postgres
def test_two_ticks_at_once_enqueue_each_step_once(setup: Setup) -> None:
    setup.outreach("contacts", "import", str(contacts_csv(setup.workspace / "c.csv", 200)))
    setup.outreach("start", "--all")
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", "from pipeline.cli import main; main()", "tick", "--json"],
            env=setup.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode in (0, 1) and out, f"a tick failed ({run.returncode}): {err}"
    queued = [json.loads(out)["queued_drafts"] for out, _ in outputs]
    assert sum(queued) == 200, outputs
    assert setup.broker.queued() == 200
    worker = setup.worker()
    try:
        assert setup.wait_for_drafted(200, timeout=120) == 200
    finally:
        stop(worker)
    keys = setup.draft_keys()
    assert len(keys) == 200
    assert max(keys.values()) == 1


@pytest.mark.postgres
def test_outreach_worker_runs_dramatiq_workers_that_draft_queued_steps(setup: Setup) -> None:
    """`outreach worker` is what production runs: it drafts what the tick queued."""
    plan(setup, 20)
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from pipeline.cli import main; main()",
            "worker",
            "-p",
            "1",
            "-t",
            "2",
        ],
        env=setup.env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert setup.wait_for_drafted(20, timeout=120) == 20
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
    assert len(setup.draft_keys()) == 20
