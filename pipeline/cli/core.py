"""`outreach init`, `start`, `status`, `notes` and `referral add`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from rich.text import Text as RichText

from pipeline.cli._app import app, console, err_console, print_json
from pipeline.cli._common import JsonOption, WorkspaceOption, opened
from pipeline.emails import InvalidEmail, normalize_email
from pipeline.errors import InputError
from pipeline.settings import WORKSPACE_FILE, workspace_dir

Text = Annotated[str | None, typer.Option(show_default=False)]


_QUESTIONS = {
    "name": "Your name",
    "email": "Your email address (drafts are written as from it)",
    "school": "School and year, or current role",
    "background": "One line on what you study or do",
    "field": "The field you are exploring",
    "intro": "Your 20-second introduction",
    "timezone": "Your time zone",
}


def _checked_answer(key: str) -> Callable[[str], str]:
    """A prompt's check: a bad answer is said and the question asked again."""
    from pipeline.workspace import clean_profile_value

    def check(value: str) -> str:
        try:
            return clean_profile_value(key, value)
        except ValueError as err:
            raise typer.BadParameter(f"{value!r}: {err}" if value else str(err)) from None

    return check


def _answer(key: str, default: str, asking: bool, source: Path) -> str:
    """The answer to a question, or ``default`` (the value in ``source``) when not asking."""
    from pipeline.workspace import clean_profile_value

    if asking:
        answer = typer.prompt(
            _QUESTIONS[key],
            default=default,
            show_default=bool(default),
            value_proc=_checked_answer(key),
        )
        return str(answer)
    if key == "email" and not default:
        raise InputError("--email is required: the address your outreach is sent from")
    try:
        return clean_profile_value(key, default)
    except ValueError as err:
        raise InputError(
            f"{source}: profile.{key} {default!r}: {err}; pass --{key} to replace it"
        ) from None


@app.command()
def init(
    directory: Annotated[
        Path | None, typer.Argument(help="Where to create it (default ./.outreach).")
    ] = None,
    name: Text = None,
    email: Text = None,
    school: Text = None,
    background: Text = None,
    field: Annotated[str | None, typer.Option("--field", help="Field you explore.")] = None,
    intro: Annotated[str | None, typer.Option(help="Your 20-second introduction.")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone, e.g. Europe/Paris.")] = None,
    signature: Text = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Update the profile of an existing workspace with the values given; "
            "its accounts and other settings are kept.",
        ),
    ] = False,
) -> None:
    """Create a workspace: your profile, a local mail and calendar account, the database.

    Asks for what it needs when run in a terminal; every answer can be given as an option.
    With --force on an existing workspace, profile values not given stay as they are.

    \b
    Example:
      outreach init --name "Ada Park" --email ada@example.edu --school "State U, class of 2026"
      --field "public health" --timezone America/Chicago
    """
    from pipeline.context import PROFILE_FIELDS_FIRST_MESSAGES_USE
    from pipeline.workspace import (
        PROFILE_KEYS,
        check_target,
        clean_profile_value,
        create_workspace,
        detect_timezone,
    )

    target = workspace_dir(directory)
    existing = check_target(target, force=force)
    given = {
        "name": name,
        "email": email,
        "school": school,
        "background": background,
        "field": field,
        "intro": intro,
        "timezone": timezone,
        "signature": signature,
    }
    profile: dict[str, str] = {}
    for key, value in given.items():  # every option is checked before any question
        if value is not None:
            try:
                profile[key] = clean_profile_value(key, value)
            except ValueError as err:
                raise InputError(f"--{key} {value!r}: {err}") from None
    defaults = {"timezone": detect_timezone(), **existing}
    asking = sys.stdin.isatty()
    source = target / WORKSPACE_FILE
    updating = source.exists()
    for key in PROFILE_KEYS:
        if key not in profile:
            default = defaults.get(key, "")
            profile[key] = _answer(key, default, asking, source) if key in _QUESTIONS else default
    path = create_workspace(target, profile, force=force)
    empty = [key for key in PROFILE_FIELDS_FIRST_MESSAGES_USE if not profile.get(key)]
    if empty:
        err_console.print(
            f"Note: your profile has no {', '.join(empty)} yet, and first messages are built "
            f"from them; add them to the profile table of {path} (or run `outreach init "
            f"--force --{empty[0]} ...`). `outreach templates check` shows what is missing.",
            markup=False,
            highlight=False,
        )
    if updating:
        console.print(
            f"Updated the profile in {path}; its accounts and other settings are kept.",
            markup=False,
        )
        if existing.get("email", profile["email"]) != profile["email"]:
            console.print(
                f"Your accounts keep their addresses; change them in {path} if they should "
                f"be {profile['email']} too.",
                markup=False,
            )
        return
    console.print(f"Created [bold]{path}[/] with a local account in {target / 'mail'}.")
    console.print(
        "Next: [bold]outreach contacts import Connections.csv[/], then "
        "[bold]outreach start --all[/] and [bold]outreach status[/]."
    )
    if str(target) != str(workspace_dir(None)):
        console.print(f"Point later commands at it with -w {target} or OUTREACH_HOME={target}.")


@app.command()
def start(
    contacts: Annotated[
        list[str] | None, typer.Argument(help="Contacts by id, email or name.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every contact not yet started.")] = False,
    again: Annotated[
        bool,
        typer.Option(
            "--again",
            help="Start afresh an outreach that ended skipped, declined, quiet or closed.",
        ),
    ] = False,
    account: Annotated[str | None, typer.Option(help="Account to write from.")] = None,
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Plan the first outreach for contacts; drafts appear when they are due.

    Contacts without an email address, already started, or who asked not to be contacted
    are skipped with the reason. At most [limits] new_outreach_per_day first drafts become
    due each day. An outreach that ended (you deleted its draft, they declined, it went
    quiet) starts afresh with --again; an opt-out never does.

    \b
    Examples:
      outreach start --all
      outreach start "Dana Kim" 17 sam@example.org
      outreach start "Dana Kim" --again
    """
    from pipeline import usecases

    if not all_ and not contacts:
        raise InputError("name at least one contact (id, email or name), or use --all")
    if all_ and contacts:
        raise InputError("give contacts or --all, not both")
    if again and all_:
        raise InputError("--again starts named contacts afresh; name them instead of --all")
    with opened(workspace) as ctx:
        now = ctx.now()
        report = usecases.start(
            ctx, contacts or [], account=account, all_contacts=all_, again=again, now=now
        )
    if json_:
        print_json(report.as_dict())
        return
    zone = ZoneInfo(ctx.settings.timezone)
    dues = [datetime.fromisoformat(item["due_at"]) for item in report.started if item["due_at"]]
    for item in report.started:
        due = datetime.fromisoformat(item["due_at"]).astimezone(zone) if item["due_at"] else None
        console.print(
            f"planned  {item['name']} <{item['email']}>  ({item['template']}"
            + (f", draft {_when(due, now.astimezone(zone))})" if due else ")"),
            highlight=False,
            markup=False,
        )
    for item in report.skipped:
        console.print(
            f"skipped  {item['name'] or '(no name)'}: {item['reason']}",
            highlight=False,
            markup=False,
        )
    console.print(f"{len(report.started)} started, {len(report.skipped)} skipped.", highlight=False)
    if dues and min(dues) <= now:
        console.print("Run `outreach tick` to create the drafts that are due now.")
    elif dues:
        first = min(dues).astimezone(zone)
        console.print(
            f"Drafts are made from {_when(first, now.astimezone(zone))} (your send window, "
            f"{zone.key}), by the first tick after that: cron runs one every 15 minutes.",
            highlight=False,
            markup=False,
        )


def _when(moment: datetime, now: datetime) -> str:
    """A moment in the person's zone as they would say it: "now", "today at 16:30",
    "tomorrow at 08:30", "Mon 7 Dec at 08:30"."""
    if moment <= now:
        return "now"
    days = (moment.date() - now.date()).days
    day = {0: "today", 1: "tomorrow"}.get(days, f"{moment:%a} {moment.day} {moment:%b}")
    return f"{day} at {moment:%H:%M}"


@app.command()
def status(json_: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """The funnel by stage, and what waits on you and on your contacts.

    \b
    Example:
      outreach status --json | jq .funnel
    """
    from pipeline.clock import clock_from_environment
    from pipeline.settings import load_settings, workspace_dir
    from pipeline.status import current_status

    settings = load_settings(workspace_dir(workspace))
    result = current_status(settings, clock_from_environment())
    if json_:
        print_json(result.as_dict())
        return
    for item in result.accounts_needing_auth:
        console.print(
            f"[bold red]account {item['account']} needs re-authorization:[/] "
            f"{item['reason']}. Run `outreach accounts add` for it again."
        )
    for item in result.accounts_unavailable:
        console.print(
            RichText.assemble(
                (f"account {item['account']} cannot be used now: ", "bold red"),
                f"{item['reason']}. Its drafts wait; each tick tries again, so fix the "
                "cause and they follow.",
            )
        )
    if not result.funnel:
        console.print("No outreach yet. Import contacts, then `outreach start --all`.")
        return
    funnel = Table(title="Funnel", show_edge=False)
    funnel.add_column("stage")
    funnel.add_column("contacts", justify="right")
    for stage, count in result.funnel.items():
        funnel.add_row(stage.replace("_", " "), str(count))
    console.print(funnel)
    zone = ZoneInfo(settings.timezone)
    _print_list("Waiting on you", result.waiting_on_you, zone)
    _print_list("Waiting on contacts", result.waiting_on_contacts, zone)
    _print_list("Coming up", result.upcoming[:15], zone)
    _print_skipped(result.skipped_inputs, zone)


def _print_skipped(items: list[dict[str, str]], zone: ZoneInfo) -> None:
    """Unreadable messages and events, if any: where they are and why (never content)."""
    from pipeline.status import SKIPPED_RECENT_DAYS

    if not items:
        return
    console.print(
        f"\n[bold]Skipped as unreadable[/] ({len(items)}, last {SKIPPED_RECENT_DAYS} days; "
        "everything else went on)"
    )
    for item in items[:10]:
        seen = datetime.fromisoformat(item["at"]).astimezone(zone)
        console.print(
            f"  {item['stream']} {item['item']}: {item['reason']} (seen {seen:%a %d %b %H:%M})",
            highlight=False,
            markup=False,
        )
    if len(items) > 10:
        console.print(f"  ... and {len(items) - 10} more: `outreach deadletters list`")


_STAGE_WAITS = {
    "sent": "no answer yet",
    "nudged": "no answer to the follow-up yet",
    "paused_ooo": "away; the follow-up waits for their return",
    "scheduling": "agreeing on a time",
}


def _print_list(title: str, items: list[dict[str, object]], zone: ZoneInfo) -> None:
    console.print(f"\n[bold]{title}[/] ({len(items)})")
    for item in items:
        stage = str(item.get("stage"))
        what = item.get("why") or item.get("what") or _STAGE_WAITS.get(stage, stage)
        when = item.get("since") or item.get("due_at")
        label = "since" if item.get("since") else "at"
        stamp = ""
        if isinstance(when, str) and when:
            local = datetime.fromisoformat(when).astimezone(zone)
            stamp = f" ({label} {local:%a %d %b %H:%M})"
        console.print(f"  {item.get('contact') or '?'}: {what}{stamp}", highlight=False)


@app.command()
def notes(
    contact: Annotated[str, typer.Argument(help="Contact by id, email or name.")],
    add: Annotated[str | None, typer.Option("--add", help="Record a note.")] = None,
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Show or record what you learned from a contact (the thank-you cites it).

    \b
    Examples:
      outreach notes "Dana Kim" --add "Advised me to learn SQL before applying"
      outreach notes dana@example.org
    """
    from pipeline import usecases

    with opened(workspace) as ctx:
        found = usecases.notes(ctx, contact, add)
    name, items = found.contact, found.notes
    if json_:
        print_json({"contact": name, "notes": items})
        return
    if add is not None:
        console.print(f"Noted for {name}.")
    for item in items:
        console.print(f"{item['at'][:10]}  {item['note']}", highlight=False)
    if not items:
        console.print(f"No notes for {name} yet; add one with --add.")


referral_app = typer.Typer(
    help="Record people a contact suggested you talk to.", no_args_is_help=True
)
app.add_typer(referral_app, name="referral")


@referral_app.command("add")
def referral_add(
    from_: Annotated[str, typer.Option("--from", help="Who suggested them (a contact).")],
    name: Annotated[str, typer.Option("--name", help="The new person's name.")],
    email: Annotated[str, typer.Option("--email", help="The new person's address.")],
    account: Annotated[str | None, typer.Option(help="Account to write from.")] = None,
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Add a person a contact suggested: a referral outreach that names them first.

    Once you send it, a short note back to the referrer is drafted.

    \b
    Example:
      outreach referral add --from "Dana Kim" --name "Lee Chen" --email lee@example.org
    """
    from pipeline import usecases
    from pipeline.contacts import length_problem

    if not name.strip():
        raise InputError('--name: give the person\'s name, as in --name "Lee Chen"')
    too_long = length_problem("name", " ".join(name.split()))
    if too_long is not None:
        raise InputError(f"--name: {too_long}")
    try:
        normalize_email(email)
    except InvalidEmail as err:
        raise InputError(f"--email {email!r}: {err}") from None
    with opened(workspace) as ctx:
        result = usecases.add_referral(ctx, from_, name, email, account=account)
    if json_:
        print_json(result)
        return
    verb = "planned a referral outreach to" if result["started"] else "recorded"
    console.print(f"{verb} {result['name']} (introduced by {result['referred_by']}).")


@app.command("keep-in-touch")
def keep_in_touch(
    contact: Annotated[str, typer.Argument(help="Contact by id, email or name.")],
    stop: Annotated[bool, typer.Option("--stop", help="No more keep-in-touch updates.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Stop the keep-in-touch updates drafted every few months for a contact.

    \b
    Example:
      outreach keep-in-touch "Dana Kim" --stop
    """
    from pipeline import usecases

    if not stop:
        raise InputError("say --stop to end the keep-in-touch updates for this contact")
    with opened(workspace) as ctx:
        name = usecases.stop_keeping_in_touch(ctx, contact)
    console.print(f"No more keep-in-touch updates for {name}.")
