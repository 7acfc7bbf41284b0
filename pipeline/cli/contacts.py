"""`outreach contacts import|list|show`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli._app import app, console, input_file_problem, print_json, print_table
from pipeline.cli._common import JsonOption, WorkspaceOption, opened, progress_bar
from pipeline.contacts import FIELDS, FORMATS, mapped_field
from pipeline.errors import InputError

contacts_app = typer.Typer(help="Import and look at your contacts.", no_args_is_help=True)
app.add_typer(contacts_app, name="contacts")


def _parse_map(entries: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for entry in entries:
        column, sep, target = entry.partition("=")
        if not sep or not column.strip() or not target.strip():
            raise InputError(f'--map {entry!r}: expected COLUMN=FIELD, e.g. --map "Mail=email"')
        if mapped_field(target) is None:
            raise InputError(
                f"--map {entry}: unknown field {target.strip()}; fields: {', '.join(FIELDS)}"
            )
        mapping[column.strip()] = target.strip()
    return mapping


@contacts_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV or vCard file.", show_default=False)],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help=f"One of {', '.join(FORMATS)} (default: detected)."),
    ] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="COLUMN=FIELD for a generic CSV; repeat it."),
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid rows, report the rest.")
    ] = False,
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Import contacts from LinkedIn, Google or Outlook CSV exports, vCard, or any CSV.

    Each contact needs a name, or at least a first name. Nothing is written
    when a row has a problem (each is listed with its line and column) unless
    --skip-invalid; nothing at all when the file as a whole has one, or when
    no row is valid. Importing a file again only fills what is still empty.
    Rows are matched to your contacts by email address; a row without one by
    name and organization (people of one name with different addresses are
    kept apart).

    \b
    Examples:
      outreach contacts import ~/Downloads/Connections.csv
      outreach contacts import people.csv --map "Mail=email" --map "Firm=organization"
    """
    from pipeline.contacts import import_contacts, parse_contacts

    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    mapping = _parse_map(map_ or [])
    unreadable = input_file_problem(file, "CSV or vCard")
    if unreadable is not None:
        raise InputError(unreadable)
    parsed = parse_contacts(file, fmt=fmt, mapping=mapping or None)
    show = not json_ and sys.stderr.isatty()
    with opened(workspace) as ctx, progress_bar("importing contacts", show=show) as progress:
        report = import_contacts(
            ctx, parsed, source=file.name, skip_invalid=skip_invalid, progress=progress
        )
    if json_:
        merged = [{"line": line, "into": into} for line, into in parsed.merged]
        print_json({**report.as_dict(), "merged": merged})
        return
    console.print(
        f"{file.name} ({report.format}): {report.created} new, {report.updated} updated, "
        f"{report.unchanged} unchanged; {report.without_email} without an email address "
        "(kept, but they cannot be started until you add one).",
        highlight=False,
    )
    matched = report.matched_by_name
    console.print(
        report.MATCHING + (f" {matched} matched by name and organization." if matched else ""),
        highlight=False,
    )
    for line, into in parsed.merged:
        console.print(
            f"  line {line} has an address of line {into}: merged into it (one person)",
            highlight=False,
        )
    for note in report.kept_apart:
        console.print(f"  {note}", highlight=False)
    for problem in report.skipped:
        console.print(f"  skipped {problem}", highlight=False)


@contacts_app.command("list")
def list_(
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """List contacts with their address, organization and outreach stage.

    \b
    Example:
      outreach contacts list --json
    """
    from pipeline.contacts import list_contacts

    with opened(workspace) as ctx:
        rows = list_contacts(ctx)
    if json_:
        print_json(rows)
        return
    print_table(
        ("id", "name", "email", "organization", "role", "stage"),
        (
            (
                str(row["id"]),
                row["name"],
                row["email"] or "-",
                row["organization"] or "",
                row["role"] or "",
                row["stage"] or ("-" if row["email"] else "no email"),
            )
            for row in rows
        ),
    )
    console.print(f"{len(rows)} contacts")


@contacts_app.command("show")
def show(
    contact: Annotated[str, typer.Argument(help="Contact by id, email or name.")],
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Everything known about one contact, their outreach stage and your notes.

    \b
    Example:
      outreach contacts show "Dana Kim"
    """
    from pipeline.contacts import show_contact

    with opened(workspace) as ctx:
        data = show_contact(ctx, contact)
    if json_:
        print_json(data)
        return
    for key, value in data.items():
        if value in (None, "", [], {}):
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            value = "; ".join(str(v) for v in value)
        console.print(f"[bold]{key.replace('_', ' '):>15}[/] {value}", highlight=False)


@contacts_app.command("set")
def set_(
    contact: Annotated[str, typer.Argument(help="Contact by id, email or name.")],
    assignments: Annotated[
        list[str], typer.Argument(help="FIELD=VALUE pairs; an empty VALUE clears the field.")
    ],
    workspace: WorkspaceOption = None,
) -> None:
    """Fill or correct a contact's fields, e.g. what `outreach templates check` reported.

    Fields: first_name, last_name, organization, role, field, how_found, referred_by,
    timezone, notes, email (adds an address as the primary one), custom.NAME. Steps that
    failed for want of a field are planned again for the next tick.

    \b
    Examples:
      outreach contacts set "Sam Ortiz" role="program manager" how_found="the career fair"
      outreach contacts set 12 email=sam.ortiz@example.net custom.school="State U"
    """
    from pipeline.contacts import set_contact_fields

    pairs: dict[str, str] = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f'{item!r}: expected FIELD=VALUE, e.g. role="data analyst"')
        pairs[name.strip()] = value
    with opened(workspace) as ctx:
        name, changed = set_contact_fields(ctx, contact, pairs)
    console.print(f"{name}: updated {', '.join(changed)}.", highlight=False)
