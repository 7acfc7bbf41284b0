"""Start-up: a command loads what it needs when it needs it. Showing help, or the status
of a workspace, loads none of SQLAlchemy, the providers' clients, the queue or the
templates (they cost most of a second together); the speed itself is measured by
`python -m tests.bench startup`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.clock import VARIABLE as CLOCK_VARIABLE
from tests.clitools import WORKDAY_MORNING, Cli

HEAVY = (
    "sqlalchemy",
    "alembic",
    "googleapiclient",
    "msal",
    "dramatiq",
    "icalendar",
    "jinja2",
    "pydantic",
)

PROBE = """
import sys
from pipeline.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = %r
print(sorted({name.split(".")[0] for name in sys.modules} & set(heavy)))
"""


def loaded_by(*args: str) -> str:
    env = {**os.environ, CLOCK_VARIABLE: WORKDAY_MORNING.isoformat()}
    env.pop("OUTREACH_DATABASE_URL", None)  # the embedded database, as a person starts
    done = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,), *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return done.stdout.strip().splitlines()[-1]


def test_the_help_of_the_program_and_of_a_command_loads_no_heavy_library() -> None:
    assert loaded_by("--help") == "[]"
    assert loaded_by("contacts", "import", "--help") == "[]"
    assert loaded_by("accounts", "add", "gmail", "--help") == "[]"


def test_status_of_a_settled_workspace_loads_no_heavy_library(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`outreach status`, run often by hand, reads the embedded database without the ORM
    when opening the workspace would change nothing (pipeline.quickread)."""
    monkeypatch.delenv("OUTREACH_DATABASE_URL", raising=False)
    cli = Cli(capsys, tmp_path, monkeypatch)
    assert cli("demo", str(tmp_path / "demo")).code == 0
    assert loaded_by("status", "-w", str(tmp_path / "demo")) == "[]"
