"""``python -m tests.bench workers-scale --json``: drafts per second with 1 and 2 Dramatiq
worker processes on Redis and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC
from pathlib import Path
from typing import Any

from tests.bench._pipeline import (
    POSTGRES_URL,
    REDIS_URL,
    ROOT,
    T0,
    FixedClock,
    _children_cpu,
    contacts_workspace,
    draft_keys,
    import_and_start,
    import_contacts,
    load,
    log,
    with_machine,
)
from tests.clitools import shift_to
from tests.services import postgres_schema
from workers import worker_command

ENQUEUE = """\
import json, sys
from workers.broker import setup_broker
setup_broker(sys.argv[1])
from workers.dispatch import enqueue
enqueue([("create_draft", step) for step in json.load(sys.stdin)])
"""


def _own_namespace(url: str) -> str:
    """``url`` with a namespace of this run's own: other benches or tests sharing the
    Redis database neither take these jobs nor lose theirs to a flush."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}namespace=outreach-bench-{uuid.uuid4().hex[:10]}"


def _flush_redis(url: str) -> None:
    """Remove the keys of ``url``'s namespace (only those)."""
    import redis

    from workers.broker import split_namespace

    plain, namespace = split_namespace(url)
    client = redis.Redis.from_url(plain)
    try:
        for key in client.scan_iter(f"{namespace}:*"):
            client.delete(key)
    finally:
        client.close()


def _stop(process: subprocess.Popen[Any]) -> int | None:
    """SIGTERM the dramatiq parent we started and wait; kill its group if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    return process.returncode


def add_mailboxes(workspace: Path, count: int) -> list[str]:
    """Give the workspace ``count`` local accounts, each with a Maildir of its own (its
    own account first); their names."""
    names = ["local"]
    with (workspace / "outreach.toml").open("a", encoding="utf-8") as handle:
        for n in range(1, count):
            names.append(f"box{n:02d}")
            handle.write(
                f'\n[[accounts]]\nname = "{names[-1]}"\nkind = "local"\n'
                f'address = "alex.rivera.{n:02d}@example.edu"\nmaildir = "mail-{n:02d}"\n'
                f'calendar = "calendar-{n:02d}"\n'
            )
    return names


def maildirs(workspace: Path, count: int) -> list[Path]:
    """The Maildirs of the accounts :func:`add_mailboxes` made."""
    return [workspace / "mail"] + [workspace / f"mail-{n:02d}" for n in range(1, count)]


def start_per_mailbox(app: Any, csv_path: Path, names: list[str]) -> int:
    """Import the contacts and start an equal share of them from each account; how many
    outreaches were started."""
    import csv

    from sqlalchemy import select

    from pipeline.models import Account
    from pipeline.outreach import start_outreach

    import_contacts(app, csv_path)
    with csv_path.open(encoding="utf-8", newline="") as handle:
        emails = [row["email"] for row in csv.DictReader(handle)]
    share = -(-len(emails) // len(names))
    started = 0
    with app.store.write() as session:
        for n, name in enumerate(names):
            account = session.scalars(select(Account).where(Account.name == name)).one()
            report = start_outreach(
                session,
                account,
                emails[n * share : (n + 1) * share],
                all_contacts=False,
                now=app.now(),
                policy=app.policy,
                per_day=len(emails),
            )
            started += len(report.started)
    return started


def workers_run(
    processes: int,
    steps: int,
    *,
    threads: int = 4,
    mailboxes: int = 1,
    redis_url: str = REDIS_URL,
    postgres_url: str = POSTGRES_URL,
    timeout: float = 600.0,
) -> dict[str, Any]:
    """``steps`` due first drafts carried out by ``processes`` dramatiq worker processes,
    into one Maildir or spread over ``mailboxes`` accounts' Maildirs."""
    import sqlalchemy
    from sqlalchemy import func, select

    from pipeline.models import Step

    redis_url = _own_namespace(redis_url)
    with (
        postgres_schema(postgres_url, "bench") as database_url,
        tempfile.TemporaryDirectory(prefix="outreach-bench-workers-") as tmp,
    ):
        directory = Path(tmp)
        workspace, csv_path = contacts_workspace(directory, steps)
        names = add_mailboxes(workspace, mailboxes)
        from pipeline.app import bootstrap

        app = bootstrap(load(workspace, database_url), clock=FixedClock(T0))
        if mailboxes == 1:
            _, planned = import_and_start(app, csv_path, per_day=steps)
        else:
            planned = start_per_mailbox(app, csv_path, names)
        with app.store.read() as session:
            ids = list(session.scalars(select(Step.id).order_by(Step.id)))
            keys = set(session.scalars(select(Step.key)))
            last_due = session.scalar(select(func.max(Step.due_at)))
        app.close()
        assert last_due is not None
        env = {
            **os.environ,
            "OUTREACH_HOME": str(workspace),
            "OUTREACH_DATABASE_URL": database_url,
            "OUTREACH_BROKER_URL": redis_url,
            # The workers' clock starts when the last step is due and runs on (leases age).
            "OUTREACH_NOW": shift_to(last_due.replace(tzinfo=UTC)),
        }
        subprocess.run(
            [sys.executable, "-c", ENQUEUE, redis_url],
            input=json.dumps(ids),
            text=True,
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        log(f"workers-scale: {len(ids)} create_draft jobs queued; starting {processes} process(es)")
        engine = sqlalchemy.create_engine(database_url)
        worker_log = (directory / "workers.log").open("w")
        cpu = _children_cpu()
        started = time.perf_counter()
        process = subprocess.Popen(
            worker_command(processes, threads),
            cwd=ROOT,
            env=env,
            stdout=worker_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        first_at = None
        counts: dict[str, int] = {}
        try:
            while time.perf_counter() - started < timeout:
                with engine.connect() as conn:
                    counts = dict(
                        conn.execute(select(Step.status, func.count()).group_by(Step.status)).all()
                    )
                done = counts.get("drafted", 0)
                if done and first_at is None:
                    first_at = time.perf_counter()
                if done + counts.get("failed", 0) + counts.get("cancelled", 0) >= len(ids):
                    break
                if process.poll() is not None:
                    break
                time.sleep(0.05)
            finished = time.perf_counter()
        finally:
            exit_code = _stop(process)
            cpu = _children_cpu() - cpu
            worker_log.close()
            engine.dispose()
        found = sum((draft_keys(maildir) for maildir in maildirs(workspace, mailboxes)), Counter())
        drafted = counts.get("drafted", 0)
        seconds = finished - started
        drafting = finished - first_at if first_at is not None else None
        result: dict[str, Any] = {
            "processes": processes,
            "mailboxes": mailboxes,
            "threads_per_process": threads,
            "steps": planned,
            "steps_drafted": drafted,
            "steps_by_status": counts,
            "seconds": round(seconds, 3),
            "drafts_per_second": round(drafted / seconds, 1) if seconds else None,
            "seconds_until_first_draft": round(first_at - started, 3) if first_at else None,
            "drafts_per_second_after_first": (
                round((drafted - 1) / drafting, 1) if drafting else None
            ),
            "draft_files": sum(found.values()),
            "duplicates": sum(n - 1 for n in found.values() if n > 1),
            "steps_without_draft_file": len(keys - set(found)),
            "worker_exit_code": exit_code,
            "workers_cpu_seconds": round(cpu, 3),
        }
        if drafted != len(ids):
            tail = (directory / "workers.log").read_text(encoding="utf-8", errors="replace")
            result["worker_log_tail"] = tail[-1500:]
    _flush_redis(redis_url)
    return result


def workers_scale(
    steps: int = 1000, processes: tuple[int, ...] = (1, 2), threads: int = 4, mailboxes: int = 20
) -> dict[str, Any]:
    """Drafts per second with each number of worker processes, on Redis and PostgreSQL:
    all into one shared Maildir, then (``mailboxes`` > 1) spread evenly over that many
    accounts' Maildirs."""
    runs = {}
    for count in processes:
        log(f"workers-scale: {steps} steps, {count} process(es) x {threads} threads")
        runs[str(count)] = workers_run(count, steps, threads=threads)
    result: dict[str, Any] = {
        "steps": steps,
        "broker": REDIS_URL,
        "database": POSTGRES_URL + " (a fresh schema per run)",
        "mailbox": "local Maildir in the workspace (shared by every worker process)",
        "leaves_out": "the time to queue the jobs; the workers' start-up is counted (the "
        "*_after_first_draft speedups leave it out)",
        "runs": runs,
        "speedup_2_vs_1": _speedup(runs),
        "speedup_2_vs_1_after_first_draft": _speedup(runs, "drafts_per_second_after_first"),
    }
    every = list(runs.values())
    if mailboxes > 1:
        many = {}
        for count in processes:
            log(f"workers-scale: {steps} steps over {mailboxes} Maildirs, {count} process(es)")
            many[str(count)] = workers_run(count, steps, threads=threads, mailboxes=mailboxes)
        result["runs_many_mailboxes"] = many
        result["speedup_2_vs_1_many_mailboxes"] = _speedup(many)
        result["speedup_2_vs_1_many_mailboxes_after_first_draft"] = _speedup(
            many, "drafts_per_second_after_first"
        )
        every += list(many.values())
    result["duplicates"] = sum(run["duplicates"] for run in every)
    return result


def _speedup(runs: dict[str, dict[str, Any]], rate: str = "drafts_per_second") -> float | None:
    """Drafts per second (``rate``: from the workers' start, or from their first draft,
    start-up left out) with two processes over those with one, when both ran."""
    one, two = runs.get("1"), runs.get("2")
    if not one or not two or not one[rate] or two[rate] is None:
        return None
    ratio: float = round(two[rate] / one[rate], 2)
    return ratio


SCENARIOS = {
    "workers-scale": with_machine(workers_scale),
}
