"""A new user's first hour on Outlook, with the Graph emulator standing in for Microsoft:
`outreach accounts add outlook --device-code`, a tick drafts into Outlook's Drafts, the
person sends one, the reply is noticed, and the digest lands in the Outlook Inbox."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clitools import WORKDAY_MORNING, Cli, Result, ada_with_file_tokens
from tests.emulators.graph import GraphEmulator, RoutedSession, loopback_only

ME = "ada@uni.example.edu"
CLIENT = "3f2b8e1c-9d4a-4c6e-8b7f-0a1b2c3d4e5f"
CONTACTS = """name,email,organization,role,how_found
Dana Kim,dana.kim@example.org,County Health Department,epidemiologist,the staff page
"""


@pytest.fixture
def graph(monkeypatch: pytest.MonkeyPatch) -> Iterator[GraphEmulator]:
    """Microsoft, played locally: every session the CLI opens is routed to the emulator."""
    with (
        loopback_only(),
        GraphEmulator(
            ME,
            client_id=CLIENT,
            clock=lambda: WORKDAY_MORNING,
            device_code_pending_polls=0,
            auto_approve=True,
        ) as emulator,
    ):
        monkeypatch.setattr(
            "connectors.outlook_open.new_session", lambda: RoutedSession(emulator.url)
        )
        yield emulator


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return ada_with_file_tokens(capsys, tmp_path, monkeypatch, CONTACTS)


def add_outlook(cli: Cli, *extra: str) -> Result:
    return cli(
        "accounts", "add", "outlook", "--name", "uni", "--address", ME,
        "--client-id", CLIENT, "--tenant", "organizations", "--device-code", *extra,
    )  # fmt: skip


def test_outlook_device_code_sign_in_then_drafts_replies_and_the_digest(
    cli: Cli, graph: GraphEmulator
) -> None:
    added = add_outlook(cli)
    assert added.code == 0, added.err
    assert "microsoft.com/devicelogin" in added.out
    accounts = tomllib.loads((cli.workspace / "outreach.toml").read_text())["accounts"]
    assert accounts[-1] == {
        "name": "uni",
        "kind": "outlook",
        "address": ME,
        "tenant": "organizations",
        "client_id": CLIENT,
    }
    secret = cli.workspace / "secrets" / "uni.json"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert "Mail.Send" not in str(graph.granted_scopes)

    started = cli("start", "Dana Kim", "--account", "uni")
    assert started.code == 0, started.err
    ticked = cli("tick", "--json")
    assert ticked.code == 0, ticked.err
    assert ticked.json()["drafts_created"] == 1
    (draft,) = graph.folder("drafts")
    assert str(draft["To"]) == "Dana Kim <dana.kim@example.org>"
    key = str(draft["X-Outreach-Key"])

    graph.send_draft(key)
    assert cli("tick", "--json").code == 0
    parent = str(draft["Message-ID"])
    graph.receive(
        (
            f"From: Dana Kim <dana.kim@example.org>\r\nTo: {ME}\r\n"
            "Subject: Re: Informational interview?\r\nMessage-ID: <r1@example.org>\r\n"
            f"In-Reply-To: {parent}\r\nReferences: {parent}\r\n\r\n"
            "Happy to talk! Does Thursday at 3pm work?\r\n"
        ).encode()
    )
    assert cli("tick", "--json").code == 0
    funnel = cli("status", "--json").json()["funnel"]
    assert set(funnel) <= {"replied", "scheduling"} and sum(funnel.values()) == 1

    digest = cli("digest", "--to", "inbox", "--account", "uni", "--json")
    assert digest.json()["delivered"] is True, digest.out
    inbox = [m for m in graph._in("inbox") if not m.is_draft]
    assert any("outreach" in str(m.parsed()["Subject"]).lower() for m in inbox)


def test_outlook_a_revoked_sign_in_is_flagged_and_named_in_the_tick(
    cli: Cli, graph: GraphEmulator
) -> None:
    assert add_outlook(cli).code == 0
    assert cli("tick", "--json").code == 0
    graph.revoke("interaction_required")
    result = cli("tick", "--json")
    assert result.code == 1
    assert any("outreach accounts add outlook" in e for e in result.json()["errors"])
    listed = {a["name"]: a for a in cli("accounts", "list", "--json").json()}
    assert listed["uni"]["needs_reauth"] is True
    graph.revoked = None
    assert add_outlook(cli).code == 0
    listed = {a["name"]: a for a in cli("accounts", "list", "--json").json()}
    assert listed["uni"]["needs_reauth"] is False


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (("--client-id", "outreach-app"), "--client-id"),
        (("--client-id", CLIENT, "--tenant", "my university"), "--tenant"),
        ((), "--client-id is required"),
    ],
)
def test_outlook_bad_options_exit_2_and_add_nothing(
    cli: Cli, graph: GraphEmulator, options: tuple[str, ...], named: str
) -> None:
    before = (cli.workspace / "outreach.toml").read_text()
    result = cli("accounts", "add", "outlook", "--address", ME, "--device-code", *options)
    assert result.code == 2
    assert named in result.err + result.out
    assert (cli.workspace / "outreach.toml").read_text() == before
    assert graph.requests == []
