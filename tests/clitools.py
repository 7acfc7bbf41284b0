"""Run the `outreach` command in-process, as a person would type it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli import main
from pipeline.clock import VARIABLE as CLOCK_VARIABLE

WORKDAY_MORNING = datetime.fromisoformat("2026-12-08T10:00:00+00:00")
"""A Tuesday at 10:00 UTC: inside the default send window, whatever the real hour."""


def shift_to(start: datetime) -> str:
    """An $OUTREACH_NOW value for processes that must share one running clock: the system
    clock moved so that it reads ``start`` now, and runs on from there."""
    seconds = (start - datetime.now(UTC)).total_seconds()
    return f"{'-' if seconds < 0 else '+'}{abs(seconds):.3f}s"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


class Cli:
    """`cli("start", "--all")` runs `outreach -w WORKSPACE start --all`-like commands, on
    a clock the test sets (a workday morning unless told otherwise), never the real one."""

    def __init__(
        self,
        capsys: pytest.CaptureFixture[str],
        workspace: Path,
        monkeypatch: pytest.MonkeyPatch,
        now: datetime = WORKDAY_MORNING,
    ) -> None:
        self.capsys = capsys
        self.workspace = workspace
        self.monkeypatch = monkeypatch
        self.at(now)

    def at(self, now: datetime) -> None:
        """Set the time that the commands run from now on read ($OUTREACH_NOW)."""
        self.now = now
        self.monkeypatch.setenv(CLOCK_VARIABLE, now.isoformat())

    def __call__(self, *args: str) -> Result:
        self.capsys.readouterr()
        code = 0
        try:
            main(list(args))
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def set_up_ada(self, contacts_csv: Path, contacts: str, *, timezone: str = "UTC") -> None:
        """`outreach init` for Ada Park, a biology senior in ``timezone``, then the import
        of ``contacts`` (CSV text, written to ``contacts_csv``)."""
        made = self(
            "init",
            "--name",
            "Ada Park",
            "--email",
            "ada@example.edu",
            "--background",
            "a biology senior",
            "--field",
            "public health",
            "--intro",
            "I study biology.",
            "--timezone",
            timezone,
        )
        assert made.code == 0, made.err
        contacts_csv.write_text(contacts, encoding="utf-8")
        imported = self("contacts", "import", str(contacts_csv))
        assert imported.code == 0, imported.err


def local_ada(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    contacts: str,
) -> Cli:
    """Ada's workspace in ``tmp_path/ws`` on the local defaults (SQLite, no broker, the
    Maildir and vdir), with ``contacts`` imported."""
    workspace = tmp_path / "ws"
    monkeypatch.setenv("OUTREACH_HOME", str(workspace))
    monkeypatch.delenv("OUTREACH_DATABASE_URL", raising=False)
    monkeypatch.delenv("OUTREACH_BROKER_URL", raising=False)
    cli = Cli(capsys, workspace, monkeypatch)
    cli.set_up_ada(tmp_path / "contacts.csv", contacts)
    return cli


def ada_with_file_tokens(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    contacts: str,
) -> Cli:
    """Ada's workspace as ``local_ada`` makes it, keeping sign-ins in its secrets/ folder
    whatever keyring the machine has: what a provider's sign-in test starts from."""
    monkeypatch.setattr("connectors.tokens.working_keyring", lambda: None)
    return local_ada(capsys, tmp_path, monkeypatch, contacts)


def one_line(text: str) -> str:
    """A message as one line (the console wraps long ones at the terminal's width)."""
    return " ".join(text.split())
