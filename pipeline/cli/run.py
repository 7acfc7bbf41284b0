"""`outreach tick`, `digest`, `cron`, `worker` and `deadletters`."""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import sys
from datetime import date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from pipeline.cli._app import app, console, err_console, print_json, print_table
from pipeline.cli._common import JsonOption, WorkspaceOption, opened, progress_bar
from pipeline.clock import clock_from_environment
from pipeline.errors import InputError
from pipeline.settings import BROKER_URL_VARIABLE, load_settings, workspace_dir


def _command() -> str:
    """How the person can type this command again: `outreach` when it is on PATH."""
    if shutil.which("outreach"):
        return "outreach"
    return sys.argv[0] if sys.argv and sys.argv[0].endswith("outreach") else "outreach"


def _setup_workers(broker_url: str) -> None:
    from workers.broker import setup_broker

    setup_broker(broker_url)


@app.command()
def tick(
    json_: JsonOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the summary.")] = False,
    log: Annotated[
        Path | None,
        typer.Option(
            "--log",
            help="Append the summary and any warning to this file, and print only what "
            "needs you (for cron, which mails what a command prints).",
        ),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Sync every account, understand new mail, advance the lifecycles, create due drafts.

    What cron runs every 15 minutes. On the embedded default (broker stub://) the work
    is done in this process before it exits; with a Redis or RabbitMQ broker it is queued
    for `outreach worker` processes. Exits 1 when something needs you.

    \b
    Examples:
      outreach tick
      outreach tick --json
      outreach tick --log ~/.outreach/cron.log     (quiet unless something needs you)
    """
    if log is not None:
        logging.basicConfig(
            filename=log, level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s"
        )
    else:  # what goes wrong is in the summary; the log lines themselves are for files
        logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    with opened(workspace) as ctx:
        stamp = ctx.now()
        _setup_workers(ctx.settings.broker_url)
        from workers.dispatch import dispatcher
        from workers.runtime import use_app

        use_app(ctx)
        try:
            show = not (json_ or quiet) and sys.stderr.isatty()
            with progress_bar("creating drafts", show=show) as progress:
                from pipeline.tick import run_tick

                summary = run_tick(ctx, dispatcher(progress))
        finally:
            use_app(None)
    needs_you = bool(summary.errors or summary.steps_failed)
    if log is not None:
        _append_log(log, stamp, [summary.line(), *(f"  {e}" for e in summary.errors)])
        if needs_you:  # the one thing cron mails: short, and where to look
            console.print(
                f"outreach: something needs you: {summary.line()}\n"
                + "".join(f"  {error}\n" for error in summary.errors)
                + f"Run `outreach status` for what to do (the log: {log}).",
                highlight=False,
                markup=False,
            )
    elif json_:
        print_json(summary.as_dict())
    else:
        console.print(summary.line(), highlight=False, markup=False)
        for error in summary.errors:
            err_console.print(f"  {error}", highlight=False, markup=False)
    if needs_you:
        raise typer.Exit(1)


def _part(message: EmailMessage, subtype: str) -> str:
    body = message.get_body(preferencelist=(subtype,))
    return str(body.get_content()) if body is not None else ""


def _append_log(path: Path, stamp: datetime, lines: list[str]) -> None:
    """Append lines to a log file, each stamped; a log that cannot be written is said."""
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.writelines(f"{stamp:%Y-%m-%d %H:%M:%S%z} {line}\n" for line in lines)
    except OSError as err:
        raise InputError(f"--log {path}: cannot write it: {err.strerror}") from None


@app.command()
def digest(
    to: Annotated[
        str, typer.Option("--to", help="stdout, inbox (your own), or a file path.")
    ] = "stdout",
    day: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: today).")] = None,
    account: Annotated[str | None, typer.Option(help="Account (default: the first).")] = None,
    html: Annotated[bool, typer.Option("--html", help="Print the HTML part.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Deliver again today.")] = False,
    log: Annotated[
        Path | None,
        typer.Option("--log", help="Append what happened to this file and print nothing."),
    ] = None,
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Build today's digest: drafts to approve, replies, meetings, thank-yous, bounces.

    Delivered to your own inbox (or a file) once per account and day unless --force;
    printing it to stdout does not count as a delivery.

    \b
    Examples:
      outreach digest
      outreach digest --to inbox
      outreach digest --to ~/digest.eml --day 2026-03-02
    """
    try:
        wanted = date.fromisoformat(day) if day else None
    except ValueError:
        raise InputError(f"--day {day!r}: expected a date as YYYY-MM-DD") from None
    from pipeline.digest import deliver_digest, today

    with opened(workspace) as ctx:
        chosen = ctx.settings.account(account)
        result = deliver_digest(ctx, chosen.name, wanted or today(ctx), destination=to, force=force)
        stamp = ctx.now()
    if log is not None:
        done = "delivered" if result.delivered else f"not delivered: {result.reason}"
        _append_log(log, stamp, [f"digest for {result.day} to {to}: {done}"])
        return
    if json_:
        print_json(
            {
                "day": result.day.isoformat(),
                "to": result.destination,
                "delivered": result.delivered,
                "reason": result.reason,
                "subject": str(result.message["Subject"]),
                "text": _part(result.message, "plain"),
                "html": _part(result.message, "html"),
            }
        )
        return
    if to == "stdout":
        if not html:  # the HTML part is a document of its own, e.g. for a browser
            console.print(f"Subject: {result.message['Subject']}\n", highlight=False, markup=False)
        sys.stdout.write(_part(result.message, "html" if html else "plain"))
        return
    if result.delivered:
        console.print(f"Digest for {result.day} delivered to {to}.")
    else:
        console.print(f"Not delivered: {result.reason}.")


@app.command()
def cron(
    workspace: WorkspaceOption = None,
    digest_at: Annotated[
        str | None,
        typer.Option(
            help="Digest time, HH:MM, in your profile's time zone (default: when your send "
            "window opens, so the morning's drafts are in it).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print crontab lines: a tick every 15 minutes and the digest each morning.

    Quiet when all is well: cron mails you only when something needs you (a step that
    could not be drafted, an account to reconnect), in a few lines; everything goes to
    cron.log in the workspace as well. The digest's line ticks first, so the drafts due
    that morning are in your Drafts folder, and in the digest, when it arrives.

    \b
    Examples:
      outreach cron
      outreach cron --digest-at 07:45 >> /tmp/lines && crontab -l | cat - /tmp/lines | crontab -
    """
    home = workspace_dir(workspace).resolve()
    settings = load_settings(home)  # no workspace or a broken one: say so now
    zone = settings.timezone
    digest_at = digest_at or str(settings.policy["send_window_start"])
    hours, _, minutes = digest_at.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
        raise InputError(f"--digest-at {digest_at!r}: expected HH:MM, e.g. 07:30")
    # cron reads times in the system's zone; --digest-at is in yours.
    yours = (
        clock_from_environment()()
        .astimezone(ZoneInfo(zone))
        .replace(hour=int(hours), minute=int(minutes), second=0, microsecond=0)
    )
    system = yours.astimezone()
    exe = shutil.which("outreach") or f"{shlex.quote(sys.executable)} -m pipeline"
    run = f"OUTREACH_HOME={shlex.quote(str(home))} {exe}"
    log = shlex.quote(str(home / "cron.log"))
    lines = [
        "# outreach-pipeline: sync and draft every 15 minutes, digest each morning.",
        "# Quiet unless something needs you (cron mails that); the whole log: cron.log.",
        f"# The digest at {digest_at} in {zone} is {system:%H:%M} in this system's zone "
        f"({system.tzname()}), which cron uses; run `outreach cron` again after a "
        "daylight-saving change if the two zones change on different days.",
        f"*/15 * * * * {run} tick --log {log}",
        f"{system.minute} {system.hour} * * * {run} tick --log {log}; "
        f"{run} digest --to inbox --log {log}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


@app.command()
def worker(
    processes: Annotated[int, typer.Option("--processes", "-p", help="Worker processes.")] = 2,
    threads: Annotated[int, typer.Option("--threads", "-t", help="Threads each.")] = 4,
    workspace: WorkspaceOption = None,
) -> None:
    """Start Dramatiq workers on the Redis or RabbitMQ broker of the settings.

    Needs a shared database (PostgreSQL) when workers run on several machines.

    \b
    Example:
      OUTREACH_BROKER_URL=redis://127.0.0.1:6379/0 \\
      OUTREACH_DATABASE_URL=postgresql://outreach@db/outreach outreach worker -p 4
    """
    with opened(workspace) as ctx:
        url = ctx.settings.broker_url
        home = str(ctx.settings.workspace.resolve())
        database = ctx.settings.database_url
    if url.startswith("stub:"):
        raise InputError(
            "the broker is stub:// (embedded): `outreach tick` does the work itself. "
            "Set OUTREACH_BROKER_URL (or [broker] url) to redis://... or amqp://... first"
        )
    env = {
        **os.environ,
        BROKER_URL_VARIABLE: url,
        "OUTREACH_HOME": home,
        "OUTREACH_DATABASE_URL": database,
    }
    from workers import worker_command

    argv = worker_command(processes, threads)
    os.execvpe(argv[0], argv, env)  # noqa: S606 - replaces this process by the workers


deadletters_app = typer.Typer(
    help="Steps that failed for good, with the reason; plan them again.", no_args_is_help=True
)
app.add_typer(deadletters_app, name="deadletters")


@deadletters_app.command("list")
def deadletters_list(
    skipped: Annotated[
        bool, typer.Option("--skipped", help="Only the messages and events skipped.")
    ] = False,
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Steps that failed for good, and messages or calendar items skipped as unreadable,
    each with the reason.

    \b
    Examples:
      outreach deadletters list
      outreach deadletters list --json             (the failed steps)
      outreach deadletters list --skipped --json   (the skipped messages and events)
    """
    from pipeline import deadletters

    with opened(workspace) as ctx:
        failed = [] if skipped else deadletters.failed_steps(ctx.store)
        unreadable = deadletters.skipped(ctx.store)
    if json_:
        print_json(unreadable if skipped else failed)
        return
    if not skipped:
        if failed:
            print_table(
                ("id", "step", "why"),
                ((str(item["id"]), str(item["key"]), str(item["error"] or "")) for item in failed),
            )
            console.print(
                "Fix the cause, then `outreach deadletters retry [ID...]`.", highlight=False
            )
        else:
            console.print("No failed steps.")
    if unreadable:
        console.print(f"\nSkipped as unreadable ({len(unreadable)}):")
        print_table(
            ("seen", "where", "item", "why"),
            (
                (item["at"][:16].replace("T", " "), item["stream"], item["item"], item["reason"])
                for item in unreadable
            ),
        )
    elif skipped:
        console.print("No message or calendar item was skipped.")


@deadletters_app.command("retry")
def deadletters_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Step ids (default: all).")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Plan failed steps again; the next tick carries them out.

    \b
    Example:
      outreach deadletters retry && outreach tick
    """
    from pipeline import deadletters

    with opened(workspace) as ctx:
        count = deadletters.retry(ctx.store, ids or [], ctx.now())
    console.print(f"{count} step(s) planned again; run `outreach tick`.")


@app.command()
def demo(
    directory: Annotated[
        Path, typer.Argument(help="A new directory for the demo workspace.")
    ] = Path("outreach-demo"),
    force: Annotated[
        bool, typer.Option("--force", help="Replace an earlier demo in that directory.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """The whole lifecycle on the local default, offline, on a simulated clock.

    Creates a workspace, imports a sample LinkedIn export, drafts the first outreach into
    a Maildir, then plays the other side from shipped sample mail: replies, an
    out-of-office, a bounce, a decline, two booked meetings and an introduction.

    \b
    Example:
      outreach demo /tmp/outreach-demo && ls /tmp/outreach-demo/mail/.Drafts/cur
    """
    from pipeline.demo import run_demo

    lines: list[str] = []

    def say(text: str) -> None:
        if json_:
            lines.append(text)
        else:
            console.print(text, highlight=False, markup=False)

    result = run_demo(directory.resolve(), say, force=force)
    if json_:
        print_json(result)
        return
    console.print(
        f"\nDone. Your demo workspace: {result['workspace']}\n"
        f"  mail (Maildir: INBOX, .Drafts, .Sent): {result['mail']}\n"
        f"  calendar (vdir of .ics files):        {result['calendar']}\n"
        f"  database:                              {result['database']}\n"
        f"Look around with: OUTREACH_HOME={result['workspace']} {_command()} status",
        highlight=False,
        markup=False,
    )
