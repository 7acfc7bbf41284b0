"""`outreach classify`: what kind of mail each file is, as a table or JSON lines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pipeline.cli._app import app, console, print_json
from pipeline.errors import InputError
from pipeline.inbound import Inbound, understand


def _summary(result: Inbound) -> str:
    if result.bounce is not None:
        return f"{result.bounce.type}: {', '.join(result.bounce.recipients) or '?'}"
    if result.meeting is not None:
        data = result.to_json()["meeting"]
        return f"{data['method']} {data['start'] or '?'} → {data['end'] or '?'}"
    if result.return_date is not None:
        return f"back {result.return_date.isoformat()}"
    if result.kind == "human_reply":
        first_line = (result.reply_text or "").strip().split("\n", 1)[0]
        return f"{result.intent}: {first_line[:60]}"
    return ""


@app.command()
def classify(
    files: Annotated[
        list[Path], typer.Argument(help="Raw mail files (.eml) or calendar files (.ics).")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per file and line, in input order.")
    ] = False,
    own: Annotated[
        list[str] | None,
        typer.Option("--own", help="Your own address (repeatable): never counted as a referral."),
    ] = None,
) -> None:
    """Tell what each mail file is: human reply, automatic reply, bounce, meeting, other.

    Example:  outreach classify reply.eml bounce.eml --json --own me@example.com
    """
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        raise InputError(f"no such file: {', '.join(missing)} (give paths to .eml or .ics files)")
    rows: list[dict[str, Any]] = []
    results: list[Inbound] = []
    for path in files:
        result = understand(path.read_bytes(), own_addresses=own or ())
        results.append(result)
        rows.append({"file": str(path), **result.to_json()})
    if as_json:
        for row in rows:
            print_json(row)
        return
    table = Table(title="Inbound mail")
    for column in ("file", "kind", "details", "reason"):
        table.add_column(column, overflow="fold")
    for path, result in zip(files, results, strict=True):
        table.add_row(str(path), result.kind, _summary(result), result.reason)
    console.print(table)
