"""``python -m tests.bench draft-growth --json``: the first drafting tick with 1,000 and with
10,000 contacts, to see whether its cost grows with the contacts or faster."""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.bench._pipeline import (
    T0,
    FixedClock,
    contacts_workspace,
    draft_keys,
    growth,
    import_and_start,
    local_app,
    log,
    run_inline,
    with_machine,
)


def first_tick(rows: int, *, profile: Path | None = None) -> dict[str, Any]:
    """Import and start ``rows`` contacts, then time the first tick, which drafts every
    one of them into the Maildir (SQLite, drafts carried out inline in this thread).
    ``profile``: write a cProfile of the tick there."""
    from sqlalchemy import func, select

    from pipeline.models import Step
    from pipeline.tick import run_tick

    with tempfile.TemporaryDirectory(prefix="outreach-bench-growth-") as tmp:
        directory = Path(tmp)
        workspace, csv_path = contacts_workspace(directory, rows)
        app = local_app(workspace, FixedClock(T0))
        try:
            log(f"draft-growth: importing and starting {rows} contacts")
            started = time.perf_counter()
            import_and_start(app, csv_path, per_day=rows)
            prepared = time.perf_counter() - started
            log(f"draft-growth: the first tick over {rows} contacts")
            counts = count_sql(app.store.engine)
            profiler = None
            if profile is not None:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            cpu = time.process_time()
            started = time.perf_counter()
            summary = run_tick(app, run_inline(app))
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu
            if profiler is not None and profile is not None:
                profiler.disable()
                profiler.dump_stats(str(profile))
            with app.store.read() as session:
                drafted = session.scalar(
                    select(func.count(Step.id)).where(Step.status == "drafted")
                )
        finally:
            app.close()
        files = sum(draft_keys(workspace / "mail").values())
    return {
        "import_and_start_seconds": round(prepared, 3),
        "tick_seconds": round(seconds, 3),
        "tick_cpu_seconds": round(cpu, 3),
        "ms_cpu_per_draft": round(1000 * cpu / drafted, 2) if drafted else None,
        "sql_statements_per_draft": round(counts["statements"] / drafted, 2) if drafted else None,
        "write_transactions_per_draft": (
            round(counts["write_transactions"] / drafted, 2) if drafted else None
        ),
        "transactions_per_draft": round(counts["transactions"] / drafted, 2) if drafted else None,
        "steps_drafted": drafted,
        "drafts_in_maildir": files,
        "tick_errors": summary.errors[:5],
    }


def count_sql(engine: Any) -> Counter[str]:
    """Counts, from now on, the SQL statements ``engine`` runs and its transactions (the
    write ones apart: they begin with the store's write option)."""
    from sqlalchemy import event

    from pipeline.store import WRITE_OPTION

    counts: Counter[str] = Counter()

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(*_args: Any) -> None:
        counts["statements"] += 1

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        counts["transactions"] += 1
        if connection.get_execution_options().get(WRITE_OPTION):
            counts["write_transactions"] += 1

    return counts


def draft_growth(sizes: tuple[int, ...] = (1000, 10_000)) -> dict[str, Any]:
    """The first drafting tick at each size (issue 11: linear in contacts, the largest at
    most its share times the smallest's). Times the tick only: the import and start are
    reported apart, process start-up is left out."""
    runs = {str(rows): first_tick(rows) for rows in sizes}
    return growth(runs, sizes, seconds="tick_seconds", compared="tick_seconds", ratio="ratio")


SCENARIOS = {
    "draft-growth": with_machine(draft_growth),
}
