"""Signing a Google account in and out through the command line, with Google's consent
page, token and revocation endpoints played by the sign-in emulator and a browser that
consents: what a student sees when they tick every box, leave one unticked, authorize
again, and remove the account."""

from __future__ import annotations

import json
import tomllib
import webbrowser
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.google_auth import SCOPES
from tests.clitools import Cli, ada_with_file_tokens
from tests.emulators.google.signin import EmulatedBrowser, GoogleSignIn, client_file_json

ME = "ada.park@gmail.com"
CLIENT_ID = "123-abc.apps.googleusercontent.com"
CONTACTS = """name,email,organization,role,how_found
Dana Kim,dana.kim@example.org,County Health Department,epidemiologist,the staff page
"""


@pytest.fixture
def google(monkeypatch: pytest.MonkeyPatch) -> Iterator[GoogleSignIn]:
    # oauthlib insists on https; the emulator is plain http on the loopback
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    with GoogleSignIn(CLIENT_ID, "GOCSPX-test-secret") as emulator:
        yield emulator


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> EmulatedBrowser:
    """The person's default browser, which consents on whatever page it is shown."""
    chosen = EmulatedBrowser()
    monkeypatch.setattr(webbrowser, "_tryorder", [chosen.name])
    monkeypatch.setitem(webbrowser._browsers, chosen.name, [None, chosen])  # type: ignore[attr-defined]
    return chosen


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return ada_with_file_tokens(capsys, tmp_path, monkeypatch, CONTACTS)


@pytest.fixture
def client_file(tmp_path: Path, google: GoogleSignIn) -> Path:
    path = tmp_path / "client_secret_123-abc.apps.googleusercontent.com.json"
    path.write_text(json.dumps(client_file_json(google)), encoding="utf-8")
    return path


def add_gmail(cli: Cli, client_file: Path) -> tuple[int, str, str]:
    result = cli(
        "accounts", "add", "gmail", "--address", ME, "--client-secrets", str(client_file)
    )  # fmt: skip
    return result.code, result.out, result.err


def stored_token(cli: Cli, name: str = "gmail") -> dict[str, object] | None:
    path = cli.workspace / "secrets" / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def account_names(cli: Cli) -> list[str]:
    text = (cli.workspace / "outreach.toml").read_text(encoding="utf-8")
    return [a["name"] for a in tomllib.loads(text).get("accounts", [])]


def test_consenting_in_the_browser_adds_the_account_with_a_refresh_token(
    cli: Cli, google: GoogleSignIn, browser: EmulatedBrowser, client_file: Path
) -> None:
    code, out, err = add_gmail(cli, client_file)
    assert code == 0, err
    assert f"Added Gmail account gmail ({ME})" in out
    asked = parse_qs(urlsplit(browser.opened[0]).query)
    assert asked["scope"][0].split() == list(SCOPES)
    assert "https://www.googleapis.com/auth/gmail.send" not in asked["scope"][0]
    assert (asked["access_type"], asked["prompt"]) == (["offline"], ["consent"])
    token = stored_token(cli)
    assert token is not None
    assert token["refresh_token"] in google.refresh_tokens
    assert token["token_uri"] == f"{google.url}/token"
    assert (cli.workspace / "secrets" / "gmail.json").stat().st_mode & 0o777 == 0o600
    assert account_names(cli) == ["local", "gmail"]


def test_authorizing_again_asks_for_consent_and_gets_a_new_refresh_token(
    cli: Cli, google: GoogleSignIn, browser: EmulatedBrowser, client_file: Path
) -> None:
    assert add_gmail(cli, client_file)[0] == 0
    first = stored_token(cli)
    code, out, err = add_gmail(cli, client_file)
    assert code == 0, err
    assert "Re-authorized Gmail account gmail" in out
    second = stored_token(cli)
    assert first and second and second["refresh_token"] != first["refresh_token"]
    assert account_names(cli) == ["local", "gmail"]  # not added twice


def test_a_box_left_unticked_is_refused_with_what_outreach_would_miss(
    cli: Cli, google: GoogleSignIn, browser: EmulatedBrowser, client_file: Path
) -> None:
    google.grant = [s for s in SCOPES if not s.endswith("calendar.events")]
    before = (cli.workspace / "outreach.toml").read_text(encoding="utf-8")
    code, out, err = add_gmail(cli, client_file)
    assert code != 0
    assert "missing: see meetings and add prep notes (calendar.events)" in err
    assert "leave every box ticked" in err
    assert "Scope has changed" not in out + err  # not oauthlib's bare warning
    assert stored_token(cli) is None
    assert (cli.workspace / "outreach.toml").read_text(encoding="utf-8") == before


def test_removing_the_account_withdraws_access_at_google_and_forgets_the_sign_in(
    cli: Cli, google: GoogleSignIn, browser: EmulatedBrowser, client_file: Path
) -> None:
    assert add_gmail(cli, client_file)[0] == 0
    token = stored_token(cli)
    assert token is not None
    removed = cli("accounts", "remove", "gmail", "--yes", "--json")
    assert removed.code == 0, removed.err
    assert removed.json() == {
        "name": "gmail",
        "kind": "gmail",
        "address": ME,
        "access_withdrawn": True,
        "outreach_waiting": 0,
        "open_drafts": 0,
    }
    assert google.revoked == [token["refresh_token"]]
    assert stored_token(cli) is None
    assert account_names(cli) == ["local"]
    assert cli("accounts", "list", "--json").json()[0]["name"] == "local"


def test_when_google_cannot_be_reached_nothing_is_removed(
    cli: Cli, google: GoogleSignIn, browser: EmulatedBrowser, client_file: Path
) -> None:
    assert add_gmail(cli, client_file)[0] == 0
    google.fail_next(503, match="/revoke")
    removed = cli("accounts", "remove", "gmail", "--yes")
    assert removed.code != 0
    assert "HTTP 503" in removed.err
    assert stored_token(cli) is not None
    assert account_names(cli) == ["local", "gmail"]
    assert google.refresh_tokens  # the grant is still there, to withdraw on a retry


def test_keep_access_only_forgets_the_sign_in_here(
    cli: Cli, google: GoogleSignIn, browser: EmulatedBrowser, client_file: Path
) -> None:
    assert add_gmail(cli, client_file)[0] == 0
    removed = cli("accounts", "remove", "gmail", "--yes", "--keep-access")
    assert removed.code == 0, removed.err
    assert google.revoked == []
    assert stored_token(cli) is None


def test_remove_refuses_an_unknown_name_and_a_silent_run_without_yes(cli: Cli) -> None:
    unknown = cli("accounts", "remove", "work")
    assert unknown.code == 2
    assert "no account named 'work'; known accounts: local" in unknown.err
    unconfirmed = cli("accounts", "remove", "local")
    assert unconfirmed.code == 2
    assert "--yes" in unconfirmed.err
    assert account_names(cli) == ["local"]


def test_outreach_of_a_removed_account_waits_and_carries_on_when_it_is_added_again(
    cli: Cli, tmp_path: Path
) -> None:
    side = cli(
        "accounts", "add", "local", "--name", "side", "--address", "ada.side@example.edu",
        "--maildir", "side-mail", "--calendar", "side-calendar",
    )  # fmt: skip
    assert side.code == 0, side.err
    assert cli("start", "Dana Kim", "--account", "side").code == 0
    removed = cli("accounts", "remove", "side", "--yes")
    assert removed.code == 0, removed.err
    assert "1 outreach of this account wait" in removed.out
    assert account_names(cli) == ["local"]

    ticked = cli("tick", "--json")
    assert ticked.code == 0, ticked.err
    assert ticked.json()["drafts_created"] == 0
    assert not list((cli.workspace / "side-mail").rglob("*:2,*"))

    again = cli(
        "accounts", "add", "local", "--name", "side", "--address", "ada.side@example.edu",
        "--maildir", "side-mail", "--calendar", "side-calendar",
    )  # fmt: skip
    assert again.code == 0, again.err
    ticked = cli("tick", "--json")
    assert ticked.code == 0, ticked.err
    assert ticked.json()["drafts_created"] == 1
