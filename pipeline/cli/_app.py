"""The typer application that every command module registers on, and the entry point."""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import typer
import typer.main
from rich.console import Console, ConsoleDimensions
from rich.table import Table
from rich.text import Text

from pipeline.errors import OutreachError

app = typer.Typer(
    rich_markup_mode=None,
    name="outreach",
    help=(
        "Run your informational-interview outreach through your own mailbox and calendar.\n\n"
        "Every message is a draft for you to approve by sending it.\n\n"
        "Start with:  outreach init, then outreach contacts import Connections.csv"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

UNLIMITED_WIDTH = 100_000
"""The width of output that goes to a pipe or a file: nothing is cut or wrapped for it."""


class _Console(Console):
    """As wide as the terminal; when the output is no terminal, as wide as a line needs
    (whatever COLUMNS says: a program reading a pipe wants whole lines)."""

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self.is_terminal:
            return size
        return ConsoleDimensions(UNLIMITED_WIDTH, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


console = _Console(soft_wrap=True)
err_console = _Console(stderr=True)


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[str]], *, title: str | None = None
) -> None:
    """Print a table under a header row; cells are plain text that folds, never cut short."""
    made = Table(title=title, show_edge=False)
    for column in columns:
        made.add_column(column, overflow="fold")
    for row in rows:
        made.add_row(*(Text(cell) for cell in row))
    console.print(made)


def input_file_problem(path: Path, kind: str) -> str | None:
    """Why ``path`` cannot be read as a ``kind`` file (e.g. "CSV or vCard"), or None."""
    if path.is_dir():
        return f"{path} is a directory; give a {kind} file"
    if not path.exists():
        return f"{path}: no such file; give a {kind} file"
    if not path.is_file():
        return f"{path} is not a regular file; give a {kind} file"
    if not os.access(path, os.R_OK):
        return f"{path}: you may not read this file; give a {kind} file you can read"
    return None


def print_json(value: Any) -> None:
    """Print one JSON document on stdout, for scripts."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str) + "\n")


def _fail(message: str, code: int) -> None:
    # The message may quote the person's data: print it as it is, never as markup.
    err_console.print(Text.assemble(("error:", "bold red"), f" {message}"), highlight=False)
    sys.exit(code)


def environment_problem(err: BaseException) -> str | None:
    """A plain sentence for a failure of the machine rather than of the work (the database
    locked, full or gone; the disk full), or None for anything else."""
    from sqlalchemy.exc import OperationalError

    if isinstance(err, OperationalError):
        reason = (str(err.orig).strip().splitlines() or ["unavailable"])[0]
        return (
            f"the database cannot be used right now ({reason}). If another `outreach` "
            "command is running, let it finish and try again; if the disk is full, free "
            "some space; for a server database, check that it is running"
        )
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full ({err.strerror}); free some space and run the command again"
    return None


PRIVATE_UMASK = 0o077
"""What outreach writes (contacts, mail, tokens) is for its owner's eyes only: folders
0700, files 0600."""


# What an option's value looks like in --help, where its name alone does not say it.
_METAVARS = {
    "workspace": "DIR",
    "directory": "DIR",
    "file": "FILE",
    "files": "FILE",
    "to": "WHERE",
    "day": "YYYY-MM-DD",
    "digest_at": "HH:MM",
    "map": "COLUMN=FIELD",
    "assignments": "FIELD=VALUE",
    "processes": "N",
    "threads": "N",
}


def _with_metavars(command: Any) -> Any:
    """Name each value in --help (ACCOUNT, DIR, HH:MM) instead of a Python type (<str>,
    <list[Path]>). Duck-typed over the command tree: Typer's click-like classes moved
    between releases."""
    for param in getattr(command, "params", ()):
        if param.metavar is not None or getattr(param, "is_flag", False):
            continue
        name = param.name or "value"
        choices = getattr(getattr(param, "type", None), "choices", None) or getattr(
            getattr(param, "type_descriptor", None), "choices", None
        )  # click's Choice, or newer Typer's descriptor of an Enum
        values = [str(getattr(c, "value", c)) for c in choices or ()]
        metavar = "|".join(values) if values else None
        metavar = metavar or _METAVARS.get(name, name.upper())
        if getattr(param, "param_type_name", "") == "argument" and hasattr(
            param, "display_type_rich"
        ):  # newer Typer shows an argument's Python type ("<list[str]>") beside its name
            param.display_type_rich = lambda ctx: None
        param.metavar = metavar
    for sub in getattr(command, "commands", {}).values():
        _with_metavars(sub)
    return command


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: runs the app and turns our errors into exit codes."""
    before = os.umask(PRIVATE_UMASK)
    try:
        _with_metavars(typer.main.get_command(app)).main(
            args=argv, prog_name="outreach", standalone_mode=True
        )
    except OutreachError as err:
        _fail(str(err), err.exit_code)
    except Exception as err:
        problem = environment_problem(err)
        if problem is None:
            raise
        _fail(problem, 1)
    finally:
        os.umask(before)
