"""Exactly once, whatever crashes or retries: real worker processes, Redis or RabbitMQ,
PostgreSQL.

Given 500 due first-outreach steps, when the whole `outreach worker` process group is
killed with SIGKILL while a step is being drafted, or the mailbox fails a fifth of its
calls, or two ticks run at once, then every step ends with exactly one draft in the
Maildir and none is lost. And when one worker process dies, Dramatiq stops the others,
so a supervisor must start them again.

Each test runs on both production brokers, on queues of its own: a Redis namespace, or a
RabbitMQ virtual host made for the test and deleted after it, so that test runs sharing
one Redis or one RabbitMQ never see or delete each other's queues."""

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
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import pytest
import redis
import sqlalchemy

from tests import paths
from tests.clitools import WORKDAY_MORNING, shift_to
from tests.conftest import AMQP_URL, IN_CI, REDIS_URL, require_service
from tests.services import ServiceUnavailable, rabbitmq_vhost
from workers.broker import QUEUE
from workers.dispatch import DRAFT_BATCH

ROOT = paths.ROOT
CLI = [sys.executable, "-c", "from pipeline.cli import main; main()"]
STEPS = 500
LEASE_SECONDS = 2
KILL_ATTEMPTS = 5
"""Kills tried before the test gives up on landing one while a step is being drafted."""
FIRST_KILL_AFTER = 100
KILL_AGAIN_AFTER = 50
"""The first kill comes once 100 steps are drafted; each further one 50 drafts later."""

TOML = f"""
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
step_lease_seconds = {LEASE_SECONDS}
"""


def contacts_csv(path: Path, count: int) -> Path:
    rows = ["name,email,organization,role,how_found"]
    rows += [
        f"Person {n},person{n}@example.org,Org {n % 17},analyst,the alumni directory"
        for n in range(count)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def processes() -> Iterator[tuple[int, int, int]]:
    """(pid, parent pid, process group) of every process that runs (zombies do not), from
    /proc."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if fields[0] not in ("Z", "X"):
            yield int(stat.parent.name), int(fields[1]), int(fields[2])


def live_members(group: int) -> list[int]:
    """The processes of process group ``group`` that still run."""
    if not Path("/proc").is_dir():  # no procfs: ask the kernel whether the group has any
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return []
        return [group]
    return [pid for pid, _, pgrp in processes() if pgrp == group]


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL every process of ``process``'s group, as a machine crash would, and return
    once none of them runs any more (so none can still commit anything)."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while (left := live_members(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"processes {left} of the killed group still run"


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a worker the way a service manager does: SIGTERM to the main process (Dramatiq
    passes it on to its children); whatever is left after 60 s is killed."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=60)
    kill_group(process)


class Broker:
    """A production broker as the tests see it: its URL and its queue length."""

    url: str

    def queued(self) -> int:
        raise NotImplementedError


class RedisQueues(Broker):
    def __init__(self) -> None:
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
        try:
            for key in client.scan_iter(f"{self.namespace}:*"):
                client.delete(key)
        finally:
            client.close()


class RabbitQueues(Broker):
    def __init__(self, url: str) -> None:
        self.url = url  # on a virtual host of this test's own

    def queued(self) -> int:
        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        try:
            declared = connection.channel().queue_declare(QUEUE, passive=True)
            return int(declared.method.message_count)
        finally:
            connection.close()


def own_broker(kind: str, cleanup: ExitStack) -> Broker:
    """Queues of this test's own on the ``kind`` broker, removed by ``cleanup``."""
    if kind == "redis":
        require_service("Redis", "127.0.0.1", 6379)
        queues = RedisQueues()
        cleanup.callback(queues.clear)
        return queues
    require_service("RabbitMQ", "127.0.0.1", 5672)
    try:
        return RabbitQueues(cleanup.enter_context(rabbitmq_vhost(AMQP_URL)))
    except ServiceUnavailable as err:
        if IN_CI:
            pytest.fail(f"{err}; CI runs as root, where rabbitmqctl can make one")
        pytest.skip(str(err))


class Setup:
    def __init__(self, workspace: Path, env: dict[str, str], broker: Broker) -> None:
        self.workspace = workspace
        self.env = env
        self.broker = broker
        self.workers: list[subprocess.Popen[bytes]] = []
        self.logs = workspace.parent / "worker-logs"
        self.logs.mkdir()

    def outreach(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*CLI, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
        )
        assert result.returncode in (0, 1), result.stderr
        return result

    def outreach_worker(self, processes: int = 1, threads: int = 4) -> subprocess.Popen[bytes]:
        """The real `outreach worker -p PROCESSES -t THREADS` (which execs `dramatiq
        workers.actors`: a main process and its worker processes), in a process group of
        its own; its output goes to worker-logs/."""
        log = self.logs / f"outreach-worker-{len(self.workers) + 1}.log"
        with log.open("ab") as output:
            process = subprocess.Popen(
                [*CLI, "worker", "-p", str(processes), "-t", str(threads)],
                env=self.env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.workers.append(process)
        return process

    def flaky_worker(self, fault_rate: float) -> subprocess.Popen[bytes]:
        """tests/workerproc.py: the actors in one process, on a mailbox that fails a share
        of its calls (a test-side mailbox, which `outreach worker` cannot be given)."""
        env = {**self.env, "OUTREACH_TEST_FAULT_RATE": str(fault_rate)}
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.workerproc"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.workers.append(process)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == b"worker ready"
        process.stdout.close()
        return process

    def worker_logs(self) -> str:
        """The last lines each `outreach worker` wrote, for a failure message."""
        tails = []
        for log in sorted(self.logs.glob("*.log")):
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
            tails.append(f"--- {log.name}\n" + "\n".join(lines[-15:]))
        return "\n".join(tails)

    def retake_stale_claims(self) -> None:
        """What the next cron tick does once the lease has passed: queue again the steps
        whose claim a vanished worker held (and whose queue message it took along)."""
        time.sleep(LEASE_SECONDS + 0.5)
        self.outreach("tick")

    def _query(self, sql: str) -> list[tuple[Any, ...]]:
        engine = sqlalchemy.create_engine(self.env["OUTREACH_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.exec_driver_sql(sql)]
        finally:
            engine.dispose()

    def statuses(self) -> Counter[str]:
        """How many steps are in each status."""
        rows = self._query("SELECT status, count(*) FROM steps GROUP BY status")
        return Counter({str(status): int(count) for status, count in rows})

    def step_keys(self) -> Counter[str]:
        return Counter(str(key) for (key,) in self._query("SELECT key FROM steps"))

    def drafted(self) -> int:
        return self.statuses()["drafted"]

    def wait_for_drafted(self, count: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.drafted()
            if done >= count:
                return done
            time.sleep(0.1)
        return self.drafted()

    def draft_keys(self) -> Counter[str]:
        """The X-Outreach-Key of every draft in the Maildir, with how many drafts carry it."""
        keys: Counter[str] = Counter()
        folder = self.workspace / "mail" / ".Drafts"
        for path in list((folder / "cur").glob("*")) + list((folder / "new").glob("*")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            keys[str(message["X-Outreach-Key"])] += 1
        return keys


@pytest.fixture(
    params=[
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
    ]
)
def setup(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str) -> Iterator[Setup]:
    with ExitStack() as cleanup:
        broker = own_broker(request.param, cleanup)
        workspace = tmp_path / "ws"
        workspace.mkdir()
        (workspace / "outreach.toml").write_text(TOML, encoding="utf-8")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")},
            "OUTREACH_HOME": str(workspace),
            "OUTREACH_DATABASE_URL": postgres_url,
            "OUTREACH_BROKER_URL": broker.url,
            # Every process runs on one clock that starts on a workday morning and runs on,
            # so that the send window is open and claims age past their lease at any hour.
            "OUTREACH_NOW": shift_to(WORKDAY_MORNING),
        }
        made = Setup(workspace, env, broker)
        try:
            yield made
        finally:
            for process in made.workers:  # a test that failed half-way leaves none behind
                kill_group(process)


def plan(setup: Setup, count: int) -> None:
    setup.outreach("contacts", "import", str(contacts_csv(setup.workspace / "c.csv", count)))
    setup.outreach("start", "--all")
    setup.outreach("tick")  # queues every due step on the broker


@dataclass(frozen=True)
class Kill:
    attempt: int
    statuses: Counter[str]
    drafts_in_maildir: int


def kill_mid_draft(setup: Setup) -> Kill:
    """Start `outreach worker` and SIGKILL its whole process group once some steps are
    drafted; again (a bounded number of times, each time further on) until a kill lands
    while at least one step is `drafting`, claimed by a worker that is now gone."""
    seen: list[Counter[str]] = []
    for attempt in range(1, KILL_ATTEMPTS + 1):
        if attempt > 1:
            setup.retake_stale_claims()  # the killed worker took queue messages along
        worker = setup.outreach_worker()
        target = setup.drafted() + (FIRST_KILL_AFTER if attempt == 1 else KILL_AGAIN_AFTER)
        reached = setup.wait_for_drafted(target, timeout=180)
        kill_group(worker)
        statuses = setup.statuses()  # right after the kill: no process of it runs any more
        seen.append(statuses)
        if statuses["drafting"]:
            return Kill(attempt, statuses, sum(setup.draft_keys().values()))
        assert reached >= target, (
            f"`outreach worker` drafted only {reached} of {target} steps in 180 s\n"
            + setup.worker_logs()
        )
        if statuses["drafted"] + KILL_AGAIN_AFTER > STEPS:
            break  # too little work left to kill in the middle of
    pytest.fail(
        f"no kill landed while a step was being drafted, in {len(seen)} attempts; "
        f"the steps' statuses right after each kill: {[dict(s) for s in seen]}"
    )


@pytest.mark.postgres
def test_a_worker_group_killed_mid_draft_loses_no_step_and_duplicates_no_draft(
    setup: Setup,
) -> None:
    """Given 500 due first-outreach steps that the real `outreach worker` is drafting,
    when its whole process group is SIGKILLed (as a machine crash would) while at least
    one step is being drafted, and a new `outreach worker` starts and the next tick runs,
    then every step ends drafted, with exactly one draft in the Maildir each."""
    plan(setup, STEPS)
    kill = kill_mid_draft(setup)
    print(  # shown with -rP or -s: how the kill landed
        f"kill {kill.attempt}: steps {dict(kill.statuses)}, {kill.drafts_in_maildir} drafts "
        "in the Maildir"
    )
    assert 0 < kill.statuses["drafted"] < STEPS

    second = setup.outreach_worker()
    try:
        setup.retake_stale_claims()
        done = setup.wait_for_drafted(STEPS, timeout=180)
    finally:
        stop(second)
    assert done == STEPS, setup.worker_logs()
    assert setup.statuses() == Counter({"drafted": STEPS})
    assert setup.draft_keys() == setup.step_keys()  # one draft per step, each key once


@pytest.mark.postgres
def test_a_mailbox_failing_a_fifth_of_its_calls_still_gives_one_draft_per_step(
    setup: Setup,
) -> None:
    """Given 500 due steps, when the mailbox fails a fifth of its create_draft calls (half
    of them after the draft was made, as when the answer is lost on its way back), then
    retries and the next tick leave exactly one draft per step.

    The worker is tests/workerproc.py, not `outreach worker`: the failing mailbox is a
    test-side wrapper, which only a worker built in the test can be given."""
    plan(setup, STEPS)
    worker = setup.flaky_worker(fault_rate=0.2)
    try:
        done = setup.wait_for_drafted(STEPS, timeout=180)
        if done < STEPS:  # a step whose retries ran out comes back with the next tick
            setup.retake_stale_claims()
            done = setup.wait_for_drafted(STEPS, timeout=120)
    finally:
        stop(worker)
    assert done == STEPS
    assert setup.draft_keys() == setup.step_keys()


@pytest.mark.postgres
def test_two_ticks_at_once_enqueue_each_step_once(setup: Setup) -> None:
    """Given 200 planned steps, when two ticks run at once, then between them they queue
    each step once (200 messages on the broker), and `outreach worker` drafts each once."""
    setup.outreach("contacts", "import", str(contacts_csv(setup.workspace / "c.csv", 200)))
    setup.outreach("start", "--all")
    runs = [
        subprocess.Popen(
            [*CLI, "tick", "--json"],
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
    # 200 steps on the broker, in batches of DRAFT_BATCH (the one tick that claimed them)
    assert setup.broker.queued() == -(-200 // DRAFT_BATCH)
    worker = setup.outreach_worker()
    try:
        done = setup.wait_for_drafted(200, timeout=120)
    finally:
        stop(worker)
    assert done == 200, setup.worker_logs()
    assert setup.draft_keys() == setup.step_keys()


@pytest.mark.postgres
def test_when_one_worker_process_dies_dramatiq_stops_them_all(setup: Setup) -> None:
    """Given `outreach worker -p 2` with both worker processes ready, when one of them is
    SIGKILLed, then Dramatiq stops the other one too and exits with an error: nothing
    starts them again, which is why the workers run under a supervisor (`outreach
    service` prints a systemd unit with Restart=always)."""
    if not Path("/proc").is_dir():
        pytest.skip("needs /proc to find Dramatiq's worker processes")
    worker = setup.outreach_worker(processes=2, threads=1)
    log = setup.logs / "outreach-worker-1.log"
    deadline = time.monotonic() + 120
    while log.read_text(errors="replace").count("ready for action") < 2:
        assert worker.poll() is None, setup.worker_logs()
        assert time.monotonic() < deadline, setup.worker_logs()
        time.sleep(0.2)
    children = [pid for pid, parent, _ in processes() if parent == worker.pid]
    assert len(children) == 2, children
    os.kill(children[0], signal.SIGKILL)
    assert worker.wait(timeout=60) != 0
    deadline = time.monotonic() + 30
    while live_members(worker.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert live_members(worker.pid) == []  # the other worker process stopped as well
