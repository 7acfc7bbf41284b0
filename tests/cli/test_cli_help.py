"""Every command explains itself: --help in plain words, values named, examples intact."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer.main

from pipeline.cli import app
from tests.clitools import Cli


def _paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        found += _paths(sub, (*prefix, name))
    return found


COMMANDS = _paths(typer.main.get_command(app))


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("COLUMNS", "100")
    return Cli(capsys, tmp_path / "ws", monkeypatch)


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) or "outreach" for p in COMMANDS])
def test_help_names_values_in_words_and_keeps_examples_on_their_lines(
    cli: Cli, path: tuple[str, ...]
) -> None:
    result = cli(*path, "--help")
    assert result.code == 0, result.err
    assert re.search(r"<(str|int|bool|path|list\[[a-z]+\])>", result.out, re.I) is None
    leaf = not getattr(_command(path), "commands", None)
    if leaf:
        assert re.search(r"Examples?:\n( {4}\S.*\n)+", result.out), result.out


def _command(path: tuple[str, ...]) -> Any:
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


def test_start_help_names_the_setting_with_its_table(cli: Cli) -> None:
    """Square brackets in help texts are text, not markup: the table name survives."""
    assert "[limits] new_outreach_per_day" in " ".join(cli("start", "--help").out.split())
