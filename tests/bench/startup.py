"""``python -m tests.bench startup --json``: how long a command takes to start, as a
person running it feels it: `outreach --help`, `outreach contacts import --help`, and
`outreach status` in a workspace with a few contacts, each a fresh process.

Figures per command: wall and CPU seconds (the children's user + system time), median and
range over ``runs`` runs, after one warm-up run (a cold disk cache is not what is measured).
Python's bytecode cache is on, as in an installed copy, even where the environment turns
it off (PYTHONDONTWRITEBYTECODE): compiling our modules at every start is not what a person
waits for. The status workspace is settled (opened once before), as on any day after the
first.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench._pipeline import with_machine

CONTACTS = "name,email,organization\n" + "".join(
    f"Person {i},person{i}@example.org,Org {i}\n" for i in range(20)
)


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _figures(samples: list[tuple[float, float]]) -> dict[str, Any]:
    walls = [w for w, _ in samples]
    cpus = [c for _, c in samples]
    return {
        "wall_median_s": round(statistics.median(walls), 3),
        "wall_range_s": [round(min(walls), 3), round(max(walls), 3)],
        "cpu_median_s": round(statistics.median(cpus), 3),
        "cpu_range_s": [round(min(cpus), 3), round(max(cpus), 3)],
    }


def startup(runs: int = 7) -> dict[str, Any]:
    outreach = [sys.executable, "-m", "pipeline"]
    with tempfile.TemporaryDirectory(prefix="outreach-bench-startup-") as tmp:
        workspace = Path(tmp) / "ws"
        env = {
            **os.environ,
            "OUTREACH_HOME": str(workspace),
            "OUTREACH_NOW": "2026-12-08T10:00:00+00:00",
        }
        env.pop("OUTREACH_DATABASE_URL", None)
        env.pop("OUTREACH_BROKER_URL", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        init = [*outreach, "init", "--name", "Ada Park", "--email", "ada@example.edu"]
        subprocess.run([*init, "--timezone", "UTC"], env=env, check=True, capture_output=True)
        contacts = Path(tmp) / "contacts.csv"
        contacts.write_text(CONTACTS, encoding="utf-8")
        imported = [*outreach, "contacts", "import", str(contacts)]
        subprocess.run(imported, env=env, check=True, capture_output=True)
        commands = {
            "help": [*outreach, "--help"],
            "contacts_import_help": [*outreach, "contacts", "import", "--help"],
            "status": [*outreach, "status"],
        }
        result: dict[str, Any] = {"runs": runs, "bytecode_cache": True}
        for name, argv in commands.items():
            _timed(argv, env)  # warm-up
            result[name] = _figures([_timed(argv, env) for _ in range(runs)])
    return result


SCENARIOS = {"startup": with_machine(startup)}
