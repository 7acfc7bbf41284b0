"""``python -m tests.bench start-growth --json``: `outreach start --all` over 1,000 and over
10,000 imported contacts, to see whether its cost grows with the contacts or faster."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench._pipeline import (
    T0,
    FixedClock,
    growth,
    import_contacts,
    local_app,
    log,
    make_workspace,
    with_machine,
    write_contacts_csv,
)


def start_all(rows: int, *, per_day: int = 10) -> dict[str, Any]:
    """Import ``rows`` contacts, then time the use case of `outreach start --all` (SQLite;
    the default pace of ``per_day`` first drafts a day, so the plan spans many days).
    Leaves out process start-up and printing the report."""
    from pipeline.usecases import start

    with tempfile.TemporaryDirectory(prefix="outreach-bench-start-") as tmp:
        workspace, csv_path = Path(tmp) / "ws", Path(tmp) / "contacts.csv"
        write_contacts_csv(csv_path, rows)
        make_workspace(workspace, per_tick=rows, per_day=per_day)
        app = local_app(workspace, FixedClock(T0))
        try:
            import_contacts(app, csv_path)
            log(f"start-growth: outreach start --all over {rows} contacts")
            cpu, started = time.process_time(), time.perf_counter()
            report = start(app, [], account=None, all_contacts=True, again=False, now=T0)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        finally:
            app.close()
    return {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "ms_cpu_per_contact": round(1000 * cpu / rows, 3),
        "started": len(report.started),
    }


def start_growth(sizes: tuple[int, ...] = (1000, 10_000)) -> dict[str, Any]:
    """`start --all` at each size (issue 11: linear in contacts)."""
    runs = {str(rows): start_all(rows) for rows in sizes}
    return growth(runs, sizes, seconds="seconds", compared="cpu_seconds", ratio="cpu_ratio")


SCENARIOS = {
    "start-growth": with_machine(start_growth),
}
