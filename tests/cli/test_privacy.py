"""Contact data is personal: what outreach writes is readable by its owner only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.clitools import Cli
from tests.harness import DANA, MONDAY, TWO_CONTACTS, started_world

CONTACTS = """name,email,organization,role,how_found
Dana Kim,dana.kim@example.org,County Health Department,epidemiologist,the staff page
"""


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_workspace_its_database_and_its_mail_are_private(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """Given a permissive umask, when a person sets up, imports, drafts and saves a
    digest, then every folder is 0700 and every file 0600."""
    before = os.umask(0o022)
    request.addfinalizer(lambda: os.umask(before))
    monkeypatch.delenv("OUTREACH_DATABASE_URL", raising=False)
    monkeypatch.setenv("OUTREACH_HOME", str(tmp_path / "ws"))
    cli = Cli(capsys, tmp_path / "ws", monkeypatch)
    cli.set_up_ada(tmp_path / "contacts.csv", CONTACTS)
    assert cli("start", "--all").code == 0
    assert cli("tick").code == 0
    assert cli("digest", "--to", str(cli.workspace / "digest.eml")).code == 0
    written = [p for p in cli.workspace.rglob("*") if not p.is_symlink()]
    assert any(p.parent.name == "cur" for p in written)  # the draft is among them
    assert _mode(cli.workspace) == 0o700
    loose = {
        str(p.relative_to(cli.workspace)): oct(_mode(p))
        for p in written
        if _mode(p) != (0o700 if p.is_dir() else 0o600)
    }
    assert loose == {}


def test_two_people_on_one_domain_never_share_a_message_id(
    tmp_path: Path, database_url: str
) -> None:
    """Given two students of one university, each with an account named alike and a first
    contact of the same id (so their step keys coincide), then their first drafts carry
    different Message-IDs; and each workspace's id stays the same on a retry."""
    ids = []
    for person in ("first", "second"):
        home = tmp_path / person
        home.mkdir()
        url = database_url if person == "first" else f"sqlite:///{home / 'x.db'}"
        with started_world(home, url, MONDAY, TWO_CONTACTS) as world:
            world.tick()
            draft = world.draft_for(DANA, "first_outreach")
            ids.append(str(draft.message["Message-ID"]))
            again = world.mailbox.create_draft(draft.message, str(draft.key), None)
            assert again.message_id == ids[-1]
    assert ids[0] != ids[1]
    assert all(i.endswith("@example.edu>") for i in ids)
