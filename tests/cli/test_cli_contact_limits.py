"""Contacts that are too long, addresses no draft can go to, and people who share a name:
one rule on SQLite and PostgreSQL, a problem with its line and column, exit 2, no traceback,
nothing half-written; and what is allowed drafts a message whose every line mail accepts.

Each test runs on SQLite and on PostgreSQL (OUTREACH_DATABASE_URL points at a fresh schema).
"""

from __future__ import annotations

import csv
import email
import email.policy
import email.utils
import io
import re
from email.header import decode_header, make_header
from pathlib import Path

import pytest

from pipeline.cli._common import opened
from pipeline.compose import MAX_LINE_OCTETS
from pipeline.contacts import MAX_LENGTHS, MAX_NAME_LENGTH
from pipeline.models import Contact, ContactEmail
from tests.clitools import Cli, Result, one_line

HEADER = "Name,Email,Company,Position,How Found\n"
DANA = '"Dana Kim",dana@example.org,Acme,analyst,a talk\n'
LONGEST_ORG = "O" * MAX_LENGTHS["organization"]


@pytest.fixture
def cli(cli: Cli) -> Cli:
    """An initialized workspace without contacts."""
    result = cli(
        "init", "--name", "Ada Park", "--email", "ada@example.edu", "--timezone", "UTC",
        "--background", "a biology senior", "--field", "public health",
        "--intro", "I study biology.",
    )  # fmt: skip
    assert result.code == 0, result.err
    return cli


def as_csv(cells: list[str]) -> str:
    """One CSV row, quoted as a spreadsheet would."""
    line = io.StringIO()
    csv.writer(line, lineterminator="\n").writerow(cells)
    return line.getvalue()


def row(name: str, address: str = "", org: str = "Acme") -> str:
    """A person in the HEADER's columns."""
    return as_csv([name, address, org, "analyst", "a talk"])


def csv_file(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "people.csv"
    path.write_text(header + "".join(rows), encoding="utf-8", newline="")
    return path


def contacts(cli: Cli) -> list[dict[str, object]]:
    listed: list[dict[str, object]] = cli("contacts", "list", "--json").json()
    return listed


def refused(result: Result, *parts: str) -> None:
    """Exit 2, every part of the message there, and no traceback."""
    assert result.code == 2, result.out + result.err
    for part in parts:
        assert part in one_line(result.err)
    assert "Traceback" not in result.err


def recipient(raw: bytes) -> tuple[str, str]:
    """The To: of a raw message, decoded as RFC 2047 says (the whitespace between two
    encoded words of one folded name is not part of it, which email.policy.default's
    parser gets wrong), then parsed as RFC 5322 says."""
    head = raw.split(b"\n\n")[0].decode("ascii")
    unfolded = re.sub(r"\r?\n[ \t]", " ", head)
    value = next(line for line in unfolded.splitlines() if line.startswith("To: "))[4:]
    if "=?" not in value:  # no encoded word: a quoted string that only this parser reads
        parsed = email.message_from_bytes(raw, policy=email.policy.default)["To"]
        return parsed.addresses[0].display_name, parsed.addresses[0].addr_spec
    return email.utils.parseaddr(str(make_header(decode_header(value))))


def drafts(cli: Cli) -> list[bytes]:
    folder = cli.workspace / "mail" / ".Drafts" / "cur"
    return [path.read_bytes() for path in sorted(folder.iterdir())]


# --------------------------------------------------------------------------------------
# Lengths


@pytest.mark.parametrize(
    "name",
    [
        "A" * MAX_NAME_LENGTH,  # one word: nowhere to fold but inside it
        ("Zoë Müller-Łukasiewicz " * 10)[:MAX_NAME_LENGTH].strip(),
        "Ö" * 100 + " " + "Ü" * 99,  # long words that must be encoded
        "Jo " + '"Quoted", \\ & (odd) <chars>; ' * 6,  # folded unquoted, it was 13 addresses
        "a, evil@example.net, " + "Lee " * 44,
    ],
)
def test_the_longest_name_and_organization_allowed_import_and_draft(
    cli: Cli, tmp_path: Path, name: str
) -> None:
    """Given a name and an organization as long as allowed, when imported, started and
    drafted (on SQLite and PostgreSQL alike), then the draft's every line is at most 998
    octets and its To: line gives the name back whole."""
    assert len(name) <= MAX_NAME_LENGTH
    first, _, last = name.partition(" ")  # columns of their own: no "Last, First" reading
    cells = [first, last, "jo@example.org", LONGEST_ORG, "analyst", "a talk"]
    path = csv_file(tmp_path, as_csv(cells), header=f"First Name,Last Name,{HEADER[5:]}")
    imported = cli("contacts", "import", str(path))
    assert imported.code == 0, imported.err
    (person,) = contacts(cli)
    assert person["organization"] == LONGEST_ORG
    assert cli("start", "--all").code == 0
    ticked = cli("tick")
    assert ticked.code == 0, ticked.err
    (raw,) = drafts(cli)
    assert max(len(line) for line in raw.split(b"\n")) <= MAX_LINE_OCTETS
    assert recipient(raw) == (" ".join(name.split()), "jo@example.org")


def test_names_and_organizations_too_long_are_row_problems_and_nothing_is_imported(
    cli: Cli, tmp_path: Path
) -> None:
    """Given rows whose name or organization would not fit (PostgreSQL refused them, SQLite
    took them), when imported, then each is a problem with its line and column, exit 2,
    and not even the good row is written; --skip-invalid imports the good row only."""
    path = csv_file(
        tmp_path,
        DANA,
        row("B" * (MAX_NAME_LENGTH + 1), "b@example.org"),
        row("Cy Long", "cy@example.org", org="C" * (MAX_LENGTHS["organization"] + 1)),
        row("D" * 3000, "d@example.org"),
    )
    result = cli("contacts", "import", str(path))
    refused(
        result,
        f"{path}:3: Name: the name has 201 characters; expected at most 200",
        f"{path}:4: Company: the organization has 301 characters; expected at most 300",
        f"{path}:5: Name: the name has 3000 characters",
    )
    assert contacts(cli) == []
    skipped = cli("contacts", "import", str(path), "--skip-invalid")
    assert skipped.code == 0, skipped.err
    assert [c["name"] for c in contacts(cli)] == ["Dana Kim"]


def test_first_and_last_name_together_are_limited(cli: Cli, tmp_path: Path) -> None:
    path = csv_file(
        tmp_path, f"{'F' * 150},{'L' * 60},fl@example.org\n", header="First Name,Last Name,Email\n"
    )
    refused(
        cli("contacts", "import", str(path)),
        f"{path}:2: First Name + Last Name: the name has 211 characters",
    )
    assert contacts(cli) == []


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("first_name", "F" * 197, "first_name: the name has 201 characters"),  # + " Kim"
        ("last_name", "L" * 196, "last_name: the name has 201 characters"),  # "Dana " +
        ("organization", "O" * 301, "organization: the organization has 301 characters"),
        ("role", "R" * 301, "role: the role has 301 characters"),
        ("field", "F" * 301, "field: the field has 301 characters"),
        ("referred_by", "R" * 301, "referred_by: the referred by has 301 characters"),
    ],
)
def test_contacts_set_refuses_a_value_too_long_and_changes_nothing(
    cli: Cli, tmp_path: Path, field: str, value: str, expected: str
) -> None:
    assert cli("contacts", "import", str(csv_file(tmp_path, DANA))).code == 0
    before = contacts(cli)
    refused(cli("contacts", "set", "Dana Kim", "role=lead", f"{field}={value}"), expected)
    assert contacts(cli) == before


def test_referral_add_refuses_a_name_too_long(cli: Cli, tmp_path: Path) -> None:
    assert cli("contacts", "import", str(csv_file(tmp_path, DANA))).code == 0
    result = cli(
        "referral", "add", "--from", "Dana Kim", "--name", "Lee " + "C" * 197,
        "--email", "lee@example.org",
    )  # fmt: skip
    refused(result, "--name: the name has 201 characters; expected at most 200")
    assert [c["name"] for c in contacts(cli)] == ["Dana Kim"]


# --------------------------------------------------------------------------------------
# Internationalized addresses: refused everywhere, with the reason


INTERNATIONAL = "dörte@example.org"
REASON = "has 'ö' before the @: an internationalized address"


def test_import_refuses_an_internationalized_address_saying_why(cli: Cli, tmp_path: Path) -> None:
    path = csv_file(tmp_path, DANA, row("Dörte Sommer", INTERNATIONAL))
    refused(
        cli("contacts", "import", str(path)),
        f"{path}:3: Email: '{INTERNATIONAL}' cannot be used: it {REASON}",
        "ask the person for an address in plain ASCII letters",
    )
    assert contacts(cli) == []


def test_contacts_set_and_referral_add_refuse_an_internationalized_address(
    cli: Cli, tmp_path: Path
) -> None:
    assert cli("contacts", "import", str(csv_file(tmp_path, DANA))).code == 0
    before = contacts(cli)
    refused(cli("contacts", "set", "Dana Kim", f"email={INTERNATIONAL}"), REASON)
    referred = cli(
        "referral", "add", "--from", "Dana Kim", "--name", "Dörte Sommer",
        "--email", INTERNATIONAL,
    )  # fmt: skip
    refused(referred, f"--email '{INTERNATIONAL}'", REASON)
    assert contacts(cli) == before


def test_start_skips_an_internationalized_address_stored_before(cli: Cli, tmp_path: Path) -> None:
    """Given an address that an older version imported, when `start --all` runs, then the
    contact is skipped with the reason and nothing is drafted to it."""
    assert cli("contacts", "import", str(csv_file(tmp_path, DANA))).code == 0
    with opened(cli.workspace) as ctx, ctx.store.write() as session:
        contact = session.query(Contact).one()
        contact.emails = [ContactEmail(email=INTERNATIONAL, position=0)]
    started = cli("start", "--all", "--json")
    assert started.json()["started"] == []
    (skipped,) = started.json()["skipped"]
    assert REASON in skipped["reason"]
    assert cli("tick").code == 0
    assert drafts(cli) == []


def test_an_international_domain_is_drafted_in_ascii(cli: Cli, tmp_path: Path) -> None:
    path = csv_file(tmp_path, row("Ana Weber", "ana@bücher.example"))
    assert cli("contacts", "import", str(path)).code == 0
    assert cli("start", "--all").code == 0
    assert cli("tick").code == 0
    (raw,) = drafts(cli)
    assert b"To: Ana Weber <ana@xn--bcher-kva.example>" in raw
    assert raw.isascii()


# --------------------------------------------------------------------------------------
# People of one name and organization


def test_two_people_of_one_name_and_organization_stay_two_contacts(
    cli: Cli, tmp_path: Path
) -> None:
    """Given two rows, one name and organization, two addresses, when imported, then they
    are two contacts (each can be written to) and the report says why."""
    path = csv_file(
        tmp_path, row("Sam Lee", "sam.lee@acme.example"), row("Sam Lee", "sl@x.example")
    )
    result = cli("contacts", "import", str(path))
    assert result.code == 0, result.err
    assert "matched to your contacts by email address; a row without one by name" in result.out
    assert "line 3: Sam Lee (sl@x.example) shares a name and organization" in one_line(result.out)
    emails = sorted(str(c["email"]) for c in contacts(cli))
    assert emails == ["sam.lee@acme.example", "sl@x.example"]
    started = cli("start", "--all", "--json").json()
    assert len(started["started"]) == 2


def test_a_row_without_an_address_matches_by_name_and_organization(
    cli: Cli, tmp_path: Path
) -> None:
    """Given a contact imported before, when a row of the same name and organization comes
    without an address, then it fills that contact; and a row that brings the address to a
    contact imported without one fills it in too."""
    first = tmp_path / "first.csv"
    first.write_text(HEADER + row("Kai Ito", "") + row("Sam Lee", "sam@acme.example"), "utf-8")
    assert cli("contacts", "import", str(first)).code == 0
    second = csv_file(tmp_path, row("Kai Ito", "kai@acme.example"), row("Sam Lee", ""))
    result = cli("contacts", "import", str(second), "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert (report["created"], report["matched_by_name"], report["kept_apart"]) == (0, 2, [])
    emails = {c["name"]: c["email"] for c in contacts(cli)}
    assert emails == {"Kai Ito": "kai@acme.example", "Sam Lee": "sam@acme.example"}


def test_a_nul_in_a_vcard_is_a_row_problem_on_every_database(cli: Cli, tmp_path: Path) -> None:
    """PostgreSQL cannot store a NUL (the import crashed there, SQLite took it)."""
    path = tmp_path / "c.vcf"
    path.write_bytes(
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\x00Lee\r\nEMAIL:a@x.org\r\nEND:VCARD\r\n"
    )
    refused(cli("contacts", "import", str(path)), f"{path}:3: FN: this property holds")
    assert contacts(cli) == []


def test_your_own_address_follows_the_same_rule(cli: Cli) -> None:
    """An account's address is refused as a contact's would be."""
    before = (cli.workspace / "outreach.toml").read_bytes()
    added = cli("accounts", "add", "local", "--name", "uni", "--address", INTERNATIONAL)
    refused(added, f"--address '{INTERNATIONAL}'", REASON)
    assert (cli.workspace / "outreach.toml").read_bytes() == before
