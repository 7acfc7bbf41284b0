"""`outreach tick`, `digest`, `cron`, `worker` and `deadletters`."""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from pipeline.cli._app import app, console, err_console, print_json, print_table
from pipeline.cli._common import JsonOption, WorkspaceOption, opened
from pipeline.clock import clock_from_environment
from pipeline.errors import InputError
from pipeline.settings import load_settings, workspace_dir


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
    workspace: WorkspaceOption = None,
) -> None:
    """Sync every account, understand new mail, advance the lifecycles, create due drafts.

    What cron runs every 15 minutes. On the embedded default (broker stub://) the work
    is done in this process before it exits; with a Redis or RabbitMQ broker it is queued
    for `outreach worker` processes.

    Example:
      outreach tick --json
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with opened(workspace) as ctx:
        _setup_workers(ctx.settings.broker_url)
        from workers.dispatch import dispatcher
        from workers.runtime import use_app

        use_app(ctx)
        try:
            show = not (json_ or quiet) and sys.stderr.isatty()
            with Progress(
                TextColumn("creating drafts"),
                BarColumn(),
                MofNCompleteColumn(),
                console=err_console,
                transient=True,
                disable=not show,
            ) as bar:
                task = bar.add_task("drafts", total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                from pipeline.tick import run_tick

                summary = run_tick(ctx, dispatcher(progress))
        finally:
            use_app(None)
    if json_:
        print_json(summary.as_dict())
    else:
        console.print(summary.line(), highlight=False)
        for error in summary.errors:
            err_console.print(f"  {error}", highlight=False, markup=False)
    if summary.errors or summary.steps_failed:
        raise typer.Exit(1)  # something needs the person: cron mails the output


@app.command()
def digest(
    to: Annotated[
        str, typer.Option("--to", help="stdout, inbox (your own), or a file path.")
    ] = "stdout",
    day: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: today).")] = None,
    account: Annotated[str | None, typer.Option(help="Account (default: the first).")] = None,
    html: Annotated[bool, typer.Option("--html", help="Print the HTML part.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Deliver again today.")] = False,
    json_: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Build today's digest: drafts to approve, replies, meetings, thank-yous, bounces.

    Delivered to your own inbox (or a file) once per account and day unless --force;
    printing it to stdout does not count as a delivery.

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
    if json_:
        print_json(
            {
                "day": result.day.isoformat(),
                "to": result.destination,
                "delivered": result.delivered,
                "reason": result.reason,
                "subject": str(result.message["Subject"]),
            }
        )
        return
    if to == "stdout":
        body = result.message.get_body(preferencelist=("html",) if html else ("plain",))
        assert body is not None
        if not html:  # the HTML part is a document of its own, e.g. for a browser
            console.print(f"Subject: {result.message['Subject']}\n", highlight=False, markup=False)
        sys.stdout.write(body.get_content())
        return
    if result.delivered:
        console.print(f"Digest for {result.day} delivered to {to}.")
    else:
        console.print(f"Not delivered: {result.reason}.")


@app.command()
def cron(
    workspace: WorkspaceOption = None,
    digest_at: Annotated[
        str, typer.Option(help="Digest time, HH:MM, in your profile's time zone.")
    ] = "07:30",
) -> None:
    """Print crontab lines: a tick every 15 minutes and the digest each morning.

    Example:
      outreach cron | crontab -      (replaces your crontab; append by hand otherwise)
    """
    hours, _, minutes = digest_at.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
        raise InputError(f"--digest-at {digest_at!r}: expected HH:MM, e.g. 07:30")
    home = workspace_dir(workspace).resolve()
    zone = load_settings(home).timezone  # no workspace or a broken one: say so now
    # cron reads times in the system's zone; --digest-at is in yours.
    yours = (
        clock_from_environment()()
        .astimezone(ZoneInfo(zone))
        .replace(hour=int(hours), minute=int(minutes), second=0, microsecond=0)
    )
    system = yours.astimezone()
    exe = shutil.which("outreach") or f"{sys.executable} -m pipeline"
    env = f"OUTREACH_HOME={shlex.quote(str(home))}"
    log = shlex.quote(str(home / "cron.log"))
    lines = [
        "# outreach-pipeline: sync and draft every 15 minutes, digest each morning.",
        f"# The digest at {digest_at} in {zone} is {system:%H:%M} in this system's zone "
        f"({system.tzname()}), which cron uses; run `outreach cron` again after a "
        "daylight-saving change if the two zones change on different days.",
        f"*/15 * * * * {env} {exe} tick --quiet >> {log} 2>&1",
        f"{system.minute} {system.hour} * * * {env} {exe} digest --to inbox >> {log} 2>&1",
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
        "OUTREACH_BROKER_URL": url,
        "OUTREACH_HOME": home,
        "OUTREACH_DATABASE_URL": database,
    }
    argv = [
        sys.executable,
        "-m",
        "dramatiq",
        "workers.actors",
        "-p",
        str(processes),
        "-t",
        str(threads),
    ]
    os.execvpe(argv[0], argv, env)  # noqa: S606 - replaces this process by the workers


deadletters_app = typer.Typer(
    help="Steps that failed for good, with the reason; plan them again.", no_args_is_help=True
)
app.add_typer(deadletters_app, name="deadletters")


def _failed_steps(ctx: Any) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from pipeline.models import Step

    with ctx.store.read() as session:
        return [
            {
                "id": s.id,
                "key": s.key,
                "kind": s.kind,
                "error": s.last_error,
                "since": s.updated_at.isoformat(),
            }
            for s in session.scalars(select(Step).where(Step.status == "failed"))
        ]


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

    Examples:
      outreach deadletters list
      outreach deadletters list --json             (the failed steps)
      outreach deadletters list --skipped --json   (the skipped messages and events)
    """
    from pipeline.status import skipped_inputs

    with opened(workspace) as ctx:
        failed = [] if skipped else _failed_steps(ctx)
        with ctx.store.read() as session:
            unreadable = skipped_inputs(session)
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

    Example:
      outreach deadletters retry && outreach tick
    """
    from sqlalchemy import update

    from pipeline.models import Step

    with opened(workspace) as ctx:
        unknown = sorted(set(ids or ()) - {item["id"] for item in _failed_steps(ctx)})
        if unknown:
            raise InputError(
                f"no failed step with id {', '.join(map(str, unknown))}; "
                "`outreach deadletters list` shows the failed steps and their ids"
            )
        with ctx.store.write() as session:
            statement = update(Step).where(Step.status == "failed")
            if ids:
                statement = statement.where(Step.id.in_(ids))
            result = session.execute(
                statement.values(status="planned", last_error=None, updated_at=ctx.now())
            )
            count = getattr(result, "rowcount", 0)
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
