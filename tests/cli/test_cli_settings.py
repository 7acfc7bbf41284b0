"""Bad settings at the command line: exit 2, a message that names the file, line or
option, no traceback, and nothing written.

Each test runs on SQLite and on PostgreSQL (OUTREACH_DATABASE_URL points at a fresh schema).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clitools import Cli, one_line

ADA = ("--name", "Ada Park", "--email", "ada@example.edu", "--timezone", "UTC")


def made(cli: Cli) -> Path:
    assert cli("init", *ADA).code == 0
    return cli.workspace / "outreach.toml"


@pytest.mark.parametrize("command", [("status",), ("tick",), ("init", "--force", *ADA)])
def test_a_workspace_file_in_latin_1_stops_every_command_naming_the_line(
    cli: Cli, command: tuple[str, ...]
) -> None:
    """Given an outreach.toml saved as Latin-1 by an editor, when a command runs (even
    `init --force`, which rewrites the profile), then it exits 2 naming the file and line,
    says to save it as UTF-8, and the file is left as it was."""
    path = made(cli)
    data = path.read_bytes().replace(b'name = "Ada Park"', 'name = "Adà Park"'.encode("latin-1"))
    path.write_bytes(data)
    line = data[: data.index(b"Ad\xe0")].count(b"\n") + 1
    result = cli(*command)
    assert result.code == 2, result.err
    assert f"{path}:{line}: not UTF-8 text" in one_line(result.err)
    assert "save it as UTF-8" in one_line(result.err)
    assert "Traceback" not in result.err
    assert path.read_bytes() == data


def test_a_binary_workspace_file_is_a_located_error(cli: Cli) -> None:
    path = made(cli)
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    result = cli("contacts", "list")
    assert result.code == 2
    assert f"{path}:1: not UTF-8 text" in one_line(result.err)
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("limits.step_lease_seconds", "1000000000000000000"),
        ("limits.drafts_per_tick", "9223372036854775807"),
        ("policy.prep_notes_lead_minutes", "-30"),
    ],
)
def test_a_number_out_of_range_stops_the_tick_before_it_starts(
    cli: Cli, setting: str, value: str
) -> None:
    """Given a setting that validation let through before and that crashed a tick later,
    when `outreach tick` runs, then it exits 2 naming the key and its range."""
    path = made(cli)
    table, key = setting.split(".")
    text = path.read_text(encoding="utf-8")
    if f"[{table}]\n" in text:
        text = text.replace(f"[{table}]\n", f"[{table}]\n{key} = {value}\n")
    else:
        text += f"\n[{table}]\n{key} = {value}\n"
    path.write_text(text, encoding="utf-8")
    result = cli("tick")
    assert result.code == 2
    assert f"{setting} must be between" in one_line(result.err)
    assert f"got {value}" in one_line(result.err)
    assert "Traceback" not in result.err


@pytest.mark.parametrize("name", ["my uni", "uni/../gmail", "dörte", "LOCAL"])
def test_accounts_add_refuses_a_name_that_cannot_name_its_token(cli: Cli, name: str) -> None:
    """Given a name outside [A-Za-z0-9._-] (or "local" in other letter case), when
    `accounts add local` runs, then it exits 2 naming --name and outreach.toml is unchanged."""
    path = made(cli)
    before = path.read_bytes()
    result = cli("accounts", "add", "local", "--name", name, "--address", "me@uni.example")
    assert result.code == 2, result.err
    assert "--name" in one_line(result.err)
    assert "Traceback" not in result.err
    assert path.read_bytes() == before


def test_accounts_add_gmail_checks_the_name_before_authorizing(cli: Cli, tmp_path: Path) -> None:
    """Given a bad --name, when `accounts add gmail` runs, then it exits 2 before any
    authorization: no consent page, no token stored, outreach.toml unchanged. (The client
    file is not valid: authorizing would have failed with exit 1 instead.)"""
    path = made(cli)
    before = path.read_bytes()
    secrets = tmp_path / "client.json"
    secrets.write_text("not json", encoding="utf-8")
    result = cli(
        "accounts", "add", "gmail", "--name", "uni gmail", "--address", "ada@gmail.com",
        "--client-secrets", str(secrets), "--no-browser",
    )  # fmt: skip
    assert result.code == 2, result.err
    assert "--name: account name 'uni gmail' is not allowed" in one_line(result.err)
    assert not (cli.workspace / "secrets").exists()
    assert path.read_bytes() == before
