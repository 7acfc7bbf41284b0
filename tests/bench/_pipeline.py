"""What the whole-pipeline benchmarks share (issue 4): the profile and workspace they run
in, contacts files, the machine's figures (peak memory, CPU), and a few steps of the
pipeline run inline. Each scenario is its own module beside this one; every scenario
takes its sizes as keyword arguments (the defaults are the documented sizes), and
tests/integration/test_bench_smoke.py runs them small. Progress goes to stderr."""

from __future__ import annotations

import csv
import dataclasses
import os
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]

PROFILE = {
    "name": "Alex Rivera",
    "email": "alex.rivera@example.edu",
    "school": "Lakeview State University, class of 2026",
    "background": "a senior at Lakeview State studying statistics",
    "field": "public-interest data science",
    "intro": "I'm Alex, a statistics senior at Lakeview State.",
    "timezone": "America/New_York",
    "signature": "Alex Rivera\nLakeview State University, class of 2026",
}
ME = PROFILE["email"]
# A Monday, 10:00 in New York: inside the default send window, so first drafts are due.
T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)

REDIS_URL = os.environ.get("OUTREACH_BENCH_REDIS", "redis://127.0.0.1:6379/14")
POSTGRES_URL = os.environ.get(
    "OUTREACH_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MAILMERGE_VENV = Path(
    os.environ.get(
        "OUTREACH_BENCH_MAILMERGE_VENV",
        Path.home() / ".cache" / "outreach-bench" / "mailmerge-venv",
    )
)
MAILMERGE_PACKAGES = ("mailmerge==2.3.0", "aiosmtpd")

_FIRST = ("Maya", "Daniel", "Priya", "Tomasz", "Aisha", "Jonah", "Lena", "Omar", "Rosa", "Kenji")
_LAST = ("Okafor", "Reyes", "Raman", "Nowak", "Bello", "Feld", "Berg", "Haddad", "Lima", "Sato")
_ORGS = ("Northwind Health", "City Data Lab", "Harbor Analytics", "Civic Metrics", "OpenCounty")
_ROLES = ("Data Scientist", "Epidemiologist", "Policy Analyst", "Research Engineer")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class FixedClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


class CountingOpener:
    """The connectors' file opener, counting what it opens."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, path: Path) -> IO[bytes]:
        self.count += 1
        return path.open("rb")


def _rss_mb() -> float:
    """Peak RSS of this process so far (resource.getrusage), in MB.

    Linux keeps ru_maxrss across execve, so a process started by a bigger one reports at
    least its parent's size at the fork; :func:`_own_peak_rss_mb` does not."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _own_peak_rss_mb() -> float | None:
    """Peak RSS of this program image (VmHWM: reset by execve), in MB; None off Linux."""
    try:
        with Path("/proc/self/status").open(encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _children_cpu() -> float:
    """CPU seconds (user + system) of the waited-for child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def with_machine(scenario: Any) -> Any:
    """Add the machine's CPU count and load (the box may be shared) to a scenario's figures."""

    def run(**sizes: Any) -> dict[str, Any]:
        before = os.getloadavg()[0]
        result: dict[str, Any] = scenario(**sizes)
        result["machine"] = {
            "cpus": os.cpu_count(),
            "load_average_1m_before": round(before, 2),
            "load_average_1m_after": round(os.getloadavg()[0], 2),
        }
        return result

    run.__name__, run.__doc__ = scenario.__name__, scenario.__doc__
    return run


# ------------------------------------------------------------------------------ helpers


def write_contacts_csv(path: Path, rows: int, *, first: int = 0) -> None:
    """A generic contacts CSV; the same file feeds the pipeline and mailmerge."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["first_name", "last_name", "email", "company", "position", "how_found"])
        for n in range(first, first + rows):
            given, family = _FIRST[n % len(_FIRST)], _LAST[(n // len(_FIRST)) % len(_LAST)]
            writer.writerow(
                [
                    given,
                    f"{family}-{n:06d}",
                    f"{given.lower()}.{family.lower()}.{n:06d}@example.org",
                    _ORGS[n % len(_ORGS)],
                    _ROLES[n % len(_ROLES)],
                    "the Lakeview State alumni directory" if n % 3 == 0 else "a conference talk",
                ]
            )


def make_workspace(directory: Path, *, per_tick: int = 200, per_day: int = 10) -> None:
    """`outreach init` for the bench profile, with the [limits] the scenario needs."""
    from pipeline.workspace import create_workspace

    create_workspace(directory, PROFILE)
    with (directory / "outreach.toml").open("a", encoding="utf-8") as handle:
        handle.write(
            f"\n[limits]\ndrafts_per_tick = {per_tick}\nnew_outreach_per_day = {per_day}\n"
        )


def contacts_workspace(directory: Path, rows: int) -> tuple[Path, Path]:
    """A workspace in ``directory`` that may draft ``rows`` messages in one tick and a
    day (up to the settings' limit of 10,000), and a contacts CSV of ``rows`` people."""
    workspace, csv_path = directory / "ws", directory / "contacts.csv"
    write_contacts_csv(csv_path, rows)
    make_workspace(workspace, per_tick=rows, per_day=min(rows, 10_000))
    return workspace, csv_path


def load(directory: Path, database_url: str | None = None) -> Any:
    from pipeline.settings import load_settings

    settings = load_settings(directory)
    if database_url:
        settings = dataclasses.replace(settings, database_url=database_url)
    return settings


def import_contacts(app: Any, csv_path: Path) -> Any:
    """`outreach contacts import`, in process; its report."""
    from pipeline.contacts import import_records, parse_contacts

    with app.store.write() as session:
        return import_records(
            session,
            parse_contacts(csv_path),
            source=csv_path.name,
            skip_invalid=False,
            now=app.now(),
        )


def import_and_start(app: Any, csv_path: Path, per_day: int) -> tuple[int, int]:
    """`outreach contacts import` and `outreach start --all`, in process."""
    from sqlalchemy import select

    from pipeline.models import Account
    from pipeline.outreach import start_outreach

    imported = import_contacts(app, csv_path)
    with app.store.write() as session:
        account = session.scalars(select(Account)).one()
        report = start_outreach(
            session,
            account,
            [],
            all_contacts=True,
            now=app.now(),
            policy=app.policy,
            per_day=per_day,
        )
    return imported.created, len(report.started)


def run_inline(app: Any) -> Any:
    """A dispatcher that carries the jobs out in this thread, in the batches the workers
    get them in (workers.dispatch.batch_drafts)."""
    from pipeline.drafting import create_drafts, discard_step, prep_meeting
    from workers.dispatch import batch_drafts

    def dispatch(jobs: list[tuple[str, Any]]) -> list[str]:
        for name, argument in batch_drafts(jobs):
            if name == "create_drafts":
                create_drafts(app, argument)
            elif name == "discard_draft":
                discard_step(app, argument)
            else:
                prep_meeting(app, argument)
        return []

    return dispatch


def draft_keys(maildir: Path) -> Counter[str]:
    """X-Outreach-Key of every file in Drafts, counted."""
    parser = BytesHeaderParser()
    keys: Counter[str] = Counter()
    for sub in ("cur", "new"):
        directory = maildir / ".Drafts" / sub
        if not directory.is_dir():
            continue
        for name in os.listdir(directory):
            with (directory / name).open("rb") as handle:
                headers = parser.parse(handle)
            keys[str(headers.get("X-Outreach-Key", ""))] += 1
    return keys


def local_app(workspace: Path, clock: FixedClock, opener: CountingOpener | None = None) -> Any:
    from connectors.maildir import MaildirMailbox
    from connectors.vdir import VdirCalendar
    from pipeline.app import bootstrap

    extra: dict[str, Any] = {"opener": opener} if opener is not None else {}
    return bootstrap(
        load(workspace),
        clock=clock,
        mailbox_factory=lambda a, _w: MaildirMailbox(
            workspace / "mail", a.address, clock=clock, **extra
        ),
        calendar_factory=lambda _a, _w: VdirCalendar(workspace / "calendar", clock=clock, **extra),
    )


def growth(
    runs: dict[str, dict[str, Any]],
    sizes: tuple[int, ...],
    *,
    seconds: str,
    compared: str,
    ratio: str,
) -> dict[str, Any]:
    """The figures of a scenario run at several sizes: each size's ``seconds``, every
    run, and how ``compared`` grew from the smallest size to the largest (``ratio``),
    beside what linear growth would give."""
    result: dict[str, Any] = {f"seconds_{rows}": runs[str(rows)][seconds] for rows in sizes}
    result["runs"] = runs
    if len(sizes) >= 2:
        small, large = min(sizes), max(sizes)
        grown = runs[str(large)][compared] / runs[str(small)][compared]
        result[f"{ratio}_{large}_to_{small}"] = round(grown, 2)
        result["linear_would_be"] = round(large / small, 2)
    return result
