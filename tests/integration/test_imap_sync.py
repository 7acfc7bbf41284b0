"""The local account behind a real IMAP server: Dovecot on loopback, the real mbsync with
the README's sample mbsyncrc, and the `outreach` command on a fixed clock.

The person's mail client is played on the server over IMAP: it sends a draft (a copy
with a new Message-ID, without our header, filed in "Sent Items"; the draft deleted),
deletes a draft to decline it, and a reply arrives in INBOX. Skipped when Dovecot or
mbsync is not installed, except in CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import pytest

from connectors.maildir import PLACEHOLDER_MARKER
from tests.clitools import Cli, local_ada
from tests.contract.clients import files
from tests.harness import DANA, SAM, TWO_CONTACTS
from tests.imapserver import Dovecot, Mbsync, dovecot, local_mbsyncrc, readme_mbsyncrc


@pytest.fixture
def server() -> Iterator[Dovecot]:
    with dovecot() as running:
        yield running


@pytest.fixture
def ada(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Ada's workspace (SQLite), her two contacts imported, her server's sent folder named
    "Sent Items" in outreach.toml."""
    cli = local_ada(capsys, tmp_path, monkeypatch, TWO_CONTACTS)
    toml = cli.workspace / "outreach.toml"
    text = toml.read_text(encoding="utf-8")
    account = 'calendar = "calendar"\n'
    assert account in text
    toml.write_text(text.replace(account, account + 'sent_folder = "Sent Items"\n', 1))
    return cli


def mbsync_with(config: str, directory: Path) -> Mbsync:
    directory.mkdir(exist_ok=True)
    (directory / "mbsyncrc").write_text(config, encoding="utf-8")
    return Mbsync(directory / "mbsyncrc")


def verbatim_mbsync(server: Dovecot, mail: Path, tmp_path: Path) -> Mbsync:
    """The README's mbsyncrc with `SubFolders Verbatim` (INBOX in a subfolder) and
    `Expunge None`."""
    sample = readme_mbsyncrc()
    verbatim = sample.replace("SubFolders Maildir++", "SubFolders Verbatim\nPath PLACE")
    verbatim = verbatim.replace("Expunge Both", "Expunge None")
    config = local_mbsyncrc(verbatim, server, mail).replace(f"Inbox {mail}", f"Inbox {mail}/INBOX")
    return mbsync_with(config, tmp_path / "mbsync")


def tick(cli: Cli) -> dict[str, Any]:
    result = cli("tick", "--json")
    assert result.code == 0, result.err
    summary: dict[str, Any] = result.json()
    return summary


def sent_copy(draft: EmailMessage, at: str) -> EmailMessage:
    """What a mail client files in Sent when it sends ``draft``: a new Message-ID, the
    send time, and none of the headers it does not know."""
    sent = EmailMessage()
    for name in ("From", "To", "Subject", "In-Reply-To", "References"):
        if draft[name] is not None:
            sent[name] = draft[name]
    sent["Date"] = at
    sent["Message-ID"] = make_msgid(domain="mail.example.edu")
    body = draft.get_body(("plain",))
    assert body is not None
    sent.set_content(body.get_content())
    return sent


def to(message: EmailMessage) -> str:
    return str(message["To"].addresses[0].addr_spec)


def test_the_readme_mbsyncrc_carries_a_whole_outreach_through_a_real_server(
    ada: Cli, server: Dovecot, tmp_path: Path
) -> None:
    """Drafts reach the server's Drafts; a send and a decline made on the server are read
    right; a nudge is drafted in the thread; a reply arrives, the waiting nudge is taken
    back and leaves the server, the answer goes up; more sync cycles duplicate nothing."""
    mail = ada.workspace / "mail"
    mbsync = mbsync_with(local_mbsyncrc(readme_mbsyncrc(), server, mail), tmp_path / "mbsync")
    for name in ("Dana Kim", "Sam Ortiz"):
        assert ada("start", name).code == 0

    mbsync()
    assert tick(ada)["drafts_created"] == 2
    mbsync()
    drafts = {to(d): d for d in server.messages("Drafts")}
    assert sorted(drafts) == [DANA, SAM]
    assert all(d["X-Outreach-Key"] for d in drafts.values())

    # Ada sends Dana's draft from her mail client and deletes Sam's.
    ada.at(ada.now + timedelta(minutes=20))
    sent = sent_copy(drafts[DANA], format_datetime(ada.now - timedelta(minutes=5)))
    server.append("Sent Items", sent, "\\Seen")
    server.delete("Drafts", drafts[DANA]["X-Test-Uid"])
    server.delete("Drafts", drafts[SAM]["X-Test-Uid"])
    mbsync()
    tick(ada)
    assert ada("status", "--json").json()["funnel"] == {"sent": 1, "skipped": 1}
    assert files(mail / ".Drafts") == []
    assert len(files(mail / ".Sent Items")) == 1

    # Five business days later, a nudge in the same thread.
    ada.at(ada.now + timedelta(days=7))
    mbsync()
    assert tick(ada)["drafts_created"] == 1
    mbsync()
    (nudge,) = server.messages("Drafts")
    assert to(nudge) == DANA
    assert nudge["In-Reply-To"] == sent["Message-ID"]

    # Dana replies before Ada sends the nudge.
    ada.at(ada.now + timedelta(hours=2))
    reply = EmailMessage()
    reply["From"] = f"Dana Kim <{DANA}>"
    reply["To"] = "Ada Park <ada@example.edu>"
    reply["Subject"] = f"Re: {sent['Subject']}"
    reply["Date"] = format_datetime(ada.now - timedelta(minutes=30))
    reply["Message-ID"] = make_msgid(domain="example.org")
    reply["In-Reply-To"] = sent["Message-ID"]
    reply["References"] = sent["Message-ID"]
    reply.set_content("Happy to chat! Thursday afternoon works for me.\n\nDana")
    server.append("INBOX", reply)
    mbsync()
    tick(ada)
    mbsync()
    (answer,) = server.messages("Drafts")
    assert answer["X-Outreach-Key"] != nudge["X-Outreach-Key"]
    assert answer["In-Reply-To"] == reply["Message-ID"]
    assert ada("status", "--json").json()["funnel"] == {"replied": 1, "skipped": 1}

    # More cycles (and more time) change nothing, on either side.
    for _ in range(3):
        ada.at(ada.now + timedelta(minutes=15))
        mbsync()
        assert tick(ada)["drafts_created"] == 0
    mbsync()
    on_server = {
        name: sorted(str(m["Message-ID"]) for m in server.messages(name))
        for name in ("INBOX", "Drafts", "Sent Items")
    }
    assert on_server == {
        "INBOX": [reply["Message-ID"]],
        "Drafts": [answer["Message-ID"]],
        "Sent Items": [sent["Message-ID"]],
    }
    local = {
        name: len(files(folder))
        for name, folder in (
            ("INBOX", mail),
            ("Drafts", mail / ".Drafts"),
            ("Sent Items", mail / ".Sent Items"),
        )
    }
    assert local == {"INBOX": 1, "Drafts": 1, "Sent Items": 1}


def test_verbatim_subfolders_synced_after_the_first_tick_and_a_trashed_draft(
    ada: Cli, server: Dovecot, tmp_path: Path
) -> None:
    """Given mbsync with `SubFolders Verbatim` and `Expunge None`, first run after the
    first tick drafted into the placeholder .Drafts: the next tick hands the draft to
    mbsync's Drafts and it reaches the server; deleted there, it stays locally flagged T
    and counts as declined."""
    mail = ada.workspace / "mail"
    mbsync = verbatim_mbsync(server, mail, tmp_path)
    assert ada("start", "Dana Kim").code == 0

    assert tick(ada)["drafts_created"] == 1
    mbsync()
    assert server.messages("Drafts") == []  # still in the placeholder
    tick(ada)
    assert not (mail / ".Drafts").exists()
    mbsync()
    (draft,) = server.messages("Drafts")
    assert to(draft) == DANA

    server.delete("Drafts", draft["X-Test-Uid"])
    mbsync()
    (trashed,) = files(mail / "Drafts")
    assert trashed.name.endswith("T")
    tick(ada)
    assert ada("status", "--json").json()["funnel"] == {"skipped": 1}


def test_an_older_inits_drafts_folder_gives_way_to_mbsyncs_verbatim_drafts(
    ada: Cli, server: Dovecot, tmp_path: Path
) -> None:
    """Given a workspace from an older `outreach init` (its .Drafts, .Sent and inbox carry
    no placeholder marker) with a draft already in .Drafts, when mbsync (`SubFolders
    Verbatim`) has made its Drafts, then the next tick uses mbsync's Drafts: the draft
    moves there, the old .Drafts goes, and the draft reaches the server."""
    mail = ada.workspace / "mail"
    for folder in (mail, mail / ".Drafts", mail / ".Sent"):
        (folder / PLACEHOLDER_MARKER).unlink()
    mbsync = verbatim_mbsync(server, mail, tmp_path)
    assert ada("start", "Dana Kim").code == 0
    assert tick(ada)["drafts_created"] == 1
    (written,) = files(mail / ".Drafts")
    mbsync()
    assert server.messages("Drafts") == []

    tick(ada)
    assert not (mail / ".Drafts").exists()
    assert [p.name.split(",")[0] for p in files(mail / "Drafts")] == [written.name.split(",")[0]]
    mbsync()
    (draft,) = server.messages("Drafts")
    assert to(draft) == DANA
    assert ada("status", "--json").json()["funnel"] == {"outreach_drafted": 1}
