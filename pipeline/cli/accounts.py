"""`outreach accounts list|add`."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from pipeline.cli._app import app, console, print_json, print_table
from pipeline.cli._common import JsonOption, WorkspaceOption, opened
from pipeline.connect import local_path
from pipeline.emails import InvalidEmail, normalize_email
from pipeline.errors import InputError
from pipeline.models import Account
from pipeline.settings import (
    WORKSPACE_FILE,
    Settings,
    account_name_problem,
    load_settings,
    outlook_option_problem,
    settings_from,
    workspace_dir,
)

accounts_app = typer.Typer(
    help="The mailboxes and calendars outreach works in.", no_args_is_help=True
)
app.add_typer(accounts_app, name="accounts")
add_app = typer.Typer(help="Add an account.", no_args_is_help=True)
accounts_app.add_typer(add_app, name="add")


@accounts_app.command("list")
def list_(json_: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """The accounts of outreach.toml and whether each needs you to re-authorize it.

    \b
    Example:
      outreach accounts list --json
    """
    with opened(workspace) as ctx, ctx.store.read() as session:
        flags = {a.name: a for a in session.scalars(select(Account))}
        rows = [
            {
                "name": a.name,
                "kind": a.kind,
                "address": a.address,
                "needs_reauth": bool(flags[a.name].needs_reauth) if a.name in flags else False,
                "reason": flags[a.name].reauth_reason if a.name in flags else None,
            }
            for a in ctx.settings.accounts
        ]
    if json_:
        print_json(rows)
        return
    if not rows:
        console.print(
            "No accounts yet; add one with `outreach accounts add local`, `gmail` or `outlook`."
        )
        return
    print_table(
        ("name", "kind", "address", "state"),
        (
            (
                str(row["name"]),
                str(row["kind"]),
                str(row["address"]),
                f"needs re-authorization: {row['reason']}" if row["needs_reauth"] else "ok",
            )
            for row in rows
        ),
    )


def _checked(name: str, address: str) -> str:
    """The normalized address, once the account's name and address are both usable."""
    problem = account_name_problem(name)
    if problem is not None:
        raise InputError(f"--name: {problem}")
    try:
        return normalize_email(address)
    except InvalidEmail as err:
        raise InputError(f"--address {address!r}: {err}") from None


def _exists(settings: Settings, name: str) -> bool:
    """Whether an account is named ``name``; an error when one is named so but for case."""
    for account in settings.accounts:
        if account.name.casefold() == name.casefold() and account.name != name:
            raise InputError(
                f"--name {name}: account {account.name!r} differs only in letter case; "
                "give this account another name, or use that one"
            )
    return any(account.name == name for account in settings.accounts)


def append_account(workspace: Path, entry: dict[str, str]) -> None:
    """Add an [[accounts]] table to outreach.toml, validated before the file is replaced."""
    path = workspace / WORKSPACE_FILE
    settings = load_settings(workspace)
    if _exists(settings, entry["name"]):
        raise InputError(f"{path}: an account named {entry['name']!r} exists already")
    for option, default in (("maildir", "mail"), ("calendar", "calendar")):
        wanted = local_path(workspace, entry.get(option), default)
        taken = [
            a.name
            for a in settings.accounts
            if a.kind == "local" and local_path(workspace, getattr(a, option), default) == wanted
        ]
        if entry.get(option) and taken:
            raise InputError(
                f"--{option} {entry[option]}: account {taken[0]!r} uses that folder already; "
                f"give this account a folder of its own with --{option}"
            )
    block = "\n[[accounts]]\n" + "".join(
        f"{key} = {json.dumps(value, ensure_ascii=False)}\n" for key, value in entry.items()
    )
    text = path.read_text(encoding="utf-8") + block
    settings_from(tomllib.loads(text), workspace, str(path))  # checked before it is written
    temporary = path.with_suffix(".toml.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


@add_app.command("local")
def add_local(
    address: Annotated[str, typer.Option(help="Your address in this mailbox.")],
    name: Annotated[str, typer.Option(help="A short name for the account.")] = "local",
    maildir: Annotated[
        str, typer.Option(help="Maildir path (relative: in the workspace).")
    ] = "mail",
    calendar: Annotated[
        str, typer.Option(help="vdir path (relative: in the workspace).")
    ] = "calendar",
    workspace: WorkspaceOption = None,
) -> None:
    """A Maildir and a vdir, e.g. the ones mbsync and vdirsyncer keep in sync with a server.

    \b
    Example:
      outreach accounts add local --name uni --address ada@uni.example.edu \\
        --maildir ~/Mail/uni --calendar ~/.calendars/uni/personal
    """
    normalized = _checked(name, address)
    home = workspace_dir(workspace)
    append_account(
        home,
        {
            "name": name,
            "kind": "local",
            "address": normalized,
            "maildir": maildir,
            "calendar": calendar,
        },
    )
    console.print(f"Added account {name} ({normalized}); `outreach tick` will sync it.")


@add_app.command("gmail")
def add_gmail(
    address: Annotated[str, typer.Option(help="Your Gmail or Google Workspace address.")],
    client_secrets: Annotated[
        Path, typer.Option("--client-secrets", help="OAuth client JSON (Desktop app type).")
    ],
    name: Annotated[str, typer.Option(help="A short name for the account.")] = "gmail",
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the address instead of opening it.")
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Authorize a Gmail account (drafts, reading mail, the digest) and its calendar.

    Opens Google's consent page; the refresh token goes to the OS keyring, or to a 0600
    file in the workspace when there is none. Run it again to re-authorize an account.

    \b
    Example:
      outreach accounts add gmail --address ada@gmail.com --client-secrets client.json
    """
    from connectors.google_auth import authorize

    if not client_secrets.is_file():
        raise InputError(
            f"--client-secrets {client_secrets}: no such file; download the "
            "OAuth client JSON (application type: Desktop app) from your Google "
            "Cloud project"
        )
    normalized = _checked(name, address)
    home = workspace_dir(workspace)
    settings = load_settings(home)
    exists = _exists(settings, name)
    authorize(name, home, client_secrets, open_browser=not no_browser)
    if not exists:
        append_account(home, {"name": name, "kind": "gmail", "address": normalized})
    with opened(workspace) as ctx, ctx.store.write() as session:
        for row in session.scalars(select(Account).where(Account.name == name)):
            row.needs_reauth, row.reauth_reason = False, None
    verb = "Re-authorized" if exists else "Added"
    console.print(f"{verb} Gmail account {name} ({normalized}).")


@add_app.command("outlook")
def add_outlook(
    address: Annotated[str, typer.Option(help="Your Outlook.com or Microsoft 365 address.")],
    client_id: Annotated[
        str | None,
        typer.Option(
            "--client-id",
            help="Application (client) ID of the app registration (yours or your school's).",
        ),
    ] = None,
    tenant: Annotated[
        str,
        typer.Option(
            help="common, organizations, consumers, or your organization's tenant id or domain."
        ),
    ] = "common",
    name: Annotated[str, typer.Option(help="A short name for the account.")] = "outlook",
    device_code: Annotated[
        bool,
        typer.Option(
            "--device-code",
            help="Sign in with a code on another device (a terminal without a browser, SSH).",
        ),
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Authorize an Outlook or Microsoft 365 account (drafts, reading mail, the digest)
    and its calendar, through Microsoft Graph.

    Asks for Mail.ReadWrite, Calendars.ReadWrite and User.Read (and a refresh token);
    never Mail.Send. msal's token cache goes to the OS keyring, or to a 0600 file in the
    workspace when there is none. Run it again to re-authorize an account.

    \b
    Example:
      outreach accounts add outlook --address ada@uni.example.edu \\
        --client-id 3f2b8e1c-9d4a-4c6e-8b7f-0a1b2c3d4e5f \\
        --tenant organizations --device-code
    """
    from connectors.outlook_auth import authorize_device_code, authorize_interactive
    from connectors.outlook_open import new_session
    from connectors.tokens import token_store

    normalized = _checked(name, address)
    home = workspace_dir(workspace)
    settings = load_settings(home)
    exists = _exists(settings, name)
    configured = next((a for a in settings.accounts if a.name == name), None)
    client = client_id or (configured.client_id if configured else None)
    if not client:
        raise InputError(
            "--client-id is required: register an app in Microsoft Entra (see the README, "
            "Connecting a mailbox and calendar), or ask your career office for theirs"
        )
    for option, value in (("client_id", client), ("tenant", tenant)):
        problem = outlook_option_problem(option, value)
        if problem is not None:
            raise InputError(f"--{option.replace('_', '-')} {problem}")
    store = token_store(home, provider="microsoft")
    if device_code:
        signed_in = authorize_device_code(
            name,
            store,
            client_id=client,
            tenant=tenant,
            show=console.print,
            http_client=new_session(),
        )
    else:
        signed_in = authorize_interactive(
            name,
            store,
            client_id=client,
            tenant=tenant,
            login_hint=normalized,
            http_client=new_session(),
        )
    if signed_in and signed_in.lower() != normalized:
        console.print(
            f"Note: you signed in as {signed_in}; outreach uses the mailbox of {normalized}."
        )
    if not exists:
        append_account(
            home,
            {
                "name": name,
                "kind": "outlook",
                "address": normalized,
                "tenant": tenant,
                "client_id": client,
            },
        )
    with opened(workspace) as ctx, ctx.store.write() as session:
        for row in session.scalars(select(Account).where(Account.name == name)):
            row.needs_reauth, row.reauth_reason = False, None
    verb = "Re-authorized" if exists else "Added"
    console.print(f"{verb} Outlook account {name} ({normalized}).")
