"""``python -m tests.bench local-idle --json``: one idle tick on a large local account."""

from __future__ import annotations

import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.bench._pipeline import (
    ME,
    ROOT,
    T0,
    CountingOpener,
    FixedClock,
    _own_peak_rss_mb,
    _rss_mb,
    import_and_start,
    local_app,
    log,
    make_workspace,
    run_inline,
    with_machine,
)

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
    app = local_app(workspace, clock)
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
    app = local_app(workspace, FixedClock(at), opener)
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
        code = "from tests.bench.local_idle import _idle_child; _idle_child()"
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


SCENARIOS = {
    "local-idle": with_machine(local_idle),
}
