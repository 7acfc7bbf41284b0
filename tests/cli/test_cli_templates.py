"""Workspace templates that are hostile or not UTF-8, at the command line: exit 2 naming the
file and line, no traceback. Each test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clitools import Cli, one_line

DANA = "Name,Email,Company,Position,How Found\nDana Kim,dana@example.org,Acme,analyst,a talk\n"


@pytest.mark.parametrize("command", [("templates", "check"), ("templates", "preview")])
def test_a_template_reaching_python_internals_stops_with_its_file_and_line(
    cli: Cli, tmp_path: Path, command: tuple[str, ...]
) -> None:
    cli.set_up_ada(tmp_path / "c.csv", DANA)
    path = cli.workspace / "templates" / "first_cold.txt.j2"
    path.write_text("Subject: Hi\n\n{{ cycler.__init__.__globals__.os.getcwd() }}\n")
    args = (*command, "first_cold", "Dana Kim") if command[1] == "preview" else command
    result = cli(*args)
    assert result.code == 2, result.out + result.err
    assert f"{path}:3:" in one_line(result.err)
    assert "Traceback" not in result.err
    assert str(Path.cwd()) not in result.out


def test_a_template_saved_as_latin_1_is_a_located_error(cli: Cli, tmp_path: Path) -> None:
    cli.set_up_ada(tmp_path / "c.csv", DANA)
    path = cli.workspace / "templates" / "first_cold.txt.j2"
    path.write_bytes("Subject: Grüße\n\nHi\n".encode("latin-1"))
    result = cli("templates", "preview", "first_cold", "Dana Kim")
    assert result.code == 2
    assert f"{path}:1: not UTF-8 text" in one_line(result.err)
    assert "save it as UTF-8" in one_line(result.err)
    assert "Traceback" not in result.err
