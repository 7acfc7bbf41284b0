"""`outreach service`: the systemd units that keep the workers running, and the timers that
can replace cron."""

from __future__ import annotations

import getpass
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clitools import Cli

CONTACTS = "name,email\nDana Kim,dana.kim@example.org\n"
REDIS = "redis://queue.internal:6379/0"
DATABASE = "postgresql://outreach:p%40ss@db.internal/outreach"  # an escaped '@' in it

Unit = dict[str, list[tuple[str, str]]]


def parse_unit(text: str) -> Unit:
    """The sections of a unit file, each with its key=value lines in order (keys repeat)."""
    sections: Unit = {}
    current: list[tuple[str, str]] | None = None
    for line in text.splitlines():
        if not line.strip() or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, equals, value = line.partition("=")
        assert equals and current is not None, f"not a unit file line: {line!r}"
        current.append((key, value))
    return sections


def values(unit: Unit, section: str, key: str) -> list[str]:
    return [value for found, value in unit[section] if found == key]


def words(value: str, *, command: bool = False) -> list[str]:
    """A unit value split as systemd splits it (double quotes, backslash escapes), with
    its escapes undone: %% is %, and on a command line $$ is $."""
    split = shlex.split(value)
    split = [word.replace("%%", "%") for word in split]
    return [word.replace("$$", "$") for word in split] if command else split


def environment(unit: Unit) -> dict[str, str]:
    """The variables that the unit's Environment= lines set."""
    assignments = [word for line in values(unit, "Service", "Environment") for word in words(line)]
    return dict(word.split("=", 1) for word in assignments)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Ada's workspace (`outreach init`, in Chicago) at a path with a space, a quote and a
    per cent sign in it; no URL in the environment."""
    workspace = tmp_path / "Ada's outreach 100%"
    monkeypatch.setenv("OUTREACH_HOME", str(workspace))
    for name in ("OUTREACH_DATABASE_URL", "OUTREACH_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    cli = Cli(capsys, workspace, monkeypatch)
    cli.set_up_ada(tmp_path / "contacts.csv", CONTACTS, timezone="America/Chicago")
    return cli


def test_the_worker_unit_restarts_every_worker_and_carries_the_workspace_and_urls(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a workspace whose path has a space and a %, and the broker and database URLs
    in the environment, when `outreach service -p 3 -t 2` prints the worker unit, then it
    starts the absolute `outreach worker -p 3 -t 2`, always restarts it, stops it through
    Dramatiq's main process, and gives it the three variables, each read back intact."""
    monkeypatch.setenv("OUTREACH_BROKER_URL", REDIS)
    monkeypatch.setenv("OUTREACH_DATABASE_URL", DATABASE)
    result = cli("service", "-p", "3", "-t", "2")
    assert result.code == 0, result.err
    unit = parse_unit(result.out)
    assert list(unit) == ["Unit", "Service", "Install"]
    executable, *arguments = words(values(unit, "Service", "ExecStart")[0], command=True)
    assert Path(executable).is_absolute() and Path(executable).name == "outreach"
    assert Path(executable).is_file()
    assert arguments == ["worker", "--processes", "3", "--threads", "2"]
    assert environment(unit) == {
        "OUTREACH_HOME": str(cli.workspace.resolve()),
        "OUTREACH_BROKER_URL": REDIS,
        "OUTREACH_DATABASE_URL": DATABASE,
    }
    assert values(unit, "Service", "Restart") == ["always"]
    assert values(unit, "Service", "KillMode") == ["mixed"]
    assert int(values(unit, "Service", "RestartSec")[0]) > 0
    assert values(unit, "Unit", "StartLimitIntervalSec") == ["0"]
    assert values(unit, "Install", "WantedBy") == ["default.target"]
    assert "~/.config/systemd/user/outreach-worker.service" in result.out
    assert "password in OUTREACH_DATABASE_URL" in result.err  # the unit holds a secret


def test_urls_kept_in_the_workspace_settings_stay_out_of_the_unit(cli: Cli) -> None:
    """Given the broker URL in outreach.toml and no URL in the environment, when the worker
    unit is printed, then it carries only OUTREACH_HOME (the worker reads the rest)."""
    with (cli.workspace / "outreach.toml").open("a", encoding="utf-8") as toml:
        toml.write(f'\n[broker]\nurl = "{REDIS}"\n')
    result = cli("service")
    assert result.code == 0, result.err
    unit = parse_unit(result.out)
    assert environment(unit) == {"OUTREACH_HOME": str(cli.workspace.resolve())}
    assert words(values(unit, "Service", "ExecStart")[0], command=True)[1:] == [
        "worker",
        "--processes",
        "2",
        "--threads",
        "4",
    ]
    assert result.err == ""


def test_no_worker_unit_for_the_embedded_broker(cli: Cli) -> None:
    """Given the default stub:// broker, when the worker unit is asked for, then nothing is
    printed and the error points at the tick timer, which is what that setup needs."""
    result = cli("service", "worker")
    assert result.code == 2
    assert result.out == ""
    assert "stub://" in result.err
    assert "outreach service tick" in result.err


def test_the_tick_runs_every_15_minutes_from_a_timer(cli: Cli) -> None:
    """Given the embedded broker, when the tick service and its timer are printed, then
    the service runs `outreach tick --quiet` once per start, and the timer starts it every
    15 minutes (catching up after the machine slept) and is what gets enabled."""
    tick = cli("service", "tick")
    timer = cli("service", "tick-timer")
    assert (tick.code, timer.code) == (0, 0), tick.err + timer.err
    service_unit, timer_unit = parse_unit(tick.out), parse_unit(timer.out)
    assert list(service_unit) == ["Unit", "Service"]  # started by the timer only
    assert values(service_unit, "Service", "Type") == ["oneshot"]
    assert words(values(service_unit, "Service", "ExecStart")[0], command=True)[1:] == [
        "tick",
        "--quiet",
    ]
    assert environment(service_unit) == {"OUTREACH_HOME": str(cli.workspace.resolve())}
    assert list(timer_unit) == ["Unit", "Timer", "Install"]
    assert values(timer_unit, "Timer", "OnCalendar") == ["*:0/15"]
    assert values(timer_unit, "Timer", "Persistent") == ["true"]
    assert values(timer_unit, "Install", "WantedBy") == ["timers.target"]
    assert "enable --now outreach-tick.timer" in tick.out
    assert "outreach service tick-timer" in tick.out


def test_the_digest_timer_reads_the_time_in_the_profiles_zone(cli: Cli) -> None:
    """Given a person in Chicago, when the digest timer is printed for 6:45, then its
    calendar event is 06:45:00 in America/Chicago (systemd follows that zone's daylight
    saving time, unlike a crontab line); a time that is no time is refused."""
    result = cli("service", "digest-timer", "--digest-at", "6:45")
    assert result.code == 0, result.err
    assert values(parse_unit(result.out), "Timer", "OnCalendar") == [
        "*-*-* 06:45:00 America/Chicago"
    ]
    digest = parse_unit(cli("service", "digest").out)
    assert words(values(digest, "Service", "ExecStart")[0], command=True)[1:] == [
        "digest",
        "--to",
        "inbox",
    ]
    refused = cli("service", "digest-timer", "--digest-at", "25:00")
    assert refused.code == 2
    assert "--digest-at '25:00'" in refused.err


def test_a_system_unit_runs_as_the_person_after_the_network(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the worker or the tick unit is asked for with --system, then it runs as the user
    who asked, after the network is up; the worker starts at boot; both are saved under
    /etc/systemd/system."""
    monkeypatch.setenv("OUTREACH_BROKER_URL", REDIS)
    result = cli("service", "--system")
    assert result.code == 0, result.err
    unit = parse_unit(result.out)
    assert words(values(unit, "Service", "User")[0]) == [getpass.getuser()]
    assert values(unit, "Unit", "After") == ["network-online.target"]
    assert values(unit, "Install", "WantedBy") == ["multi-user.target"]
    assert "/etc/systemd/system/outreach-worker.service" in result.out
    tick = parse_unit(cli("service", "tick", "--system").out)
    assert words(values(tick, "Service", "User")[0]) == [getpass.getuser()]
    assert values(tick, "Unit", "After") == ["network-online.target"]


def test_systemd_accepts_every_unit(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Given `outreach` installed in a directory with a space and a % in its name, when
    `systemd-analyze verify` reads each printed unit, then it finds no error: the quoted
    ExecStart names that executable (verify checks it exists)."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (a machine without systemd)")
    bin_dir = tmp_path / "my bin 100%"
    bin_dir.mkdir()
    (bin_dir / "outreach").write_text("#!/bin/sh\n", encoding="utf-8")
    (bin_dir / "outreach").chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    monkeypatch.setenv("OUTREACH_BROKER_URL", REDIS)
    monkeypatch.setenv("OUTREACH_DATABASE_URL", DATABASE)
    units = tmp_path / "units"
    units.mkdir()
    names = {
        "worker": "outreach-worker.service",
        "tick": "outreach-tick.service",
        "tick-timer": "outreach-tick.timer",
        "digest": "outreach-digest.service",
        "digest-timer": "outreach-digest.timer",
    }
    for kind, name in names.items():
        printed = cli("service", kind)
        assert printed.code == 0, printed.err
        (units / name).write_text(printed.out, encoding="utf-8")
        if name.endswith(".service"):
            command = values(parse_unit(printed.out), "Service", "ExecStart")[0]
            assert words(command, command=True)[0] == str(bin_dir / "outreach")
    verified = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(units / n) for n in names.values())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    ours = [line for line in verified.stderr.splitlines() if "outreach-" in line]
    assert (verified.returncode, ours) == (0, []), verified.stderr

    # The check can fail: the same worker unit without the quotes names no executable.
    worker = units / "outreach-worker.service"
    worker.write_text(worker.read_text(encoding="utf-8").replace('"', ""), encoding="utf-8")
    unquoted = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(worker)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unquoted.returncode != 0
