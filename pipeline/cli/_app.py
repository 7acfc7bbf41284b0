"""The typer application that every command module registers on, and the entry point."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console

from pipeline.errors import OutreachError

app = typer.Typer(
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

console = Console(soft_wrap=True)
err_console = Console(stderr=True)


def print_json(value: Any) -> None:
    """Print one JSON document on stdout, for scripts."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str) + "\n")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: runs the app and turns our errors into exit codes."""
    try:
        app(args=argv, prog_name="outreach")
    except OutreachError as err:
        err_console.print(f"[bold red]error:[/] {err}", markup=True, highlight=False)
        sys.exit(err.exit_code)
