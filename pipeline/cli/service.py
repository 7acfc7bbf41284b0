"""`outreach service`: systemd units that keep the workers running (and, instead of cron,
run the tick and the digest on timers)."""

from __future__ import annotations

import getpass
import os
import re
import shutil
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from pipeline.cli._app import app, err_console
from pipeline.cli._common import WorkspaceOption
from pipeline.errors import InputError
from pipeline.settings import BROKER_URL_VARIABLE, load_settings, workspace_dir

PASSED_ON = (BROKER_URL_VARIABLE, "OUTREACH_DATABASE_URL")
"""Variables a unit carries when they are set here (else the workspace's settings hold
the URLs, and the unit needs only OUTREACH_HOME)."""

TICK_EVERY = "*:0/15"  # every 15 minutes, as `outreach cron` does
RESTART_SECONDS = 5
STOP_SECONDS = 60


class Unit(StrEnum):
    worker = "worker"
    tick = "tick"
    tick_timer = "tick-timer"
    digest = "digest"
    digest_timer = "digest-timer"


@dataclass(frozen=True)
class Section:
    name: str
    lines: list[str]  # "Key=value" lines, and "# ..." comments


def plain(value: str) -> str:
    """``value`` as free text on a unit file line (a Description): specifiers escaped."""
    if "\n" in value or "\r" in value:
        raise InputError(f"{value!r}: a systemd unit cannot hold a line break in a value")
    return value.replace("%", "%%")


def quote_word(value: str, *, command: bool = False) -> str:
    """``value`` as one word of a unit file line: specifiers (``%``) and, on a command
    line, variables (``$``) escaped; in double quotes, with ``\\`` and ``"`` escaped, when it
    holds anything but plain path and URL characters."""
    text = plain(value)
    if command:
        text = text.replace("$", "$$")
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def outreach_executable() -> Path:
    """The absolute path of the `outreach` command that is running now (beside its Python),
    else the one on PATH."""
    beside = Path(sys.executable).absolute().parent / "outreach"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("outreach")
    if found:
        return Path(found).absolute()
    raise InputError(
        "cannot find the `outreach` command, which the unit must start; install the "
        "package (pip install outreach-pipeline) so that it is on PATH"
    )


def render(header: list[str], sections: list[Section]) -> str:
    lines = [f"# {line}".rstrip() for line in header]
    for section in sections:
        lines += ["", f"[{section.name}]", *section.lines]
    return "\n".join(lines) + "\n"


def _digest_time(digest_at: str) -> str:
    hours, _, minutes = digest_at.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
        raise InputError(f"--digest-at {digest_at!r}: expected HH:MM, e.g. 07:30")
    return f"{int(hours):02d}:{int(minutes):02d}:00"


def _warn_about_passwords(system: bool) -> None:
    for name in PASSED_ON:
        if urlsplit(os.environ.get(name, "")).password:
            who = "any user can read with `systemctl show`" if system else "is in the file"
            err_console.print(
                f"note: the unit holds the password in {name}, which {who}; to "
                "keep it apart, put that Environment= line's value in a file of mode 0600 "
                "and point EnvironmentFile= at it",
                highlight=False,
                markup=False,
            )


@app.command()
def service(
    unit: Annotated[
        Unit, typer.Argument(help="Which unit to print.", show_default=True)
    ] = Unit.worker,
    processes: Annotated[
        int, typer.Option("--processes", "-p", min=1, help="Worker processes.")
    ] = 2,
    threads: Annotated[int, typer.Option("--threads", "-t", min=1, help="Threads each.")] = 4,
    digest_at: Annotated[
        str | None,
        typer.Option(
            help="digest-timer: HH:MM in your profile's time zone (default: when your send "
            "window opens).",
            show_default=False,
        ),
    ] = None,
    system: Annotated[
        bool,
        typer.Option("--system", help="A system unit run as you (default: a user unit of yours)."),
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Print a systemd unit: the workers, kept running, or the tick or the digest on a timer
    (instead of the lines `outreach cron` prints).

    When one worker process dies, Dramatiq stops all the others; the worker unit
    starts them again (Restart=always). It stops them with SIGTERM to Dramatiq's
    main process only (KillMode=mixed), so each finishes its message. The units
    carry OUTREACH_HOME, and OUTREACH_BROKER_URL and OUTREACH_DATABASE_URL when
    they are set here.

    \b
    Examples:
      mkdir -p ~/.config/systemd/user && cd ~/.config/systemd/user
      outreach service -p 4 -t 4 > outreach-worker.service
      systemctl --user daemon-reload
      systemctl --user enable --now outreach-worker
      loginctl enable-linger    (user units run on after you log out)

      outreach service tick > outreach-tick.service
      outreach service tick-timer > outreach-tick.timer
      systemctl --user daemon-reload
      systemctl --user enable --now outreach-tick.timer

      outreach service --system | sudo tee /etc/systemd/system/outreach-worker.service
    """
    home = workspace_dir(workspace).resolve()
    plain(str(home))  # a path with a line break cannot go in a unit
    settings = load_settings(home)  # no workspace or a broken one: say so now
    if unit is Unit.worker and settings.broker_url.startswith("stub:"):
        raise InputError(
            "the broker is stub:// (embedded): `outreach tick` does the work itself and "
            "needs no worker; for that, print `outreach service tick` and `tick-timer`. "
            "For workers, set OUTREACH_BROKER_URL (or [broker] url) to redis://... or "
            "amqp://... first"
        )
    if unit is Unit.tick_timer:
        sections = _timer("a tick every 15 minutes", TICK_EVERY)
    elif unit is Unit.digest_timer:
        at = _digest_time(digest_at or str(settings.policy["send_window_start"]))
        sections = _timer(
            f"the digest at {at[:5]} ({settings.timezone})", f"*-*-* {at} {settings.timezone}"
        )
    else:
        _warn_about_passwords(system)
        sections = _service(unit, home, system, processes, threads)
    sys.stdout.write(render(_header(unit, home, system), sections))


FILE_NAMES = {
    Unit.worker: "outreach-worker.service",
    Unit.tick: "outreach-tick.service",
    Unit.tick_timer: "outreach-tick.timer",
    Unit.digest: "outreach-digest.service",
    Unit.digest_timer: "outreach-digest.timer",
}


def _header(unit: Unit, home: Path, system: bool) -> list[str]:
    """Where to save the unit and how to start it."""
    name = FILE_NAMES[unit]
    folder = "/etc/systemd/system" if system else "~/.config/systemd/user"
    systemctl = "sudo systemctl" if system else "systemctl --user"
    header = [f"outreach-pipeline, workspace {home}"]
    if unit in (Unit.tick, Unit.digest):  # a service that its timer starts
        timer = Unit(f"{unit.value}-timer")
        header += [
            f"Save as {folder}/{name}, and the output of",
            f"`outreach service {timer.value}` as {folder}/{FILE_NAMES[timer]}; then:",
        ]
        name = FILE_NAMES[timer]
    else:
        header.append(f"Save as {folder}/{name}, then:")
    header.append(f"  {systemctl} daemon-reload && {systemctl} enable --now {name}")
    if not system:
        header.append("  loginctl enable-linger  (so that it runs while you are logged out)")
    return header


def _timer(what: str, calendar: str) -> list[Section]:
    return [
        Section("Unit", [f"Description={plain(f'outreach-pipeline: {what}')}"]),
        # Persistent: a time missed while the machine was off or asleep runs at wake-up.
        Section("Timer", [f"OnCalendar={calendar}", "Persistent=true"]),
        Section("Install", ["WantedBy=timers.target"]),
    ]


def _service(unit: Unit, home: Path, system: bool, processes: int, threads: int) -> list[Section]:
    environment = [("OUTREACH_HOME", str(home))]
    environment += [(key, os.environ[key]) for key in PASSED_ON if os.environ.get(key)]
    argv = {
        Unit.worker: ["worker", "--processes", str(processes), "--threads", str(threads)],
        Unit.tick: ["tick", "--quiet"],
        Unit.digest: ["digest", "--to", "inbox"],
    }[unit]
    command = [str(outreach_executable()), *argv]
    lines = [f"Environment={quote_word(f'{key}={value}')}" for key, value in environment]
    if unit is Unit.digest:  # the morning's drafts first, so the digest lists them
        pre = [str(outreach_executable()), "tick", "--quiet"]
        lines.append("ExecStartPre=-" + " ".join(quote_word(word, command=True) for word in pre))
    lines.append("ExecStart=" + " ".join(quote_word(word, command=True) for word in command))
    unit_lines = []
    if system:
        lines.append(f"User={quote_word(getpass.getuser())}")
        unit_lines = ["Wants=network-online.target", "After=network-online.target"]
    if unit is not Unit.worker:  # started by its timer, once each time
        what = "tick" if unit is Unit.tick else "digest to your inbox"
        description = f"outreach-pipeline {what} for {home}"
        return [
            Section("Unit", [f"Description={plain(description)}", *unit_lines]),
            Section("Service", ["Type=oneshot", *lines]),
        ]
    description = f"outreach-pipeline workers ({processes}x{threads}) for {home}"
    lines += [
        "# Dramatiq stops every worker process when one dies: start them all again.",
        "Restart=always",
        f"RestartSec={RESTART_SECONDS}",
        "# SIGTERM to Dramatiq's main process only, which passes it on once: each",
        "# worker finishes its message (a second SIGTERM would stop it at once).",
        "KillMode=mixed",
        f"TimeoutStopSec={STOP_SECONDS}",
    ]
    return [
        Section(
            "Unit",
            [
                f"Description={plain(description)}",
                *unit_lines,
                "# Restart it however often it stops.",
                "StartLimitIntervalSec=0",
            ],
        ),
        Section("Service", lines),
        Section("Install", ["WantedBy=" + ("multi-user.target" if system else "default.target")]),
    ]
