"""Run the `outreach` command in-process, as a person would type it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli import main


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
    """`cli("start", "--all")` runs `outreach -w WORKSPACE start --all`-like commands."""

    def __init__(self, capsys: pytest.CaptureFixture[str], workspace: Path) -> None:
        self.capsys = capsys
        self.workspace = workspace

    def __call__(self, *args: str) -> Result:
        self.capsys.readouterr()
        code = 0
        try:
            main(list(args))
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)
