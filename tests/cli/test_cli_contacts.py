"""`outreach contacts import|list` and `outreach accounts list` as a person meets them:
what a bad file or a bad option says, what is written, and what a pipe receives.

Each test runs on SQLite and on PostgreSQL (OUTREACH_DATABASE_URL points at a fresh schema).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli._app import err_console
from pipeline.cli._common import opened
from pipeline.contacts import ContactRecord, ParseResult, import_records
from tests.clitools import Cli

NO_NAME_COLUMN = "Who,Mail,Firm\nZed Q,zed@example.org,Acme\n"
SKIP_ADVICE = "import the valid rows only with --skip-invalid"


@pytest.fixture
def cli(cli: Cli) -> Cli:
    """An initialized workspace without contacts."""
    result = cli("init", "--name", "Ada Park", "--email", "ada@example.edu", "--timezone", "UTC")
    assert result.code == 0, result.err
    return cli


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def contacts(cli: Cli) -> list[dict[str, object]]:
    listed: list[dict[str, object]] = cli("contacts", "list", "--json").json()
    return listed


# --------------------------------------------------------------------------------------
# A contact needs a name


def test_a_csv_without_a_name_column_imports_nothing_and_says_how_to_map_it(
    cli: Cli, tmp_path: Path
) -> None:
    """Given a CSV whose header has no column known to hold a name, when it is imported,
    then each row is reported by file and line with the --map that would name the column,
    the exit code is 2 and nothing is written."""
    path = write(tmp_path, "generic.csv", NO_NAME_COLUMN)

    result = cli("contacts", "import", str(path))

    assert result.code == 2
    assert "generic.csv:2:" in result.err
    assert "has no name" in result.err
    assert '--map "Who=name"' in result.err
    assert "Traceback" not in result.err
    assert contacts(cli) == []


def test_mapping_the_name_column_imports_the_contact_with_its_name(
    cli: Cli, tmp_path: Path
) -> None:
    """Given the same CSV, when imported with --map "Who=name", then the contact has the
    name of that column."""
    path = write(tmp_path, "generic.csv", NO_NAME_COLUMN)

    result = cli("contacts", "import", str(path), "--map", "Who=name", "--json")

    assert result.code == 0, result.err
    assert result.json()["created"] == 1
    assert [(c["name"], c["email"]) for c in contacts(cli)] == [("Zed Q", "zed@example.org")]


def test_reimporting_fills_the_empty_name_of_an_existing_contact(cli: Cli, tmp_path: Path) -> None:
    """Given a contact stored without a name (as imports allowed before names were
    required), when a file that names them is imported, then the empty name is filled
    and the contact counts as updated."""
    nameless = ContactRecord(emails=("zed@example.org",), organization="Acme", line=2)
    parsed = ParseResult(format="csv", records=(nameless,), problems=(), skipped_blank=0)
    with opened(cli.workspace) as ctx, ctx.store.write() as session:
        import_records(session, parsed, source="generic.csv", skip_invalid=False, now=ctx.now())
    assert [c["name"] for c in contacts(cli)] == [""]
    path = write(tmp_path, "generic.csv", NO_NAME_COLUMN)

    report = cli("contacts", "import", str(path), "--map", "Who=name", "--json").json()

    assert (report["created"], report["updated"]) == (0, 1)
    listed = contacts(cli)
    assert [(c["first_name"], c["last_name"]) for c in listed] == [("Zed", "Q")]


# --------------------------------------------------------------------------------------
# Problems with the whole file, and --skip-invalid with nothing valid


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        pytest.param("empty.csv", "", "empty.csv:1: the file has no header row", id="empty"),
        pytest.param("blank.csv", "\n \n", "blank.csv:1: the file has no header row", id="blank"),
        pytest.param(
            "header.csv",
            "Name,Email\n",
            "header.csv:1: there is no contact below the header",
            id="header only",
        ),
        pytest.param(
            "image.csv", bytes(range(256)) * 8, "image.csv:1: this is not a text file", id="binary"
        ),
        pytest.param(
            "book.csv",
            b"PK\x03\x04" + b"\x14\x00" * 40,
            "book.csv:1: this is not a text file",
            id="spreadsheet",
        ),
        pytest.param(
            "quote.csv",
            'Name,Email\n"Ada,ada@example.com\nBo Ek,bo@example.com\n',
            "quote.csv:2: a quote opened in this row is never closed",
            id="quote never closed",
        ),
    ],
)
@pytest.mark.parametrize("skip_invalid", [False, True])
def test_a_problem_with_the_whole_file_never_suggests_skip_invalid(
    cli: Cli, tmp_path: Path, name: str, content: str | bytes, said: str, skip_invalid: bool
) -> None:
    """Given a file that cannot be read as contacts at all, when it is imported, with or
    without --skip-invalid, then the exit code is 2, the message names the file and line
    and says --skip-invalid cannot help, and nothing is written."""
    path = write(tmp_path, name, content)

    result = cli("contacts", "import", str(path), *(["--skip-invalid"] if skip_invalid else []))

    assert result.code == 2
    assert said in result.err
    assert "nothing imported" in result.err
    assert "--skip-invalid cannot help" in result.err
    assert SKIP_ADVICE not in result.err
    assert contacts(cli) == []


def test_skip_invalid_without_a_valid_row_exits_2_saying_nothing_was_imported(
    cli: Cli, tmp_path: Path
) -> None:
    """Given a file whose every row has a problem, when it is imported with
    --skip-invalid, then the exit code is 2, the rows are listed, the message says that
    nothing was imported and does not suggest --skip-invalid again."""
    path = write(tmp_path, "people.csv", "Name,Email\nBo Li,not-an-address\n,riya@example.com\n")

    result = cli("contacts", "import", str(path), "--skip-invalid")

    assert result.code == 2
    assert "people.csv:2: Email:" in result.err
    assert "people.csv:3: this row has no name" in result.err
    assert "nothing imported" in result.err
    assert SKIP_ADVICE not in result.err
    assert contacts(cli) == []


def test_skip_invalid_still_imports_the_valid_rows(cli: Cli, tmp_path: Path) -> None:
    """Given a file with a valid row and an invalid one, when imported without
    --skip-invalid, then the advice suggests it; with it, the valid row is imported."""
    path = write(tmp_path, "people.csv", "Name,Email\nRiya Das,riya@example.com\nBo Li,bo@\n")

    refused = cli("contacts", "import", str(path))
    done = cli("contacts", "import", str(path), "--skip-invalid", "--json")

    assert refused.code == 2
    assert SKIP_ADVICE in refused.err
    assert done.code == 0, done.err
    assert done.json()["created"] == 1


# --------------------------------------------------------------------------------------
# Options and paths


def test_an_unknown_map_field_is_an_option_problem_listing_the_fields(
    cli: Cli, tmp_path: Path
) -> None:
    """Given --map naming a field that does not exist, when importing, then the exit code
    is 2 and the message names the option and lists the fields, not a line of the file."""
    path = write(tmp_path, "generic.csv", NO_NAME_COLUMN)

    result = cli("contacts", "import", str(path), "--map", "Who=fullname")

    assert result.code == 2
    assert "--map Who=fullname: unknown field fullname; fields: first_name, last_name" in (
        result.err
    )
    assert "generic.csv:1" not in result.err
    assert contacts(cli) == []


def test_importing_a_directory_says_to_give_a_file(cli: Cli, tmp_path: Path) -> None:
    """Given a directory instead of a file, when importing, then the exit code is 2 and the
    message says it is a directory."""
    folder = tmp_path / "exports"
    folder.mkdir()

    result = cli("contacts", "import", str(folder))

    assert result.code == 2
    assert f"{folder} is a directory; give a" in result.err
    assert "no such file" not in result.err


def test_a_message_quoting_brackets_is_printed_as_written(cli: Cli, tmp_path: Path) -> None:
    """Given a cell holding square brackets (rich markup, to a careless printer), when it
    is reported, then the message shows it as written, without a traceback."""
    path = write(tmp_path, "people.csv", "Name,Email\nBo Li,[/]bo[b]@\n")

    result = cli("contacts", "import", str(path))

    assert result.code == 2
    assert "'[/]bo[b]@'" in result.err
    assert "Traceback" not in result.err


# --------------------------------------------------------------------------------------
# Tables in a pipe


def test_contacts_list_in_a_pipe_shows_every_address_whole(cli: Cli, tmp_path: Path) -> None:
    """Given contacts with long names and addresses, when the list goes to a pipe, then
    each address appears whole on its line, never cut short with an ellipsis."""
    address = "maya.okafor@example-university-department-of-public-health.edu"
    path = write(
        tmp_path,
        "people.csv",
        "Name,Email,Company,Title\n"
        f"Maya Okafor-Nwachukwu,{address},County Health Department,Senior Epidemiologist\n",
    )
    assert cli("contacts", "import", str(path)).code == 0

    result = cli("contacts", "list")

    assert result.code == 0
    assert "…" not in result.out
    assert any(
        address in line and "County Health Department" in line for line in result.out.splitlines()
    )


def test_accounts_list_in_a_pipe_has_a_header_row(cli: Cli) -> None:
    """Given the account that init creates, when the list goes to a pipe, then a header
    row names the columns above it."""
    result = cli("accounts", "list")

    assert result.code == 0
    header, *rows = [line for line in result.out.splitlines() if line.strip()]
    assert header.split() == ["name", "┃", "kind", "┃", "address", "┃", "state"]
    assert any("ada@example.edu" in row for row in rows)


@pytest.mark.parametrize(
    "typed",
    ["Zoë Ångström", "zoë ångström", "ZOË ÅNGSTRÖM", "Zoe Angstrom", "ångström", 3],
)
def test_names_with_capital_letters_beyond_ascii_are_found(
    cli: Cli, tmp_path: Path, typed: str | int
) -> None:
    """Given contacts named Zoë Ångström, Élodie Durand and Åsa Berg, then each is found
    by name in any case, with or without accents, by every command that takes one."""
    people = write(
        tmp_path,
        "people.csv",
        "name,email\nÉlodie Durand,elodie@example.org\nÅsa Berg,asa@example.org\n"
        "Zoë Ångström,zoe@example.org\n",
    )
    assert cli("contacts", "import", str(people)).code == 0
    shown = cli("contacts", "show", str(typed), "--json")
    assert shown.code == 0, shown.err
    assert shown.json()["name"] == "Zoë Ångström"
    assert cli("notes", str(typed), "--add", "Ask about fellowships").code == 0
    assert cli("start", str(typed)).code == 0
    assert cli("contacts", "show", "élodie", "--json").json()["name"] == "Élodie Durand"


def test_a_row_repeating_an_address_is_merged_and_the_import_says_so(
    cli: Cli, tmp_path: Path
) -> None:
    """Seven rows, one a second row for the same address: 6 new, and line 8 named as
    merged into line 2."""
    rows = "".join(f"Person {n},p{n}@example.org\n" for n in range(6))
    people = write(tmp_path, "people.csv", "name,email\n" + rows + "Person 0,p0@example.org\n")
    result = cli("contacts", "import", str(people))
    assert result.code == 0, result.err
    assert "6 new" in result.out
    assert "line 8 has an address of line 2: merged into it" in result.out
    again = cli("contacts", "import", str(people), "--json").json()
    assert again["merged"] == [{"line": 8, "into": 2}]


# --------------------------------------------------------------------------------------
# Progress


def test_an_import_on_a_terminal_shows_its_progress_and_a_pipe_gets_none(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a file of 1,200 contacts, when it is imported on a terminal, then a bar on
    stderr counts the contacts imported; through a pipe, stderr stays empty."""
    rows = "".join(f"Person {n},p{n}@example.org\n" for n in range(1200))
    path = write(tmp_path, "many.csv", "name,email\n" + rows)

    piped = cli("contacts", "import", str(path))
    assert piped.code == 0, piped.err
    assert piped.err == ""

    # A terminal: stderr says so, and the console (made at import, under pytest) knows it.
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    monkeypatch.setattr(err_console, "is_interactive", True)
    on_terminal = cli("contacts", "import", str(path))
    assert on_terminal.code == 0, on_terminal.err
    assert "importing contacts" in on_terminal.err
    assert "1200/1200" in on_terminal.err
    assert "0 new, 0 updated, 1200 unchanged" in on_terminal.out
