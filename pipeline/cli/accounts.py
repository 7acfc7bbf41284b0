"""`outreach accounts list|add|remove`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli._app import app, console, print_json, print_table
from pipeline.cli._common import JsonOption, WorkspaceOption, opened
from pipeline.errors import InputError
from pipeline.settings import load_settings, outlook_option_problem, workspace_dir

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
    from pipeline.account_setup import reauth_flags

    with opened(workspace) as ctx:
        flags = reauth_flags(ctx)
        rows = [
            {
                "name": a.name,
                "kind": a.kind,
                "address": a.address,
                "needs_reauth": a.name in flags,
                "reason": flags.get(a.name),
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
    from pipeline.account_setup import append_account, checked_address

    normalized = checked_address(name, address)
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
    from pipeline.account_setup import (
        account_exists,
        checked_address,
    )

    if not client_secrets.is_file():
        raise InputError(
            f"--client-secrets {client_secrets}: no such file; download the "
            "OAuth client JSON (application type: Desktop app) from your Google "
            "Cloud project"
        )
    normalized = checked_address(name, address)
    home = workspace_dir(workspace)
    settings = load_settings(home)
    exists = account_exists(settings, name)
    authorize(name, home, client_secrets, open_browser=not no_browser)
    _signed_in(workspace, {"name": name, "kind": "gmail", "address": normalized}, exists)


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
    from pipeline.account_setup import (
        account_exists,
        checked_address,
    )

    normalized = checked_address(name, address)
    home = workspace_dir(workspace)
    settings = load_settings(home)
    exists = account_exists(settings, name)
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
    entry = {
        "name": name,
        "kind": "outlook",
        "address": normalized,
        "tenant": tenant,
        "client_id": client,
    }
    _signed_in(workspace, entry, exists)


def _signed_in(workspace: Path | None, entry: dict[str, str], exists: bool) -> None:
    """After a sign-in: the account written to outreach.toml when new, its steps free to
    run again, and what happened said."""
    from pipeline.account_setup import append_account, authorized_again

    if not exists:
        append_account(workspace_dir(workspace), entry)
    with opened(workspace) as ctx:
        authorized_again(ctx, entry["name"])
    verb = "Re-authorized" if exists else "Added"
    label = {"gmail": "Gmail", "outlook": "Outlook"}[entry["kind"]]
    console.print(f"{verb} {label} account {entry['name']} ({entry['address']}).")


@accounts_app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="The account's name (see `outreach accounts list`).")],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask; needed when not at a terminal.")
    ] = False,
    keep_access: Annotated[
        bool,
        typer.Option(
            "--keep-access",
            help="Only forget the sign-in here; leave outreach's access at the provider.",
        ),
    ] = False,
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Sign an account out: withdraw outreach's access at Google, delete the stored
    sign-in, and take the account out of outreach.toml.

    Its outreach stays in the history; anything still under way waits, and carries on if
    you add an account of the same name again. Drafts already in the mailbox stay there.
    Microsoft offers no way for an app to withdraw its own access: for Outlook the sign-in
    is deleted here and the command says where to remove the app's access.

    \b
    Examples:
      outreach accounts remove gmail
      outreach accounts remove uni --yes --json
    """
    from pipeline.account_setup import (
        activity,
        named_account,
        replace_settings_text,
        without_account,
    )

    home = workspace_dir(workspace)
    settings = load_settings(home)
    account = named_account(settings, name)
    remaining = without_account(home, name)  # any problem with the file shows before a change
    with opened(workspace) as ctx:
        under_way = activity(ctx, name)
    if not yes:
        if not sys.stdin.isatty():
            raise InputError("removing an account needs --yes when not run at a terminal")
        waiting = (
            f" Its {under_way.in_progress} outreach in progress will wait until you add "
            f"an account named {name} again."
            if under_way.in_progress
            else ""
        )
        typer.confirm(f"Remove account {name} ({account.address})?{waiting}", abort=True)
    revoked = _sign_out(account.kind, name, home, keep_access)
    replace_settings_text(home, remaining)
    result = {
        "name": name,
        "kind": account.kind,
        "address": account.address,
        "access_withdrawn": revoked,
        "outreach_waiting": under_way.in_progress,
        "open_drafts": under_way.open_drafts,
    }
    if json_:
        print_json(result)
        return
    console.print(f"Removed account {name} ({account.address}) from outreach.toml.", markup=False)
    if revoked:
        console.print("Google confirmed that outreach's access is withdrawn.", markup=False)
    elif account.kind == "outlook" and not keep_access:
        console.print(
            "The sign-in is deleted here. To withdraw the app's access as well, remove it at "
            "https://account.live.com/consent/Manage (personal account) or "
            "https://myapplications.microsoft.com (work or school account).",
            markup=False,
        )
    if under_way.in_progress:
        console.print(
            f"{under_way.in_progress} outreach of this account wait (kept as history); add an "
            f"account named {name} again to carry on."
            + (
                f" {under_way.open_drafts} of its drafts may still be in that mailbox."
                if under_way.open_drafts
                else ""
            ),
            markup=False,
        )


def _sign_out(kind: str, name: str, home: Path, keep_access: bool) -> bool:
    """Delete the stored sign-in of ``name``; for Google, withdraw the grant first (True
    when Google confirmed it)."""
    from connectors.tokens import token_store

    if kind == "gmail":
        if keep_access:
            token_store(home).delete(name)
            return False
        from connectors.google_auth import revoke

        return revoke(name, home)
    if kind == "outlook":
        token_store(home, provider="microsoft").delete(name)
    return False
