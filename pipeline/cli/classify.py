"""`outreach classify`: what kind of mail each file is, as a table or JSON lines."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pipeline.cli._app import app, input_file_problem, print_json, print_table
from pipeline.errors import InputError

if TYPE_CHECKING:
    from pipeline.inbound import Inbound


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

    \b
    Examples:
      outreach classify reply.eml bounce.eml
      outreach classify ~/Mail/new/* --json --own me@example.com
    """
    problems = [input_file_problem(path, "mail (.eml) or calendar (.ics)") for path in files]
    unreadable = [problem for problem in problems if problem is not None]
    if unreadable:
        raise InputError("\n".join(unreadable))
    rows: list[dict[str, Any]] = []
    from pipeline.inbound import understand

    results: list[Inbound] = []
    for path in files:
        result = understand(path.read_bytes(), own_addresses=own or ())
        results.append(result)
        rows.append({"file": str(path), **result.to_json()})
    if as_json:
        for row in rows:
            print_json(row)
        return
    print_table(
        ("file", "kind", "details", "reason"),
        (
            (str(path), result.kind, _summary(result), result.reason)
            for path, result in zip(files, results, strict=True)
        ),
        title="Inbound mail",
    )
