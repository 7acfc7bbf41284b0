"""Handing jobs to the workers: drained in this process on the stub broker, enqueued on
Redis or RabbitMQ for `outreach worker` processes."""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable
from typing import Any

from dramatiq import Worker

from workers.broker import QUEUE, is_stub, setup_broker

Progress = Callable[[int, int], None]
_booted: set[int] = set()
_boot_lock = threading.Lock()
_workers: dict[int, Worker] = {}


def _worker(broker: Any, threads: int) -> Worker:
    """One in-process worker per broker, started on first use and stopped at exit
    (a Worker registers middleware on its broker, so it is not made twice)."""
    with _boot_lock:
        worker = _workers.get(id(broker))
        if worker is None:
            worker = Worker(broker, queues={QUEUE}, worker_timeout=20, worker_threads=threads)
            worker.start()
            _workers[id(broker)] = worker
            atexit.register(worker.stop)
        return worker


def _boot(broker: Any) -> None:
    # TimeLimit (and other middleware) start their machinery on process_boot, which only
    # the dramatiq CLI emits; an embedded worker must emit it itself, once.
    with _boot_lock:
        if id(broker) not in _booted:
            broker.emit_after("process_boot")
            _booted.add(id(broker))


DRAFT_BATCH = 20
"""Steps drafted per job: each job claims its steps in one transaction and records their
drafts in another, so the database work per draft shrinks with the batch; a batch stays
small enough to be done well within the step lease, and to spread over the workers."""


def batch_drafts(jobs: list[tuple[str, Any]], size: int = DRAFT_BATCH) -> list[tuple[str, Any]]:
    """The same jobs, with the create_draft ones grouped into create_drafts batches of at
    most ``size`` steps (in the order given, ahead of the other jobs)."""
    steps = [argument for name, argument in jobs if name == "create_draft"]
    batches: list[tuple[str, Any]] = [
        ("create_drafts", steps[start : start + size]) for start in range(0, len(steps), size)
    ]
    return batches + [(name, argument) for name, argument in jobs if name != "create_draft"]


def enqueue(jobs: list[tuple[str, Any]]) -> None:
    from workers.actors import ACTORS

    for name, argument in batch_drafts(jobs):
        ACTORS[name].send(argument)


def drain(
    jobs: list[tuple[str, Any]], *, threads: int = 1, progress: Progress | None = None
) -> list[str]:
    """Run ``jobs`` to completion on the stub broker in this process; return the dead
    letters (jobs that failed for good), described without their arguments' contents."""
    broker = setup_broker()
    if not is_stub(broker):
        raise RuntimeError("drain() needs the stub broker")
    _boot(broker)
    dead_before = len(broker.dead_letters)
    enqueue(jobs)
    total = len(jobs)
    worker = _worker(broker, threads)
    if progress is not None:
        while True:
            queued = broker.queues[QUEUE].qsize() + broker.queues[f"{QUEUE}.DQ"].qsize()
            progress(max(total - queued, 0), total)
            if queued == 0:
                break
            time.sleep(0.05)
    broker.join(QUEUE, fail_fast=False)
    worker.join()
    if progress is not None:
        progress(total, total)
    return [
        f"{message.actor_name}({_argument(message)})"
        for message in broker.dead_letters[dead_before:]
    ]


def _argument(message: Any) -> str:
    """A dead letter's argument, for a person: an id, or a batch's ids."""
    if not message.args:
        return ""
    first = message.args[0]
    return ", ".join(map(str, first)) if isinstance(first, list) else str(first)


def dispatcher(progress: Progress | None = None) -> Callable[[list[tuple[str, Any]]], list[str]]:
    """drain on the stub broker, enqueue on a real one."""
    broker = setup_broker()
    if is_stub(broker):
        return lambda jobs: drain(jobs, progress=progress)

    def send(jobs: list[tuple[str, Any]]) -> list[str]:
        enqueue(jobs)
        return []

    return send
