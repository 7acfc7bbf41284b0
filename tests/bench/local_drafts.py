"""``python -m tests.bench local-drafts --json``: 1,000 first drafts end to end, next to
mailmerge 2.3.0 sending the same rows through a local SMTP sink."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench._pipeline import (
    MAILMERGE_PACKAGES,
    MAILMERGE_VENV,
    T0,
    FixedClock,
    _children_cpu,
    contacts_workspace,
    draft_keys,
    import_and_start,
    local_app,
    log,
    with_machine,
)

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
        app = local_app(workspace, clock)
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


SCENARIOS = {
    "local-drafts": with_machine(local_drafts),
}
