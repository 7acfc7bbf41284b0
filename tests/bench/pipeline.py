"""Benchmarks of the whole pipeline (issue 4).

``python -m tests.bench local-idle --json``: one idle tick on a large local account.
``python -m tests.bench local-drafts --json``: 1,000 first drafts end to end, next to
mailmerge 2.3.0 sending the same rows through a local SMTP sink.
``python -m tests.bench workers-scale --json``: drafts per second with 1 and 2 Dramatiq
worker processes on Redis and PostgreSQL.
``python -m tests.bench draft-growth --json``: the first drafting tick with 1,000 and with
10,000 contacts, to see whether its cost grows with the contacts or faster.

Every scenario takes its sizes as keyword arguments (the defaults are the documented
sizes); tests/test_bench_smoke.py runs them small. Progress goes to stderr.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import IO, Any

from tests.clitools import shift_to
from tests.services import postgres_schema

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
    """A dispatcher that carries the jobs out in this thread (as tests/harness.py does)."""
    from pipeline.drafting import create_draft, prep_meeting

    def dispatch(jobs: list[tuple[str, Any]]) -> list[str]:
        for name, argument in jobs:
            (create_draft if name == "create_draft" else prep_meeting)(app, argument)
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


# --------------------------------------------------------------------------- local-idle

_MESSAGE = (
    "From: Sender {n} <sender{n}@example.com>\nTo: {me}\nSubject: message {n}\n"
    "Date: Tue, 20 Oct 2026 10:00:00 +0000\nMessage-ID: <m{n}.bench@example.com>\n\n"
    "Body of message {n}.\n"
)


def _write_messages(folder: Path, first: int, count: int) -> None:
    directory = folder / "cur"
    directory.mkdir(parents=True, exist_ok=True)
    for n in range(first, first + count):
        fd = os.open(directory / f"{1_700_000_000 + n}.R{n}.bench:2,S", os.O_WRONLY | os.O_CREAT)
        try:
            os.write(fd, _MESSAGE.format(n=n, me=ME).encode())
        finally:
            os.close(fd)


def _local_app(workspace: Path, clock: FixedClock, opener: CountingOpener | None = None) -> Any:
    from connectors.maildir import MaildirMailbox
    from connectors.vdir import VdirCalendar
    from pipeline.app import bootstrap

    extra = {"opener": opener} if opener is not None else {}
    return bootstrap(
        load(workspace),
        clock=clock,
        mailbox_factory=lambda a, _w: MaildirMailbox(
            workspace / "mail", a.address, clock=clock, **extra
        ),
        calendar_factory=lambda _a, _w: VdirCalendar(workspace / "calendar", clock=clock, **extra),
    )


_TOKEN = "x9x9x9"  # in the template contact's name and address; replaced in each copy


def _substitute(value: Any, pairs: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        for old, new in pairs:
            if old in value:
                value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {_substitute(k, pairs): _substitute(v, pairs) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, pairs) for v in value]
    return value


def build_idle_fixture(workspace: Path, contacts: int, messages: int) -> dict[str, Any]:
    """A local account with ``contacts`` outreaches sent and ``messages`` files.

    How: the Maildir's INBOX and the person's other sent mail are written directly. One
    template contact then goes through the real use cases (import, start, a tick that
    drafts into the Maildir, the draft moved to Sent as a mail client does, a tick that
    notices the send). Its database rows (contact, address, outreach, steps, message seen,
    audit events) and its entries in the Maildir's state file (seen, ours, sent_keys,
    journal) are then copied for every other contact with the contact-specific values
    replaced (ids, name, address, step keys, Message-IDs, file names), in bulk, and the
    Sent copy of each message is written from the template's file the same way.
    """
    from sqlalchemy import insert, select

    from connectors.maildir import STATE_FILE
    from pipeline.compose import message_id_for
    from pipeline.models import Base
    from pipeline.tick import run_tick

    timings: dict[str, float] = {}
    started = time.perf_counter()
    make_workspace(workspace)
    mail = workspace / "mail"
    ours_sent = contacts
    other_sent = max(0, messages // 5 - ours_sent)
    inbox = messages - ours_sent - other_sent
    if inbox < 0:
        raise ValueError("messages must be at least the number of contacts")
    log(f"local-idle: writing {inbox} INBOX and {other_sent} other Sent messages")
    _write_messages(mail, 0, inbox)
    _write_messages(mail / ".Sent", inbox, other_sent)
    timings["write_messages"] = time.perf_counter() - started

    # The template contact, through the real use cases.
    step_time = time.perf_counter()
    clock = FixedClock(T0)
    app = _local_app(workspace, clock)
    template_csv = workspace / "template.csv"
    with template_csv.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(
            [
                ["first_name", "last_name", "email", "company", "position", "how_found"],
                [
                    "Sam",
                    f"Lee-{_TOKEN}",
                    f"sam.lee.{_TOKEN}@example.org",
                    "Harbor Analytics",
                    "Data Scientist",
                    "a conference talk",
                ],
            ]
        )
    import_and_start(app, template_csv, per_day=10)
    first = run_tick(app, run_inline(app))
    drafts_dir = mail / ".Drafts" / "cur"
    (draft_name,) = os.listdir(drafts_dir)
    draft_unique = draft_name.split(":", 1)[0]
    sent_unique = f"1790001234.bench-sent-{_TOKEN}"
    raw_sent = (drafts_dir / draft_name).read_bytes()
    (mail / ".Sent" / "cur" / f"{sent_unique}:2,S").write_bytes(raw_sent)
    (drafts_dir / draft_name).unlink()
    clock.now = T0 + timedelta(minutes=40)
    second = run_tick(app, run_inline(app))
    if (first.drafts_created, second.sent, second.matched) != (1, 1, 1):
        raise RuntimeError(f"template run went wrong: {first.as_dict()} {second.as_dict()}")
    timings["template"] = time.perf_counter() - step_time

    # Copy the template's rows for every other contact.
    step_time = time.perf_counter()
    tables = [
        Base.metadata.tables[name]
        for name in ("contacts", "contact_emails", "outreaches", "steps", "messages", "events")
    ]
    with app.store.read() as session:
        template = {
            t.name: [dict(r._mapping) for r in session.execute(select(t).order_by(t.c.id))]
            for t in tables
        }
        account = session.execute(select(Base.metadata.tables["accounts"])).one()
    (contact_row,) = template["contacts"]
    old_cid = contact_row["id"]
    step_keys = [s["key"] for s in template["steps"]]
    prefix = f"{account.name}/{old_cid}/"

    def pairs_for(n: int, cid: int) -> list[tuple[str, str]]:
        token = f"{n:06d}"
        found = [(prefix, f"{account.name}/{cid}/")]
        for key in step_keys:
            new_key = key.replace(prefix, f"{account.name}/{cid}/")
            found.append((message_id_for(key, ME), message_id_for(new_key, ME)))
        found += [(draft_unique, f"{draft_unique}-{token}"), (_TOKEN, token)]
        return found

    offsets = {t.name: max((r["id"] for r in template[t.name]), default=0) for t in tables}
    sizes = {t.name: len(template[t.name]) for t in tables}
    fk = {"contact_id": "contacts", "outreach_id": "outreaches"}
    batch: dict[str, list[dict[str, Any]]] = {t.name: [] for t in tables}
    state_path = mail / STATE_FILE
    state = json.loads(state_path.read_text(encoding="utf-8"))
    entries = state["journal"]["entries"]
    journal_template = [e for e in entries if e[1].get("key") in step_keys]
    sent_template = (mail / ".Sent" / "cur" / f"{sent_unique}:2,S").read_bytes()
    sent_dir = mail / ".Sent" / "cur"

    def new_id(table: str, old: int, n: int) -> int:
        return offsets[table] + (n - 1) * sizes[table] + old

    def flush() -> None:
        with app.store.write() as session:
            for t in tables:
                if batch[t.name]:
                    session.execute(insert(t), batch[t.name])
                    batch[t.name].clear()

    for n in range(1, contacts):
        cid = new_id("contacts", old_cid, n)
        pairs = pairs_for(n, cid)
        for t in tables:
            for row in template[t.name]:
                copy = {k: _substitute(v, pairs) for k, v in row.items()}
                copy["id"] = new_id(t.name, row["id"], n)
                for column, target in fk.items():
                    if copy.get(column) is not None:
                        copy[column] = new_id(target, row[column], n)
                batch[t.name].append(copy)
        for key in step_keys:
            new_key = _substitute(key, pairs)
            if key in state["ours"]:
                state["ours"][new_key] = _substitute(state["ours"][key], pairs)
            if key in state["sent_keys"]:
                state["sent_keys"][new_key] = _substitute(state["sent_keys"][key], pairs)
        entries.extend(_substitute(e, pairs) for e in journal_template)
        unique = _substitute(sent_unique, pairs)
        state["seen"]["Sent"].append(unique)
        raw = sent_template
        for old, new in pairs:
            raw = raw.replace(old.encode(), new.encode())
        fd = os.open(sent_dir / f"{unique}:2,S", os.O_WRONLY | os.O_CREAT)
        try:
            os.write(fd, raw)
        finally:
            os.close(fd)
        if n % 2000 == 0:
            flush()
            log(f"local-idle: copied {n} of {contacts} contacts")
    flush()
    keep = 10_000  # the journal's DEFAULT_KEEP: older entries would have been pruned
    if len(entries) > keep:
        state["journal"]["floor"] = entries[-keep - 1][0]
        del entries[: len(entries) - keep]
    state["seen"]["Sent"].sort()
    tmp = state_path.with_suffix(".bench-tmp")
    tmp.write_text(json.dumps(state, separators=(",", ":")), encoding="utf-8")
    tmp.replace(state_path)
    timings["copy"] = time.perf_counter() - step_time
    app.close()
    return {
        "seconds": {k: round(v, 2) for k, v in timings.items()},
        "inbox_messages": inbox,
        "sent_messages": ours_sent + other_sent,
        "state_file_bytes": state_path.stat().st_size,
        "template_rows_per_contact": sizes,
        "idle_at": (T0 + timedelta(days=1)).isoformat(),
    }


def idle_ticks(workspace: Path, at: datetime, ticks: int) -> dict[str, Any]:
    """Idle ticks in this process: seconds and files opened for each, peak RSS."""
    from sqlalchemy import func, select

    from pipeline.models import Outreach, Step
    from pipeline.tick import run_tick

    rss_start = _own_peak_rss_mb()
    log("local-idle: tick process started")
    opener = CountingOpener()
    app = _local_app(workspace, FixedClock(at), opener)
    with app.store.read() as session:
        stages = dict(
            session.execute(select(Outreach.stage, func.count()).group_by(Outreach.stage)).all()
        )
        steps = dict(session.execute(select(Step.status, func.count()).group_by(Step.status)).all())
    rss_ready = _own_peak_rss_mb()
    log(f"local-idle: bootstrapped ({rss_ready} MB); {ticks} idle ticks")
    runs = []
    for _ in range(ticks):
        opener.count = 0
        cpu = time.process_time()
        started = time.perf_counter()
        summary = run_tick(app, run_inline(app))
        runs.append(
            {
                "seconds": round(time.perf_counter() - started, 3),
                "cpu_seconds": round(time.process_time() - cpu, 3),
                "files_opened": opener.count,
                "summary": {
                    k: v for k, v in summary.as_dict().items() if v and k not in ("kinds",)
                },
            }
        )
    app.close()
    return {
        "outreach_stages": stages,
        "step_statuses": steps,
        "ticks": runs,
        "rss_mb_at_start": rss_start,
        "rss_mb_before_ticks": rss_ready,
        "peak_rss_mb": _own_peak_rss_mb(),
        "getrusage_maxrss_mb": _rss_mb(),
    }


def _idle_child() -> None:  # pragma: no cover - run in a subprocess
    workspace, at, ticks = sys.argv[1], sys.argv[2], int(sys.argv[3])
    result = idle_ticks(Path(workspace), datetime.fromisoformat(at), ticks)
    print(json.dumps(result))


def local_idle(contacts: int = 10_000, messages: int = 100_000, ticks: int = 3) -> dict[str, Any]:
    """An idle tick on a local account with ``contacts`` sent outreaches and ``messages``
    files in the Maildir (INBOX + Sent). The ticks run in a fresh process (as cron runs
    `outreach tick`), so its peak RSS is the tick's, not the fixture builder's."""
    with tempfile.TemporaryDirectory(prefix="outreach-bench-idle-") as tmp:
        workspace = Path(tmp) / "ws"
        fixture = build_idle_fixture(workspace, contacts, messages)
        log(f"local-idle: fixture ready {fixture['seconds']}; running {ticks} idle ticks")
        code = "from tests.bench.pipeline import _idle_child; _idle_child()"
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", code, str(workspace), fixture["idle_at"], str(ticks)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"idle ticks failed (exit {done.returncode}; see stderr)")
        measured = json.loads(done.stdout.strip().splitlines()[-1])
        log(f"local-idle: tick process done in {time.perf_counter() - started:.1f} s; cleaning up")
    seconds = [t["seconds"] for t in measured["ticks"]]
    return {
        "contacts": contacts,
        "messages": messages,
        "fixture": fixture,
        "idle_tick_seconds_median": statistics.median(seconds),
        "idle_tick_seconds": seconds,
        "idle_tick_cpu_seconds": [t["cpu_seconds"] for t in measured["ticks"]],
        "idle_tick_files_opened": [t["files_opened"] for t in measured["ticks"]],
        "idle_tick_summaries": [t["summary"] for t in measured["ticks"]],
        "outreach_stages": measured["outreach_stages"],
        "step_statuses": measured["step_statuses"],
        "peak_rss_mb": measured["peak_rss_mb"],
        "rss_mb_before_ticks": measured["rss_mb_before_ticks"],
        "peak_rss_note": "of the tick process (imports, bootstrap and the ticks), from "
        "/proc/self/status VmHWM; getrusage's ru_maxrss is kept across execve on Linux, "
        "so in the child it starts at the fixture builder's size",
        "tick_process_getrusage_maxrss_mb": measured["getrusage_maxrss_mb"],
        "fixture_builder_peak_rss_mb": _rss_mb(),
    }


# ------------------------------------------------------------------------- local-drafts

MAILMERGE_TEMPLATE = """\
TO: {{first_name}} {{last_name}} <{{email}}>
SUBJECT: A question about your path to {{position}}
FROM: Alex Rivera <alex.rivera@example.edu>

Hello {{first_name}},

I'm Alex, a statistics senior at Lakeview State. I found your name through {{how_found}},
and your work as {{position}} at {{company}} is close to where I hope to go.

Could you spare twenty minutes in the coming weeks to tell me how you got there?
I'm asking for your advice only, not for a job.

With thanks,
Alex Rivera
"""

SINK = """\
import sys
from aiosmtpd.controller import Controller

class Sink:
    accepted = 0
    async def handle_DATA(self, server, session, envelope):
        Sink.accepted += 1
        return "250 OK"

controller = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
print(Sink.accepted, flush=True)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mailmerge_venv() -> Path:
    """The benchmark's own venv with mailmerge and aiosmtpd (made on first use)."""
    python = MAILMERGE_VENV / "bin" / "python"
    if (MAILMERGE_VENV / "bin" / "mailmerge").exists() and (
        MAILMERGE_VENV / "bin" / "aiosmtpd"
    ).exists():
        return MAILMERGE_VENV
    log(f"creating {MAILMERGE_VENV} with {' '.join(MAILMERGE_PACKAGES)}")
    MAILMERGE_VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["python3", "-m", "venv", str(MAILMERGE_VENV)], check=True, capture_output=True)
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *MAILMERGE_PACKAGES],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        shutil.rmtree(MAILMERGE_VENV, ignore_errors=True)
        raise RuntimeError(f"pip install failed: {done.stderr.strip()[-1000:]}")
    return MAILMERGE_VENV


def run_mailmerge(csv_path: Path, rows: int, directory: Path) -> dict[str, Any]:
    """mailmerge --no-dry-run over ``csv_path`` into an aiosmtpd sink on a free port."""
    try:
        venv = mailmerge_venv()
    except (OSError, RuntimeError, subprocess.SubprocessError) as err:
        return {"error": f"mailmerge could not be installed: {err}"}
    port = _free_port()
    (directory / "sink.py").write_text(SINK, encoding="utf-8")
    (directory / "template.txt").write_text(MAILMERGE_TEMPLATE, encoding="utf-8")
    (directory / "server.conf").write_text(
        f"[smtp_server]\nhost = 127.0.0.1\nport = {port}\n", encoding="utf-8"
    )
    sink = subprocess.Popen(
        [str(venv / "bin" / "python"), str(directory / "sink.py"), str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sink.stdout is not None and sink.stdin is not None
        if sink.stdout.readline().strip() != "ready":
            return {"error": "the SMTP sink did not start"}
        command = [
            str(venv / "bin" / "mailmerge"),
            "--no-dry-run",
            "--no-limit",
            "--output-format",
            "raw",
            "--template",
            str(directory / "template.txt"),
            "--database",
            str(csv_path),
            "--config",
            str(directory / "server.conf"),
        ]
        cpu = _children_cpu()
        started = time.perf_counter()
        done = subprocess.run(command, cwd=directory, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        cpu = _children_cpu() - cpu
        sink.stdin.close()
        accepted = int(sink.stdout.readline().strip() or 0)
    finally:
        if sink.poll() is None:
            sink.wait(timeout=10)
    started = time.perf_counter()
    subprocess.run([str(venv / "bin" / "mailmerge"), "--version"], capture_output=True, check=False)
    startup = time.perf_counter() - started
    result: dict[str, Any] = {
        "did": "rendered each row and sent it over SMTP to an aiosmtpd sink on 127.0.0.1",
        "rows": rows,
        "messages_accepted_by_sink": accepted,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "messages_per_second": round(accepted / seconds, 1) if seconds else None,
        "process_startup_seconds": round(startup, 3),
        "exit_code": done.returncode,
    }
    if done.returncode != 0:
        result["error"] = done.stderr.strip()[-1000:]
    return result


def local_drafts(rows: int = 1000, mailmerge: bool = True) -> dict[str, Any]:
    """``rows`` first-outreach drafts end to end on the local default (SQLite, Maildir,
    stub broker drained in process), and mailmerge 2.3.0 sending the same rows."""
    from sqlalchemy import func, select

    from pipeline.models import Step
    from pipeline.tick import run_tick
    from workers.broker import setup_broker
    from workers.dispatch import dispatcher
    from workers.runtime import use_app

    with tempfile.TemporaryDirectory(prefix="outreach-bench-drafts-") as tmp:
        directory = Path(tmp)
        workspace, csv_path = contacts_workspace(directory, rows)
        clock = FixedClock(T0)
        app = _local_app(workspace, clock)
        setup_broker("stub://")
        use_app(app)
        try:
            log(f"local-drafts: importing and starting {rows} contacts")
            cpu = time.process_time()
            started = time.perf_counter()
            imported, planned = import_and_start(app, csv_path, per_day=rows)
            prepared = time.perf_counter() - started
            prepared_cpu = time.process_time() - cpu
            log("local-drafts: one tick")
            cpu = time.process_time()
            started = time.perf_counter()
            summary = run_tick(app, dispatcher())
            tick_seconds = time.perf_counter() - started
            tick_cpu = time.process_time() - cpu
            with app.store.read() as session:
                drafted = session.scalar(
                    select(func.count(Step.id)).where(Step.status == "drafted")
                )
        finally:
            use_app(None)
            app.close()
        keys = draft_keys(workspace / "mail")
        pipeline = {
            "did": "imported the CSV, planned the first outreach, and one tick drafted each "
            "message into the Maildir's Drafts (SQLite, stub broker, one worker thread)",
            "contacts_imported": imported,
            "outreach_started": planned,
            "import_and_start_seconds": round(prepared, 3),
            "import_and_start_cpu_seconds": round(prepared_cpu, 3),
            "tick_seconds": round(tick_seconds, 3),
            "tick_cpu_seconds": round(tick_cpu, 3),
            "drafts_in_maildir": sum(keys.values()),
            "steps_drafted": drafted,
            "tick_errors": summary.errors[:5],
            "drafts_per_second": round(drafted / tick_seconds, 1) if tick_seconds else None,
            "drafts_per_second_end_to_end": round(drafted / (tick_seconds + prepared), 1),
        }
        result: dict[str, Any] = {"rows": rows, "pipeline": pipeline}
        if mailmerge:
            log(f"local-drafts: mailmerge over the same {rows} rows")
            merged = run_mailmerge(csv_path, rows, directory)
            result["mailmerge"] = merged
            if merged.get("messages_per_second") and pipeline["drafts_per_second"]:
                result["pipeline_to_mailmerge_ratio"] = round(
                    pipeline["drafts_per_second"] / merged["messages_per_second"], 3
                )
        else:
            result["mailmerge"] = {"skipped": True}
    return result


# ------------------------------------------------------------------------- draft-growth


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
        app = _local_app(workspace, FixedClock(T0))
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


def contacts_import(rows: int = 50_000) -> dict[str, Any]:
    """`outreach contacts import` of a ``rows``-row CSV into a new workspace, in process
    (parsing and writing; process start-up left out), then the same file again."""
    with tempfile.TemporaryDirectory(prefix="outreach-bench-import-") as tmp:
        workspace, csv_path = contacts_workspace(Path(tmp), rows)
        app = _local_app(workspace, FixedClock(T0))
        runs = []
        try:
            for _ in range(2):
                started = time.perf_counter()
                report = import_contacts(app, csv_path)
                seconds = time.perf_counter() - started
                runs.append(
                    {
                        "seconds": round(seconds, 3),
                        "rows_per_second": round(rows / seconds, 1),
                        "created": report.created,
                        "unchanged": report.unchanged,
                    }
                )
        finally:
            app.close()
    return {"rows": rows, "first_import": runs[0], "same_file_again": runs[1]}


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
    result: dict[str, Any] = {f"seconds_{rows}": runs[str(rows)]["tick_seconds"] for rows in sizes}
    result["runs"] = runs
    if len(sizes) >= 2:
        small, large = min(sizes), max(sizes)
        ratio = runs[str(large)]["tick_seconds"] / runs[str(small)]["tick_seconds"]
        result[f"ratio_{large}_to_{small}"] = round(ratio, 2)
        result["linear_would_be"] = round(large / small, 2)
    return result


# ------------------------------------------------------------------------ workers-scale

ENQUEUE = """\
import json, sys
from workers.broker import setup_broker
setup_broker(sys.argv[1])
from workers.dispatch import enqueue
enqueue([("create_draft", step) for step in json.load(sys.stdin)])
"""


def _flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
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


def workers_run(
    processes: int,
    steps: int,
    *,
    threads: int = 4,
    redis_url: str = REDIS_URL,
    postgres_url: str = POSTGRES_URL,
    timeout: float = 600.0,
) -> dict[str, Any]:
    """``steps`` due first drafts carried out by ``processes`` dramatiq worker processes."""
    import sqlalchemy
    from sqlalchemy import func, select

    from pipeline.models import Step

    _flush_redis(redis_url)
    with (
        postgres_schema(postgres_url, "bench") as database_url,
        tempfile.TemporaryDirectory(prefix="outreach-bench-workers-") as tmp,
    ):
        directory = Path(tmp)
        workspace, csv_path = contacts_workspace(directory, steps)
        from pipeline.app import bootstrap

        app = bootstrap(load(workspace, database_url), clock=FixedClock(T0))
        _, planned = import_and_start(app, csv_path, per_day=steps)
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
            [
                sys.executable,
                "-m",
                "dramatiq",
                "workers.actors",
                "-p",
                str(processes),
                "-t",
                str(threads),
            ],
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
        found = draft_keys(workspace / "mail")
        drafted = counts.get("drafted", 0)
        seconds = finished - started
        drafting = finished - first_at if first_at is not None else None
        result: dict[str, Any] = {
            "processes": processes,
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
    steps: int = 1000, processes: tuple[int, ...] = (1, 2), threads: int = 4
) -> dict[str, Any]:
    """Drafts per second with each number of worker processes, on Redis and PostgreSQL."""
    runs = {}
    for count in processes:
        log(f"workers-scale: {steps} steps, {count} process(es) x {threads} threads")
        runs[str(count)] = workers_run(count, steps, threads=threads)
    return {
        "steps": steps,
        "broker": REDIS_URL,
        "database": POSTGRES_URL + " (a fresh schema per run)",
        "mailbox": "local Maildir in the workspace (shared by every worker process)",
        "runs": runs,
    }


SCENARIOS = {
    "local-idle": with_machine(local_idle),
    "local-drafts": with_machine(local_drafts),
    "workers-scale": with_machine(workers_scale),
    "draft-growth": with_machine(draft_growth),
    "contacts-import": with_machine(contacts_import),
}
