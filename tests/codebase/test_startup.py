"""Start-up: a command loads what it needs when it needs it. Showing help loads none of
the store, the providers' clients, the queue or the templates (they cost most of a
second together); the speed itself is measured by `python -m tests.bench startup`."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sqlalchemy", "alembic", "googleapiclient", "msal", "dramatiq", "icalendar", "jinja2")

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
    done = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def test_the_help_of_the_program_and_of_a_command_loads_no_heavy_library() -> None:
    assert loaded_by("--help") == "[]"
    assert loaded_by("contacts", "import", "--help") == "[]"
    assert loaded_by("accounts", "add", "gmail", "--help") == "[]"
