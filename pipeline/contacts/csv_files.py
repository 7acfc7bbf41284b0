"""Reading CSV files: the LinkedIn, Google and Outlook exports (recognized by their header
row) and any other CSV, its columns mapped by their headers or by ``mapping``."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from pipeline.contacts.drafts import (
    _NO_NAME,
    _check_timezone,
    _checked_length,
    _control_problem,
    _Draft,
    _email_problem,
    _emails_in,
    _name_length_problem,
    _result,
    _tags_in,
)
from pipeline.contacts.records import (
    FIELDS,
    HEADER_SEARCH_LINES,
    ParseResult,
    Problem,
    custom_field_key,
    mapped_field,
)
from pipeline.emails import InvalidEmail, normalize_email


@dataclass(frozen=True)
class _Preset:
    """A known export: how to recognize its header and where its columns go."""

    fmt: str
    label: str
    signature: tuple[frozenset[str], ...]  # the header matches any one of these sets
    columns: Mapping[str, str | None]  # casefolded header -> field, or None: custom
    example_header: tuple[str, ...]  # for messages: the columns we look for
    email_pattern: re.Pattern[str] | None = None  # further columns holding addresses
    # Values the exporter writes into every row when the person left the field alone.
    filler: Mapping[str, frozenset[str]] = dataclasses.field(default_factory=dict)


_PRESETS: Final = (
    _Preset(
        fmt="linkedin",
        label="LinkedIn Connections.csv",
        signature=(frozenset({"first name", "last name", "connected on"}),),
        example_header=(
            "First Name",
            "Last Name",
            "URL",
            "Email Address",
            "Company",
            "Position",
            "Connected On",
        ),
        columns={
            "first name": "first_name",
            "last name": "last_name",
            "email address": "email",
            "company": "organization",
            "position": "role",
            "url": None,
            "connected on": None,
        },
    ),
    _Preset(
        fmt="google",
        label="Google Contacts",
        signature=(
            frozenset({"e-mail 1 - value"}),
            frozenset({"given name", "family name"}),
            frozenset({"first name", "last name", "labels", "organization name"}),
        ),
        example_header=("First Name", "Last Name", "E-mail 1 - Value", "Organization Name"),
        columns={
            "first name": "first_name",
            "given name": "first_name",
            "last name": "last_name",
            "family name": "last_name",
            "name": "name",
            "organization name": "organization",
            "organization 1 - name": "organization",
            "organization title": "role",
            "organization 1 - title": "role",
            "notes": "notes",
            "labels": "tags",
            "group membership": "tags",
        },
        email_pattern=re.compile(r"e-mail \d+ - value"),
    ),
    _Preset(
        fmt="outlook",
        label="Outlook contacts",
        signature=(
            frozenset({"e-mail address", "e-mail 2 address"}),
            frozenset({"e-mail address", "job title"}),
        ),
        example_header=("First Name", "Last Name", "E-mail Address", "Company", "Job Title"),
        columns={
            "first name": "first_name",
            "last name": "last_name",
            "e-mail address": "emails",
            "e-mail 2 address": "emails",
            "e-mail 3 address": "emails",
            "company": "organization",
            "job title": "role",
            "notes": "notes",
            "categories": "tags",
            "title": None,  # Outlook's Title is the honorific (Dr., Ms.), not the job
        },
        filler={
            "sensitivity": frozenset({"normal"}),
            "priority": frozenset({"normal"}),
            "private": frozenset({"false"}),
            "gender": frozenset({"unspecified"}),
            "birthday": frozenset({"0/0/00"}),
            "anniversary": frozenset({"0/0/00"}),
        },
    ),
)

# Header names a generic CSV is understood by, compared after custom_field_key().
_GENERIC_HEADERS: Final = MappingProxyType(
    {
        alias: target
        for target, aliases in {
            "first_name": ("first_name", "first", "given_name", "forename"),
            "last_name": ("last_name", "last", "surname", "family_name"),
            "name": ("name", "full_name", "contact", "contact_name", "display_name"),
            "email": ("email", "e_mail", "email_address", "e_mail_address", "mail"),
            "emails": ("emails", "email_addresses", "e_mail_addresses"),
            "organization": ("organization", "organisation", "company", "employer", "org"),
            "role": ("role", "title", "job_title", "position"),
            "field": ("field", "industry"),
            "how_found": ("how_found", "how_we_met", "how_met", "source"),
            "referred_by": ("referred_by", "referrer", "referral", "introduced_by"),
            "timezone": ("timezone", "time_zone", "tz"),
            "notes": ("notes", "note", "comments"),
            "tags": ("tags", "labels", "categories", "groups"),
        }.items()
        for alias in aliases
    }
)

_DELIMITERS: Final = (",", ";", "\t")


@dataclass(frozen=True)
class _Column:
    index: int
    label: str  # the header as written, or "column N" when the header cell is empty
    target: str | None  # a field name, or None for custom
    key: str  # the custom key for values that do not land in a field
    filler: frozenset[str] = frozenset()  # casefolded values that mean "nothing here"


def _records(text: str, delimiter: str) -> Iterator[tuple[int, list[str] | csv.Error]]:
    """Yield each CSV record with the physical line it starts on; errors in place."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield start, err
            continue
        yield start, cells


def _is_blank(cells: list[str] | csv.Error) -> bool:
    return isinstance(cells, list) and not any(cell.strip() for cell in cells)


def _find_preset_header(text: str, presets: Sequence[_Preset]) -> tuple[_Preset, str, int] | None:
    """Find a known export's header near the top: (preset, delimiter, record number)."""
    for delimiter in _DELIMITERS:
        for number, (_, cells) in enumerate(_records(text, delimiter)):
            if number >= HEADER_SEARCH_LINES:
                break
            if not isinstance(cells, list):
                continue
            names = {cell.strip().casefold() for cell in cells}
            for preset in presets:
                if any(signature <= names for signature in preset.signature):
                    return preset, delimiter, number
    return None


def _generic_header(text: str) -> tuple[str, int] | None:
    """The first non-blank record is the header; pick the delimiter that splits it most."""
    best: tuple[int, str, int] | None = None
    for delimiter in _DELIMITERS:
        for number, (_, cells) in enumerate(_records(text, delimiter)):
            if _is_blank(cells):
                continue
            width = len(cells) if isinstance(cells, list) else 0
            if best is None or width > best[0]:
                best = (width, delimiter, number)
            break
    return None if best is None else (best[1], best[2])


def _parse_csv(
    text: str, file: str, fmt: str | None, mapping: dict[str, str], encoding: str
) -> ParseResult:
    preset: _Preset | None = None
    found: tuple[str, int] | None
    if fmt in (None, "linkedin", "google", "outlook"):
        candidates = [p for p in _PRESETS if fmt is None or p.fmt == fmt]
        detected = _find_preset_header(text, candidates)
        if detected is not None:
            preset, delimiter, number = detected
            found = (delimiter, number)
        elif fmt is not None:
            (wanted,) = candidates
            expected = ", ".join(wanted.example_header)
            message = (
                f"no {wanted.label} header row in the first {HEADER_SEARCH_LINES} rows; "
                f"expected a row with the columns {expected}"
            )
            problem = Problem(file, 1, None, message, whole_file=True)
            return _result(fmt, [], [problem], 0, encoding)
        else:
            found = _generic_header(text)
    else:
        found = _generic_header(text)
    result_fmt = preset.fmt if preset is not None else "csv"
    if found is None:
        message = "the file has no header row; expected a first row that names the columns"
        problem = Problem(file, 1, None, message, whole_file=True)
        return _result(result_fmt, [], [problem], 0, encoding)
    delimiter, header_number = found

    records = _records(text, delimiter)
    header_line, header = 1, list[str]()
    for number, (line, cells) in enumerate(records):
        if number == header_number:
            header_line = line
            header = cells if isinstance(cells, list) else []
            break
    columns, problems = _plan_columns(header, preset, mapping, file, header_line)
    if problems:
        return _result(result_fmt, [], problems, 0, encoding)

    drafts: list[_Draft] = []
    blank = 0
    for line, cells in records:
        if isinstance(cells, csv.Error):
            problems.append(_unreadable_row(file, line, cells))
            continue
        if _is_blank(cells):
            blank += 1
            continue
        draft = _read_row(cells, columns, line, file, problems)
        if draft is not None:
            drafts.append(draft)
    if not drafts and not problems:
        message = "there is no contact below the header row; expected one row per person"
        problems.append(Problem(file, header_line, None, message, whole_file=True))
    return _result(result_fmt, drafts, problems, blank, encoding)


def _unreadable_row(file: str, line: int, error: csv.Error) -> Problem:
    """A row the CSV reader refused; a quote never closed swallows the rest of the file."""
    if "unexpected end of data" in str(error):
        message = (
            "a quote opened in this row is never closed, so the rest of the file cannot be "
            'read; expected balanced quotes (a quote inside a quoted cell is written "")'
        )
        return Problem(file, line, None, message, whole_file=True)
    message = f"this row cannot be read as CSV ({error}); expected balanced quotes"
    return Problem(file, line, None, message)


def _plan_columns(
    header: list[str],
    preset: _Preset | None,
    mapping: dict[str, str],
    file: str,
    line: int,
) -> tuple[list[_Column], list[Problem]]:
    """Decide where each column goes; problems here concern the header as a whole."""
    problems: list[Problem] = []
    names = [cell.strip() for cell in header]
    overrides: dict[int, str] = {}
    for source, wanted in mapping.items():
        field_name = mapped_field(wanted)
        indexes = [i for i, name in enumerate(names) if name == source.strip()] or [
            i for i, name in enumerate(names) if name.casefold() == source.strip().casefold()
        ]
        if field_name is None:
            known = ", ".join(FIELDS)
            message = f"{wanted!r} is not a field we know; expected one of {known}"
            problems.append(Problem(file, line, source, message, whole_file=True))
        if not indexes:
            listed = ", ".join(name for name in names if name) or "(nothing)"
            message = f"this column, named in the mapping, is not in the header; it has {listed}"
            problems.append(Problem(file, line, source, message, whole_file=True))
        for index in indexes:
            if field_name is not None:
                overrides[index] = field_name

    columns: list[_Column] = []
    used_keys: set[str] = set()
    for index, name in enumerate(names):
        target = overrides.get(index)
        if target is None:
            target = _default_target(name, preset)
        key = custom_field_key(name) or f"column_{index + 1}"
        while key in used_keys:
            key = f"{key}_{index + 1}"
        used_keys.add(key)
        filler = preset.filler.get(name.casefold(), frozenset()) if preset else frozenset()
        columns.append(_Column(index, name or f"column {index + 1}", target, key, filler))

    identity = {*_NAME_FIELDS, "email", "emails"}
    if not problems and not any(column.target in identity for column in columns):
        message = (
            "no column gives a name or an email address; expected a header such as "
            "First Name, Last Name, Name or Email, or a mapping that names one"
        )
        problems.append(Problem(file, line, None, message, whole_file=True))
    return columns, problems


_NAME_FIELDS: Final = ("first_name", "last_name", "name")


def _no_name(missing: str, columns: Sequence[_Column], cells: Sequence[str]) -> str:
    """Why a row has no first name, and how to give it one."""
    if any(column.target in _NAME_FIELDS for column in columns):
        return f"this row has no {missing}; {_NO_NAME}"
    unmapped = [
        c.label for c, cell in zip(columns, cells, strict=True) if c.target is None and cell.strip()
    ]
    example = unmapped[0] if unmapped else "COLUMN"
    return (
        f"this row has no name, as no column is known to hold one; {_NO_NAME}: "
        f'say which column holds it with --map, e.g. --map "{example}=name"'
    )


def _default_target(header: str, preset: _Preset | None) -> str | None:
    folded = header.casefold()
    if preset is not None:
        if folded in preset.columns:
            return preset.columns[folded]
        if preset.email_pattern is not None and preset.email_pattern.fullmatch(folded):
            return "emails"
    return _GENERIC_HEADERS.get(custom_field_key(header))


def _read_row(
    cells: list[str],
    columns: list[_Column],
    line: int,
    file: str,
    problems: list[Problem],
) -> _Draft | None:
    """Turn one row into a draft, or report its problems and return None."""
    if len(cells) > len(columns) and not any(cell.strip() for cell in cells[len(columns) :]):
        cells = cells[: len(columns)]
    if len(cells) != len(columns):
        message = (
            f"this row has {len(cells)} cells but the header has {len(columns)} columns; "
            "expected one cell per column (quote cells that contain the delimiter)"
        )
        problems.append(Problem(file, line, None, message))
        return None

    draft = _Draft(line=line)
    found_problem = False
    for column, raw in zip(columns, cells, strict=True):
        value = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
        if not value or value.casefold() in column.filler:
            continue
        control = _control_problem(value, "cell")
        if control is not None:
            problems.append(Problem(file, line, column.label, control))
            found_problem = True
            continue
        try:
            _put(draft, column.target, value, column.key)
        except ValueError as err:
            problems.append(Problem(file, line, column.label, str(err)))
            found_problem = True
    missing = None if found_problem else draft.missing_name()
    if missing is not None:
        problems.append(Problem(file, line, None, _no_name(missing, columns, cells)))
        found_problem = True
    too_long = None if found_problem else _name_length_problem(draft)
    if too_long is not None:
        named = [column.label for column in columns if column.target in _NAME_FIELDS]
        problems.append(Problem(file, line, " + ".join(named), too_long))
        found_problem = True
    return None if found_problem else draft


def _put(draft: _Draft, target: str | None, value: str, key: str) -> None:
    """Place one cell's value; raises ValueError with the message for a bad value."""
    if target is None:
        draft.add_custom(key, value)
    elif target in {"email", "emails"}:
        addresses = []
        for part in _emails_in(value):
            try:
                addresses.append(normalize_email(part))
            except InvalidEmail as err:
                raise ValueError(_email_problem(part, err)) from err
        for address in addresses:
            draft.add_email(address)
    elif target == "name":
        draft.set_text("full_name", _checked_length("name", value), key)
    elif target in {"first_name", "last_name"}:
        draft.set_text(target, _checked_length("name", value), key)
    elif target == "timezone":
        draft.set_text("timezone", _check_timezone(value), key)
    elif target == "notes":
        draft.add_note(value)
    elif target == "tags":
        for tag in _tags_in(value):
            draft.add_tag(tag)
    else:
        draft.set_text(target, _checked_length(target, value), key)
