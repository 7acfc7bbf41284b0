"""Reading contact files: each export format, the problems reported, and no data lost."""

from __future__ import annotations

import csv
import io
import keyword
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import String

from pipeline.contacts import (
    FIELDS,
    FORMATS,
    MAX_LENGTHS,
    MAX_NAME_LENGTH,
    ContactRecord,
    ParseResult,
    Problem,
    custom_field_key,
    decode_text,
    mapped_field,
    parse_contacts,
)
from pipeline.models import Contact
from pipeline.resources import config_dir
from tests import paths

SAMPLES = paths.SAMPLES / "contacts"


def sample(name: str) -> Path:
    return SAMPLES / name


def by_email(result: ParseResult) -> dict[str, ContactRecord]:
    return {r.primary_email: r for r in result.records if r.primary_email}


def by_name(result: ParseResult) -> dict[str, ContactRecord]:
    return {r.name: r for r in result.records}


def where(result: ParseResult) -> list[tuple[int, str | None]]:
    """The (line, column) of every problem, in order."""
    return [(p.line, p.column) for p in result.problems]


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


# --------------------------------------------------------------------------------------
# LinkedIn


def test_linkedin_export_skips_its_notes_and_keeps_every_column() -> None:
    result = parse_contacts(sample("linkedin_connections.csv"))

    assert result.format == "linkedin"
    assert result.problems == ()
    assert result.skipped_blank == 1
    assert [r.line for r in result.records] == [5, 6, 7, 9]
    amara = result.records[0]
    assert amara == ContactRecord(
        first_name="Amara",
        last_name="Nwosu",
        emails=("amara.nwosu@example.com",),
        organization="Tidewater Software",
        role="Staff Engineer",
        custom={
            "url": "https://linkedin.example.com/in/amara-nwosu",
            "connected_on": "03 Feb 2025",
        },
        line=5,
    )


def test_linkedin_connections_without_email_are_kept() -> None:
    result = parse_contacts(sample("linkedin_connections.csv"))

    felix = by_name(result)["Felix Brandt"]
    assert felix.emails == ()
    assert felix.primary_email is None
    assert felix.organization == "Brandt, Kovacs & Partners"
    assert by_name(result)["Samuel Osei"].organization is None


def test_linkedin_addresses_are_normalized() -> None:
    result = parse_contacts(sample("linkedin_connections.csv"))

    assert by_name(result)["Noor Haddad"].emails == ("noor.haddad@example.net",)
    assert by_name(result)["Noor Haddad"].role == "Senior UX Researcher, Accessibility"


def test_shipped_demo_sample_is_a_clean_linkedin_export() -> None:
    path = config_dir() / "sample" / "linkedin_connections.csv"
    result = parse_contacts(path)

    assert result.format == "linkedin"
    assert result.problems == ()
    assert len(result.records) == 8
    assert path.read_text(encoding="utf-8").splitlines()[3] == (
        "First Name,Last Name,URL,Email Address,Company,Position,Connected On"
    )
    domains = {email.split("@")[1] for r in result.records for email in r.emails}
    assert domains <= {"example.com", "example.org", "example.net"}
    assert len({r.organization for r in result.records}) == 8
    assert all(r.role and r.custom["connected_on"] for r in result.records)


# --------------------------------------------------------------------------------------
# Google


def test_google_export_reads_multiple_addresses_labels_and_bom() -> None:
    result = parse_contacts(sample("google_contacts.csv"))

    assert result.format == "google"
    assert result.encoding == "utf-8-sig"
    assert result.problems == ()
    assert result.skipped_blank == 1
    lucia = by_name(result)["Lucía Fernández"]
    assert lucia.emails == (
        "lucia.fernandez@example.org",
        "lucia.f@example.net",
        "lfernandez@example.com",
    )
    assert lucia.organization == "Cedar Ridge Health Department"
    assert lucia.role == "Epidemiologist"
    assert lucia.notes == (
        "Met at the spring public health career fair.\nAsked me to write after finals."
    )
    assert lucia.custom["organization_department"] == "Infectious Disease"
    assert lucia.custom["phone_1_value"] == "+1 555 0100 231"


def test_google_labels_become_tags_without_the_system_group() -> None:
    result = parse_contacts(sample("google_contacts.csv"))

    assert by_name(result)["Lucía Fernández"].tags == ("Public Health", "Mentors", "Volunteering")
    assert by_name(result)["Marcus Hale"].tags == ()
    assert by_name(result)["Wen Zhao"].tags == ("Alumni",)


def test_duplicate_address_in_one_file_is_merged_into_the_first_record() -> None:
    """Given two rows for one address in different case, then one record: first values win."""
    result = parse_contacts(sample("google_contacts.csv"))

    assert [r.name for r in result.records] == ["Lucía Fernández", "Marcus Hale", "Wen Zhao"]
    lucia = result.records[0]
    assert lucia.line == 2
    assert lucia.organization == "Cedar Ridge Health Department"  # not "Cedar Ridge County"
    assert "Volunteering" in lucia.tags


def test_line_numbers_count_physical_lines_of_multiline_cells() -> None:
    result = parse_contacts(sample("google_contacts.csv"))

    assert [r.line for r in result.records] == [2, 4, 5]


def test_google_legacy_export() -> None:
    result = parse_contacts(sample("google_contacts_legacy.csv"))

    assert result.format == "google"
    assert result.problems == ()
    ruth, oskar = result.records
    assert (ruth.first_name, ruth.last_name) == ("Ruth", "Adeyemi")
    assert ruth.organization == "The Harbor Courier"
    assert ruth.role == "Data Reporter"
    assert ruth.tags == ("Journalism",)
    assert ruth.custom["organization_1_department"] == "Newsroom"
    assert (oskar.first_name, oskar.last_name) == ("Oskar", "Lind")  # split from "Name"
    assert oskar.custom["occupation"] == "Grant writer"


# --------------------------------------------------------------------------------------
# Outlook


def test_outlook_export() -> None:
    result = parse_contacts(sample("outlook_contacts.csv"))

    assert result.format == "outlook"
    assert result.problems == ()
    grace = by_name(result)["Grace Oduya"]
    assert grace.emails == ("grace.oduya@example.org", "g.oduya@example.net")
    assert grace.organization == "Northgate School of Public Health"
    assert grace.role == "Associate Professor"
    assert grace.referred_by == "Prof. Alvarez"
    assert grace.tags == ("Public Health", "Faculty")
    assert grace.notes == "Leads the vaccine equity study."


def test_outlook_title_is_an_honorific_not_a_role() -> None:
    grace = by_name(parse_contacts(sample("outlook_contacts.csv")))["Grace Oduya"]

    assert grace.custom["title"] == "Dr."
    assert grace.role == "Associate Professor"


def test_outlook_filler_values_are_not_custom_fields() -> None:
    """Outlook writes Sensitivity=Normal and Private=False on every row: they say nothing."""
    hiro = by_name(parse_contacts(sample("outlook_contacts.csv")))["Hiro Tanaka"]

    assert dict(hiro.custom) == {"mobile_phone": "555-0142"}


def test_outlook_export_in_utf16(tmp_path: Path) -> None:
    text = sample("outlook_contacts.csv").read_text(encoding="utf-8")
    path = write(tmp_path, "contacts.csv", text.encode("utf-16"))

    result = parse_contacts(path)

    assert result.encoding == "utf-16"
    assert result == ParseResult(
        format="outlook",
        records=parse_contacts(sample("outlook_contacts.csv")).records,
        problems=(),
        skipped_blank=0,
        encoding="utf-16",
    )


# --------------------------------------------------------------------------------------
# Generic CSV


def test_generic_csv_recognizes_common_headers() -> None:
    result = parse_contacts(sample("generic.csv"))

    assert result.format == "csv"
    assert result.problems == ()
    dana = by_name(result)["Dana Whitfield"]
    assert dana == ContactRecord(
        first_name="Dana",
        last_name="Whitfield",
        emails=("dana.whitfield@example.org",),
        organization="Greenway Transit Authority",
        role="Planner",
        field="urban planning",
        how_found="alumni directory",
        timezone="America/Chicago",
        notes="Prefers mornings",
        tags=("alumni", "transit"),
        custom={"pronouns": "she/her"},
        line=2,
    )


def test_generic_csv_merges_rows_and_canonicalizes_time_zones() -> None:
    result = parse_contacts(sample("generic.csv"))

    kim = by_email(result)["jaewon.kim@example.com"]
    assert (kim.first_name, kim.last_name) == ("Jae-won", "Kim")  # from "Kim, Jae-won"
    assert kim.emails == ("jaewon.kim@example.com", "jw.kim@example.net")
    assert kim.timezone == "Asia/Seoul"  # written "asia/seoul"
    assert kim.referred_by == "Dana Whitfield"
    assert kim.tags == ("finance", "mentor")
    assert kim.notes == "Second address from his card"
    assert kim.custom == {"met_at_event": "Fall career fair 2025", "pronouns": "he/him"}
    assert kim.line == 3


def test_generic_csv_keeps_a_contact_without_email_and_counts_blank_rows() -> None:
    result = parse_contacts(sample("generic.csv"))

    assert [r.name for r in result.records] == ["Dana Whitfield", "Jae-won Kim", "Priya Menon"]
    assert by_name(result)["Priya Menon"].emails == ()
    assert by_name(result)["Priya Menon"].tags == ("nonprofit", "food security")
    assert result.skipped_blank == 1


def test_mapping_names_the_columns_of_a_generic_csv() -> None:
    mapping = {
        "Person": "name",
        "Mail": "email",
        "Firm": "company",
        "Job": "title",
        "Zone": "timezone",
    }
    result = parse_contacts(sample("generic_mapped.csv"), mapping=mapping)

    assert result.problems == ()
    theo = result.records[0]
    assert (theo.name, theo.primary_email) == ("Theo Lambert", "theo@example.com")
    assert (theo.organization, theo.role, theo.timezone) == (
        "Northbeam Media",
        "Editor",
        "Europe/Paris",
    )
    assert theo.custom == {"where_we_met": "Journalism meetup"}


def test_unmapped_columns_are_recognized_by_alias_or_kept_custom() -> None:
    result = parse_contacts(sample("generic_mapped.csv"), mapping={"Person": "name"})

    assert result.problems == ()
    theo = result.records[0]
    assert theo.primary_email == "theo@example.com"  # "Mail" is a known alias of email
    assert theo.custom == {
        "firm": "Northbeam Media",
        "job": "Editor",
        "zone": "Europe/Paris",
        "where_we_met": "Journalism meetup",
    }


def test_mapping_problems_are_reported_on_the_header_line_and_nothing_is_read() -> None:
    mapping = {"Person": "name", "Mail": "mail_address", "Employer": "organization"}
    result = parse_contacts(sample("generic_mapped.csv"), mapping=mapping)

    assert result.records == ()
    assert where(result) == [(1, "Mail"), (1, "Employer")]
    assert "expected one of first_name" in result.problems[0].message
    assert "not in the header" in result.problems[1].message
    assert "Person, Mail, Firm" in result.problems[1].message


def test_mapping_matches_header_names_case_insensitively() -> None:
    mapping = {"person": "name", "firm": "organization"}
    result = parse_contacts(sample("generic_mapped.csv"), mapping=mapping)

    assert result.problems == ()
    assert result.records[0].organization == "Northbeam Media"


def test_mapping_can_add_to_a_known_export(tmp_path: Path) -> None:
    text = sample("linkedin_connections.csv").read_text(encoding="utf-8")
    text = text.replace("Connected On\n", "Connected On,Met Via\n", 1)
    text = text.replace("03 Feb 2025\n", "03 Feb 2025,Hackathon\n", 1)
    text = re.sub(r"(\d{4})\n", r"\1,\n", text)
    text = text.replace(",,,,,,\n", ",,,,,,,\n")
    path = write(tmp_path, "Connections.csv", text)

    result = parse_contacts(path, mapping={"Met Via": "how_found"})

    assert result.problems == ()
    assert result.records[0].how_found == "Hackathon"


def test_a_header_without_name_or_email_columns_is_a_problem() -> None:
    result = parse_contacts(sample("no_identity_header.csv"))

    assert result.records == ()
    assert where(result) == [(1, None)]
    assert "Email" in result.problems[0].message


def test_a_header_without_a_name_column_makes_every_row_a_problem(tmp_path: Path) -> None:
    """Given a header with an email column but none known to hold a name, then each row is
    a problem on its own line that suggests mapping the first unmapped column to name."""
    path = write(
        tmp_path, "a.csv", "Who,Mail,Firm\nZed Q,zed@example.org,Acme\n,bo@example.org,B\n"
    )

    result = parse_contacts(path)

    assert result.records == ()
    assert where(result) == [(2, None), (3, None)]
    assert all(not problem.whole_file for problem in result.problems)
    assert "has no name" in result.problems[0].message
    assert '--map "Who=name"' in result.problems[0].message
    assert '--map "Firm=name"' in result.problems[1].message


def test_a_row_needs_a_first_name_and_a_full_name_gives_one(tmp_path: Path) -> None:
    """Given rows with only an address, only a last name, and only a full name, then the
    first two are problems and the full name gives the third its first name."""
    path = write(
        tmp_path,
        "a.csv",
        "First Name,Last Name,Name,Email\n"
        ",,,only@example.org\n,Kim,,kim@example.org\n,,Ada Lovelace,ada@example.org\n",
    )

    result = parse_contacts(path)

    assert where(result) == [(2, None), (3, None)]
    assert "has no name;" in result.problems[0].message
    assert "has no first name;" in result.problems[1].message
    assert [(r.first_name, r.last_name) for r in result.records] == [("Ada", "Lovelace")]


def test_a_card_without_a_name_is_a_problem(tmp_path: Path) -> None:
    """Given a card with an address but no FN or N, then it is a problem on its BEGIN line."""
    content = "BEGIN:VCARD\nVERSION:4.0\nEMAIL:zed@example.org\nEND:VCARD\n"

    result = parse_contacts(write(tmp_path, "a.vcf", content))

    assert result.records == ()
    assert where(result) == [(1, None)]
    assert "FN or N" in result.problems[0].message


def test_semicolon_and_tab_delimited_files(tmp_path: Path) -> None:
    semicolons = write(tmp_path, "a.csv", "Name;Email;Company\nAda Lovelace;ada@example.com;X, Y\n")
    tabs = write(tmp_path, "b.tsv", "Name\tEmail\nAda Lovelace\tada@example.com\n")

    assert parse_contacts(semicolons).records[0].organization == "X, Y"
    assert parse_contacts(tabs).records[0].primary_email == "ada@example.com"


def test_cp1252_file_is_read_without_error(tmp_path: Path) -> None:
    content = "Name,Email,Notes\nRené Côté,rene@example.com,“quoted” – dash\n"
    path = write(tmp_path, "legacy.csv", content.encode("cp1252"))

    result = parse_contacts(path)

    assert result.encoding == "cp1252"
    assert result.records[0].name == "René Côté"
    assert result.records[0].notes == "“quoted” – dash"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("Zoë".encode(), "utf-8"),
        (b"\xef\xbb\xbfZo\xc3\xab", "utf-8-sig"),
        ("Zoë".encode("utf-16"), "utf-16"),
        ("Zoë, Ada".encode("utf-16-le"), "utf-16-le"),
        ("Zoë, Ada".encode("utf-16-be"), "utf-16-be"),
        ("Zoë".encode("cp1252"), "cp1252"),
    ],
)
def test_decode_text(data: bytes, encoding: str) -> None:
    text, used = decode_text(data)

    assert used == encoding
    assert text.startswith("Zoë")


def test_undecodable_bytes_never_crash() -> None:
    text, used = decode_text(b"\x81\x8d\x8f\x90\x9d")

    assert used == "latin-1"
    assert len(text) == 5


# --------------------------------------------------------------------------------------
# Problems in rows


def test_every_bad_row_is_reported_with_line_and_column() -> None:
    result = parse_contacts(sample("bad_rows.csv"))

    assert where(result) == [
        (3, "Email"),
        (4, "Email"),
        (5, None),
        (6, "Time Zone"),
        (7, None),
        (8, None),
        (9, "Email"),
    ]
    assert [r.name for r in result.records] == ["Valid Person", "Also Valid"]
    assert [r.line for r in result.records] == [2, 11]


@pytest.mark.parametrize(
    ("index", "fragments"),
    [
        (0, ["'no-at-sign.example.com'", "has no @", "expected one address"]),
        (1, ["more than one @"]),
        (2, ["has no name", "expected a name (or at least a first name)"]),
        (3, ["'Eastern Time'", "IANA", "America/New_York"]),
        (4, ["6 cells", "5 columns"]),
        (5, ["3 cells", "5 columns"]),
        (6, ["'multi@example'", "no dot"]),
    ],
)
def test_problem_messages_say_what_is_wrong_and_what_is_expected(
    index: int, fragments: list[str]
) -> None:
    message = parse_contacts(sample("bad_rows.csv")).problems[index].message

    for fragment in fragments:
        assert fragment in message


def test_problem_str_names_file_line_and_column() -> None:
    assert str(Problem("a.csv", 3, "Email", "bad")) == "a.csv:3: Email: bad"
    assert str(Problem("a.csv", 5, None, "bad")) == "a.csv:5: bad"


def test_problem_file_is_the_path_as_given() -> None:
    result = parse_contacts(sample("bad_rows.csv"))

    assert result.problems[0].file == str(sample("bad_rows.csv"))


def test_crlf_line_endings_keep_line_numbers() -> None:
    result = parse_contacts(sample("generic_crlf.csv"))

    assert result.records[0].line == 2
    assert where(result) == [(3, "Email")]


def test_trailing_empty_cells_are_not_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "Name,Email\nAda Lovelace,ada@example.com,,\n")

    assert parse_contacts(path).problems == ()


def test_unbalanced_quotes_are_reported_and_the_rest_read(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", 'Name,Email\n"Ada" L,ada@example.com\nBo Ek,bo@example.com\n')

    result = parse_contacts(path)

    assert where(result) == [(2, None)]
    assert "balanced quotes" in result.problems[0].message
    assert [r.name for r in result.records] == ["Bo Ek"]


def test_a_quote_never_closed_is_reported_where_the_row_starts(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", 'Name,Email\nBo Ek,bo@example.com\n"Ada,ada@example.com\n\n')

    result = parse_contacts(path)

    assert where(result) == [(3, None)]
    assert [r.name for r in result.records] == ["Bo Ek"]


def test_control_characters_in_a_cell_are_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "Name,Email\nA\x00B,ab@example.com\n")

    result = parse_contacts(path)

    assert where(result) == [(2, "Name")]
    assert "U+0000" in result.problems[0].message


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_a_file_without_header_is_a_problem(tmp_path: Path, content: str) -> None:
    result = parse_contacts(write(tmp_path, "a.csv", content))

    assert result.records == ()
    assert where(result) == [(1, None)]


# --------------------------------------------------------------------------------------
# Problems with the whole file


@pytest.mark.parametrize(
    ("content", "line", "fragment"),
    [
        pytest.param("", 1, "no header row", id="empty"),
        pytest.param("\n\n  \n", 1, "no header row", id="blank"),
        pytest.param("\nName,Email\n\n", 2, "no contact below the header", id="header only"),
        pytest.param(bytes(range(256)) * 8, 1, "not a text file", id="binary"),
        pytest.param(b"PK\x03\x04" + b"\x14\x00" * 40, 1, "not a text file", id="zip"),
        pytest.param("Company,City\nAcme,Oslo\n", 1, "no column gives a name", id="no identity"),
        pytest.param(
            'Name,Email\nBo Ek,bo@example.com\n"Ada,ada@example.com\nCy Li,cy@example.com\n',
            3,
            "never closed, so the rest of the file cannot be read",
            id="quote never closed",
        ),
    ],
)
def test_problems_with_the_whole_file_are_marked_so(
    tmp_path: Path, content: str | bytes, line: int, fragment: str
) -> None:
    """Given a file that leaving out bad records cannot fix, then its problem is marked
    whole_file, on the line where it shows, and the result is not readable."""
    result = parse_contacts(write(tmp_path, "a.csv", content))

    problems = [p for p in result.problems if p.whole_file]
    assert [(p.line, p.column) for p in problems] == [(line, None)]
    assert fragment in problems[0].message
    assert not result.readable


def test_mapping_problems_concern_the_whole_file() -> None:
    """Given a mapping with an unknown field and a missing column, then both problems are
    whole-file ones."""
    mapping = {"Person": "fullname", "Employer": "organization"}

    result = parse_contacts(sample("generic_mapped.csv"), mapping=mapping)

    assert [p.whole_file for p in result.problems] == [True, True]


def test_a_few_control_characters_are_a_row_problem_not_a_binary_file(tmp_path: Path) -> None:
    """Given a text file with a stray control character in a cell, then only that row is a
    problem and the file stays readable."""
    path = write(tmp_path, "a.csv", "Name,Email\nA\x01B,ab@example.com\nBo Ek,bo@example.com\n")

    result = parse_contacts(path)

    assert where(result) == [(2, "Name")]
    assert result.readable
    assert [r.name for r in result.records] == ["Bo Ek"]


def test_an_invalid_address_among_several_rejects_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "Name,Emails\nAda,ada@example.com; not-an-address\n")

    result = parse_contacts(path)

    assert result.records == ()
    assert where(result) == [(2, "Emails")]


# --------------------------------------------------------------------------------------
# Format detection


def test_forced_format_that_does_not_match_is_a_problem() -> None:
    result = parse_contacts(sample("generic.csv"), fmt="linkedin")

    assert result.format == "linkedin"
    assert result.records == ()
    assert "First Name, Last Name, URL" in result.problems[0].message


def test_forced_generic_format_reads_a_known_export_by_its_headers() -> None:
    result = parse_contacts(sample("outlook_contacts.csv"), fmt="csv")

    assert result.format == "csv"
    assert by_name(result)["Grace Oduya"].primary_email == "grace.oduya@example.org"


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown contact file format"):
        parse_contacts(sample("generic.csv"), fmt="excel")


def test_formats_constant() -> None:
    assert FORMATS == ("linkedin", "google", "outlook", "vcard", "csv")


def test_a_vcard_is_recognized_by_its_content(tmp_path: Path) -> None:
    path = write(
        tmp_path, "export.txt", "\ufeffBEGIN:VCARD\nVERSION:3.0\nFN:Ada Lovelace\nEND:VCARD\n"
    )

    result = parse_contacts(path)

    assert result.format == "vcard"
    assert result.records[0].name == "Ada Lovelace"


def test_parsing_twice_gives_the_same_result() -> None:
    for path in SAMPLES.iterdir():
        assert parse_contacts(path) == parse_contacts(path)


# --------------------------------------------------------------------------------------
# vCard


def test_vcard3_reads_folded_lines_groups_escapes_and_preference() -> None:
    result = parse_contacts(sample("contacts_v3.vcf"))

    assert result.format == "vcard"
    assert result.problems == ()
    mateo = result.records[0]
    assert mateo.line == 1
    assert mateo.name == "Mateo Castellanos"
    assert mateo.emails == ("mateo.castellanos@example.org", "mateo.home@example.net")
    assert mateo.organization == "Harborlight Foundation"
    assert mateo.role == "Program Officer"
    assert mateo.notes == (
        "Runs the youth media grants; happy to talk about nonprofit careers.\n"
        "Ask about the fellowship."
    )
    assert mateo.tags == ("Nonprofit", "Mentors")
    assert mateo.custom["department"] == "Grants, Programs"
    assert mateo.custom["tel"] == "+1 555 0199 442"
    assert mateo.custom["url"] == "https://www.example.org/people/mateo"
    assert mateo.custom["x_socialprofile"] == "https://linkedin.example.com/in/mateo-c"
    assert "photo" not in mateo.custom


def test_vcard3_structured_name_parts_and_utc_offset() -> None:
    astrid = by_name(parse_contacts(sample("contacts_v3.vcf")))["Astrid Lindqvist"]

    assert astrid.line == 20
    assert astrid.role == "Research lead"
    assert astrid.timezone == "Etc/GMT+5"  # TZ:-05:00; Etc zones count westward as +
    assert astrid.custom == {
        "middle_name": "Maria",
        "name_prefix": "Dr.",
        "full_name": "Dr. Astrid Lindqvist",
    }


def test_vcard_without_email_is_kept() -> None:
    ravi = by_name(parse_contacts(sample("contacts_v3.vcf")))["Ravi Subramanian"]

    assert ravi.emails == ()
    assert (ravi.organization, ravi.role) == ("Copperline", "Product Manager")


def test_vcard4_reads_pref_time_zone_and_merges_cards_by_address() -> None:
    result = parse_contacts(sample("contacts_v4.vcf"))

    assert result.problems == ()
    assert [r.name for r in result.records] == ["Élodie Martin", "Yusuf Demir"]
    elodie, yusuf = result.records
    assert elodie.emails == ("elodie.martin@example.com", "elodie.perso@example.net")
    assert elodie.timezone == "Europe/Paris"
    assert elodie.tags == ("journalism", "data viz")
    assert elodie.notes == "Two rules she follows:\n1. show the data\n2. cite it, always"
    assert elodie.custom == {
        "kind": "individual",
        "url": "https://www.example.com/elodie",
        "x_how_we_met": "Data journalism conference",
        "tel": "tel:+1-555-0100-777",
    }
    assert yusuf.timezone == "America/New_York"
    assert yusuf.role == "Software Engineer, Payments"
    assert yusuf.line == 17


def test_vcard21_quoted_printable(tmp_path: Path) -> None:
    card = (
        "BEGIN:VCARD\r\nVERSION:2.1\r\n"
        "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen;;;\r\n"
        "EMAIL;INTERNET;PREF:juergen@example.de\r\n"
        "NOTE;ENCODING=QUOTED-PRINTABLE:Line one=0D=0A=\r\nline two\r\n"
        "TEL;WORK;VOICE:555-0101\r\n"
        "END:VCARD\r\n"
    )
    result = parse_contacts(write(tmp_path, "old.vcf", card))

    assert result.problems == ()
    (record,) = result.records
    assert (record.first_name, record.last_name) == ("Jürgen", "Müller")
    assert record.notes == "Line one\nline two"
    assert record.custom == {"tel": "555-0101"}


def test_every_bad_card_is_reported_with_line_and_property() -> None:
    result = parse_contacts(sample("bad_cards.vcf"))

    assert where(result) == [(9, "EMAIL"), (14, "TZ"), (16, None), (20, None), (21, "BEGIN")]
    assert [r.name for r in result.records] == ["Good Card"]
    assert "not closed" in result.problems[-1].message


def test_a_card_with_an_unreadable_line_is_not_kept(tmp_path: Path) -> None:
    content = "BEGIN:VCARD\nVERSION:4.0\nFN:Ada\nwhat is this\nEND:VCARD\n"

    result = parse_contacts(write(tmp_path, "a.vcf", content))

    assert result.records == ()
    assert where(result) == [(4, None)]


def test_a_quoted_type_list_can_mark_the_preferred_address(tmp_path: Path) -> None:
    content = (
        "BEGIN:VCARD\nVERSION:4.0\nFN:Ada\nEMAIL:home@example.com\n"
        'EMAIL;TYPE="work,pref":work@example.com\nEND:VCARD\n'
    )

    result = parse_contacts(write(tmp_path, "a.vcf", content))

    assert result.records[0].emails == ("work@example.com", "home@example.com")


def test_unsupported_vcard_version_is_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "a.vcf", "BEGIN:VCARD\nVERSION:5.0\nFN:Ada\nEND:VCARD\n")

    assert where(parse_contacts(path)) == [(2, "VERSION")]


def test_a_fractional_utc_offset_is_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "a.vcf", "BEGIN:VCARD\nVERSION:3.0\nFN:Ada\nTZ:+05:30\nEND:VCARD\n")

    result = parse_contacts(path)

    assert where(result) == [(4, "TZ")]
    assert "Asia/Kolkata" in result.problems[0].message


def test_a_file_without_cards_is_a_problem(tmp_path: Path) -> None:
    assert where(parse_contacts(write(tmp_path, "a.vcf", "\n"))) == [(1, None)]


def test_mapping_on_a_vcard_is_a_problem() -> None:
    result = parse_contacts(sample("contacts_v4.vcf"), mapping={"Mail": "email"})

    assert where(result) == [(1, None)]


# --------------------------------------------------------------------------------------
# Records and custom fields


def test_record_properties_and_immutability() -> None:
    record = ContactRecord(first_name="Ada", emails=("ada@example.com",), line=2)

    assert record.name == "Ada"
    assert record.primary_email == "ada@example.com"
    with pytest.raises(TypeError):
        record.custom["x"] = "y"  # type: ignore[index]


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Connected On", "connected_on"),
        ("URL", "url"),
        ("E-mail 2 Address", "e_mail_2_address"),
        ("Téléphone", "telephone"),
        ("FirstName", "first_name"),
        ("Manager's Name", "managers_name"),
        ("2nd Email", "col_2nd_email"),
        ("class", "class_"),
        ("None", "none_"),
        ("电话", ""),
    ],
)
def test_custom_field_key(header: str, key: str) -> None:
    assert custom_field_key(header) == key


def test_columns_without_usable_header_are_named_by_position(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "Name,,电话,Note x,Note-x\nAda,a,b,c,d\n")

    record = parse_contacts(path).records[0]

    assert record.custom == {"column_2": "a", "column_3": "b", "note_x": "c", "note_x_5": "d"}


def test_the_field_names_a_mapping_accepts() -> None:
    assert "email" in FIELDS and "organization" in FIELDS and "tags" in FIELDS


@pytest.mark.parametrize(
    ("name", "field"),
    [("name", "name"), ("Company", "organization"), ("Job Title", "role"), ("fullname", None)],
)
def test_mapped_field_accepts_fields_and_aliases_in_any_case(name: str, field: str | None) -> None:
    assert mapped_field(name) == field


def _tokens(value: str) -> list[str]:
    return [t for t in re.split(r"[\s,;]+|:::", value.casefold()) if t.strip("*")]


def _record_text(record: ContactRecord) -> str:
    parts = [
        record.first_name,
        record.last_name,
        *record.emails,
        *(record.tags),
        *record.custom.values(),
    ]
    for value in (record.organization, record.role, record.field, record.how_found):
        parts.append(value or "")
    for value in (record.referred_by, record.timezone, record.notes):
        parts.append(value or "")
    return "\n".join(parts).casefold()


@pytest.mark.parametrize(
    "name", ["linkedin_connections.csv", "outlook_contacts.csv", "google_contacts_legacy.csv"]
)
def test_no_cell_of_a_clean_file_is_lost(name: str) -> None:
    """Every word of every non-empty cell is found in the record of its row."""
    result = parse_contacts(sample(name))
    text = sample(name).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header_index = next(i for i, row in enumerate(rows) if "First Name" in row or "Name" in row)
    fillers = {"normal", "false", "mycontacts"}  # Outlook's defaults, Google's system group
    records = iter(result.records)
    for row in rows[header_index + 1 :]:
        if not any(cell.strip() for cell in row):
            continue
        record_text = _record_text(next(records))
        for cell in row:
            for token in _tokens(cell):
                if token not in fillers:
                    assert token in record_text, (cell, record_text)


_header_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 -'.", min_size=1)
_cell_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\u2028\u2029"),
    max_size=15,
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(columns=st.lists(st.tuples(_header_words, _cell_values), min_size=1, max_size=8))
def test_other_columns_survive_as_custom_fields_with_template_keys(
    tmp_path: Path, columns: list[tuple[str, str]]
) -> None:
    """Given any extra columns, their non-empty values are kept under unique identifiers."""
    headers = ["Name", *(f"X {header}" for header, _ in columns)]
    values = ["Ada Lovelace", *(value for _, value in columns)]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([headers, values])
    path = write(tmp_path, "extra.csv", buffer.getvalue())

    result = parse_contacts(path)

    assert result.problems == ()
    (record,) = result.records
    kept = [v.strip() for _, v in columns if v.strip()]
    normalized = [v.replace("\r\n", "\n").replace("\r", "\n") for v in kept]
    assert sorted(record.custom.values()) == sorted(normalized)
    for key in record.custom:
        assert key.isidentifier() and key.isascii() and not keyword.iskeyword(key)


# --------------------------------------------------------------------------------------
# Lengths: one rule for every database


def column_length(name: str) -> int:
    """The length a text column of the contacts table holds."""
    kind = Contact.__table__.columns[name].type
    assert isinstance(kind, String), f"{name} is {kind!r}, not a string column"
    assert kind.length is not None, f"{name} has no length limit"
    return kind.length


def test_every_length_limit_fits_its_database_column() -> None:
    """The limits are what the columns hold, including the columns that repeat a whole
    name: referred_by (a referral names its referrer) and source ("referral from NAME")."""
    for name, limit in MAX_LENGTHS.items():
        assert column_length(name) >= limit, name
    assert column_length("first_name") >= MAX_NAME_LENGTH
    assert column_length("last_name") >= MAX_NAME_LENGTH
    assert column_length("referred_by") >= MAX_NAME_LENGTH
    assert column_length("source") >= len("referral from ") + MAX_NAME_LENGTH


def test_the_limits_are_inclusive(tmp_path: Path) -> None:
    name = "N" * MAX_NAME_LENGTH
    path = write(tmp_path, "c.csv", f"Name,Email,Company,Position\n{name},n@x.org,{'C' * 300},R\n")
    result = parse_contacts(path)
    assert result.problems == ()
    assert (result.records[0].first_name, result.records[0].organization) == (name, "C" * 300)


def test_cells_too_long_are_problems_with_their_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.csv",
        "Name,Email,Company,Position,Industry,Referred By\n"
        f"{'N' * 201},n@x.org,,,,\n"
        f"Ok,o@x.org,{'C' * 301},{'R' * 301},{'F' * 301},{'B' * 301}\n"
        "Good,g@x.org,,,,\n",
    )
    result = parse_contacts(path)
    assert where(result) == [
        (2, "Name"),
        (3, "Company"),
        (3, "Position"),
        (3, "Industry"),
        (3, "Referred By"),
    ]
    assert [r.name for r in result.records] == ["Good"]
    assert "the role has 301 characters; expected at most 300" in str(result.problems[2])


def test_a_long_vcard_name_or_organization_is_a_problem_on_its_property(tmp_path: Path) -> None:
    cards = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:" + "F" * 201 + "\r\nEMAIL:f@x.org\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:" + "L" * 150 + ";" + "G" * 60 + ";;;\r\n"
        "EMAIL:n@x.org\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Org Long\r\nORG:" + "O" * 301 + ";Dept\r\n"
        "TITLE:" + "T" * 301 + "\r\nEMAIL:o@x.org\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Fine\r\nEMAIL:fine@x.org\r\nEND:VCARD\r\n"
    )
    result = parse_contacts(write(tmp_path, "c.vcf", cards))
    assert where(result) == [(1, "FN"), (6, "N"), (14, "ORG"), (15, "TITLE")]
    assert "the name has 211 characters" in str(result.problems[1])
    assert [r.name for r in result.records] == ["Fine"]


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("dörte@example.org", "'dörte@example.org' cannot be used: it has 'ö' before the @"),
        ("名前@example.jp", "cannot be used: it has '名' before the @"),
    ],
)
def test_an_internationalized_address_is_a_problem_saying_why(
    tmp_path: Path, cell: str, message: str
) -> None:
    result = parse_contacts(write(tmp_path, "c.csv", f"Name,Email\nDörte,{cell}\n"))
    assert where(result) == [(2, "Email")]
    assert message in str(result.problems[0])
    assert "ask the person for an address in plain ASCII letters" in str(result.problems[0])


def test_an_international_domain_is_kept_in_ascii(tmp_path: Path) -> None:
    result = parse_contacts(write(tmp_path, "c.csv", "Name,Email\nAna,ana@bücher.example\n"))
    assert result.records[0].emails == ("ana@xn--bcher-kva.example",)


def test_a_control_character_in_a_vcard_is_a_problem_on_its_property(tmp_path: Path) -> None:
    """Given a NUL (PostgreSQL cannot store it; SQLite did) or another control character in
    a card, when parsed, then the card is left out with a problem on that property."""
    cards = (
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\x00Lee\r\nEMAIL:a@x.org\r\nEND:VCARD\r\n"
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bo\r\nNOTE:x\x01y\r\nEMAIL:b@x.org\r\nEND:VCARD\r\n"
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cy\r\nNOTE:two\\nlines\tand a tab\r\n"
        b"EMAIL:c@x.org\r\nEND:VCARD\r\n"
    )
    result = parse_contacts(write(tmp_path, "c.vcf", cards))
    assert where(result) == [(3, "FN"), (9, "NOTE")]
    assert "control character U+0000" in str(result.problems[0])
    assert [r.name for r in result.records] == ["Cy"]
