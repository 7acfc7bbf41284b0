"""`outreach classify`: JSON lines in input order, a table, and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests import paths

SAMPLES = paths.SAMPLES / "inbound"
KEYS = {
    "file",
    "kind",
    "intent",
    "reply_text",
    "return_date",
    "bounce",
    "meeting",
    "referrals",
    "reason",
}


def _outreach(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from pipeline.cli import main; main()", *args],
        capture_output=True,
        text=True,
        check=False,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"},
    )


def test_json_lines_in_input_order() -> None:
    """--json prints one object per file, in the order given, with the documented keys."""
    files = [SAMPLES / "bounce_o365_mailbox_full.eml", SAMPLES / "ooo_de_bis_einschliesslich.eml"]
    done = _outreach("classify", *map(str, files), "--json")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["file"] for r in rows] == [str(f) for f in files]
    assert all(set(r) == KEYS for r in rows)
    assert rows[0]["bounce"] == {"type": "soft", "recipients": ["marcus.bell@example.org"]}
    assert rows[1]["return_date"] == "2025-08-23"


def test_meeting_times_end_in_z() -> None:
    """Meeting start and end are ISO 8601 in UTC with a Z."""
    done = _outreach("classify", str(SAMPLES / "invite_zoom_attachment.eml"), "--json")
    meeting = json.loads(done.stdout)["meeting"]
    assert (meeting["start"], meeting["end"]) == ("2025-03-18T13:00:00Z", "2025-03-18T13:30:00Z")


def test_own_address_is_not_a_referral() -> None:
    """--own keeps the user's address out of the referrals."""
    done = _outreach(
        "classify",
        str(SAMPLES / "human_referral_cc.eml"),
        "--json",
        "--own",
        "sam.rivera@example.edu",
    )
    assert json.loads(done.stdout)["referrals"] == [
        {"name": "Jordan Lee", "email": "jordan.lee@example.com"}
    ]


def test_unparseable_file_exits_zero_as_other() -> None:
    """A file that is not mail is kind other, and the exit code is still 0."""
    done = _outreach("classify", str(SAMPLES / "garbage.eml"), "--json")
    assert (done.returncode, json.loads(done.stdout)["kind"]) == (0, "other")


def test_missing_file_exits_two_naming_it() -> None:
    """A file that does not exist exits 2 with a message naming it."""
    done = _outreach("classify", "no-such-mail.eml")
    assert done.returncode == 2
    assert "no-such-mail.eml" in done.stderr


def test_a_directory_exits_two_saying_to_give_a_file(tmp_path: Path) -> None:
    """Given a directory among the files, when classifying, then the exit code is 2 and the
    message says that it is a directory, not that it does not exist."""
    done = _outreach("classify", str(tmp_path), str(SAMPLES / "meeting_cancel.eml"))
    assert done.returncode == 2
    assert f"{tmp_path} is a directory; give a" in done.stderr
    assert "no such file" not in done.stderr


def test_table_without_json() -> None:
    """Without --json a readable table shows each file's kind."""
    done = _outreach("classify", str(SAMPLES / "meeting_cancel.eml"))
    assert done.returncode == 0
    assert "meeting_cancel" in done.stdout


def test_help_has_an_example() -> None:
    """--help shows an example command line."""
    done = _outreach("classify", "--help")
    assert done.returncode == 0
    assert "Example" in done.stdout
