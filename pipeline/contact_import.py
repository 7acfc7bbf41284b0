"""Reading contact files into records: LinkedIn, Google, Outlook and generic CSV, and vCard.

Pure: :func:`parse_contacts` reads the one file it is given and returns what it found,
records and problems together, so that the caller decides what to write. Nothing here
touches the database.

What the parser promises:

- every problem carries the file, the physical line where the record starts, the column
  header (CSV) or property name (vCard), and a message that says what is expected;
- a row or card with any problem yields no record (the caller may import the rest);
- a record needs a first name, given as such or as the first part of a full name;
- a name is at most :data:`MAX_NAME_LENGTH` characters (first and last together), an
  organization, role, field or referrer at most :data:`MAX_LENGTHS` (see
  :func:`length_problem`): the same rule on every database, and short enough for a header;
- a problem with the file as a whole is marked :attr:`Problem.whole_file`: not a text file,
  no header row, a header that a ``mapping`` does not fit or that has no column for a name
  or an email, no contact at all, a quote never closed (the rest of the file is lost);
  problems with the header yield no records at all;
- blank rows are counted, not reported;
- records that share an email address inside one file are merged into the first;
- every non-empty cell ends up in a field or in ``custom``, under a key usable as a
  Jinja2 identifier (see :func:`custom_field_key`).
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import functools
import io
import keyword
import quopri
import re
import unicodedata
import zoneinfo
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final

from pipeline.emails import InvalidEmail, UnsupportedEmail, normalize_email, split_name

FORMATS: Final = ("linkedin", "google", "outlook", "vcard", "csv")
"""Formats :func:`parse_contacts` reads; "csv" is a generic CSV with a header row."""

TEXT_FIELDS: Final = (
    "organization",
    "role",
    "field",
    "how_found",
    "referred_by",
    "timezone",
    "notes",
)
"""A contact's optional one-value text fields, in the order they are shown: the one list
that the record, the import's merge, `contacts set`, the listings and the templates use."""

FIELDS: Final = ("first_name", "last_name", "name", "email", "emails", *TEXT_FIELDS, "tags")
"""Field names a ``mapping`` may point a column at (see also :data:`FIELD_ALIASES`)."""

FIELD_ALIASES: Final = MappingProxyType(
    {
        "company": "organization",
        "organisation": "organization",
        "title": "role",
        "position": "role",
        "job_title": "role",
        "time_zone": "timezone",
    }
)

MAX_NAME_LENGTH: Final = 200
"""Characters in a contact's whole name (first and last together). It fits the name columns,
and the columns that repeat a whole name (``referred_by``, ``source``), and keeps every
word of a To: line short enough to fold."""

MAX_LENGTHS: Final = MappingProxyType(
    {"organization": 300, "role": 300, "field": 300, "referred_by": 300}
)
"""Characters in the other single-line fields the database keeps in sized columns."""


def length_problem(field: str, value: str) -> str | None:
    """Why ``value`` is too long for ``field`` ("name" for a whole name), or None."""
    limit = MAX_NAME_LENGTH if field == "name" else MAX_LENGTHS.get(field)
    if limit is None or len(value) <= limit:
        return None
    what = field.replace("_", " ")
    return (
        f"the {what} has {len(value)} characters; expected at most {limit}: shorten it "
        "(notes can hold the rest)"
    )


HEADER_SEARCH_LINES: Final = 12
"""How many rows at the top of a CSV file are searched for a known export's header."""


@dataclass(frozen=True, kw_only=True)
class ContactRecord:
    """One person read from a contact file, normalized and checked.

    ``emails`` are normalized (:func:`pipeline.emails.normalize_email`) and unique, the
    primary first; a record may have none (kept, but no outreach can start without one).
    ``custom`` holds every other non-empty value under a template-friendly key.
    ``line`` is the physical line where the record starts in its file.
    """

    first_name: str = ""
    last_name: str = ""
    emails: tuple[str, ...] = ()
    organization: str | None = None
    role: str | None = None
    field: str | None = None
    how_found: str | None = None
    referred_by: str | None = None
    timezone: str | None = None
    notes: str | None = None
    tags: tuple[str, ...] = ()
    custom: Mapping[str, str] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    line: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "custom", MappingProxyType(dict(self.custom)))

    @property
    def name(self) -> str:
        """The full name: first and last, whichever are known."""
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def primary_email(self) -> str | None:
        return self.emails[0] if self.emails else None


@dataclass(frozen=True)
class Problem:
    """Something wrong in a contact file, precise enough for the person to fix it.

    ``whole_file`` marks a problem with the file as a whole rather than with one record:
    leaving the bad records out (``--skip-invalid``) cannot get around it.
    """

    file: str
    line: int
    column: str | None
    message: str
    whole_file: bool = dataclasses.field(default=False, kw_only=True)

    def __str__(self) -> str:
        if self.column is None:
            return f"{self.file}:{self.line}: {self.message}"
        return f"{self.file}:{self.line}: {self.column}: {self.message}"


@dataclass(frozen=True)
class ParseResult:
    """Everything read from one file: the good records and the problems, never one alone.

    ``encoding`` names how the bytes were decoded (``utf-8``, ``utf-16``, ``cp1252``...).
    """

    format: str
    records: tuple[ContactRecord, ...]
    problems: tuple[Problem, ...]
    skipped_blank: int
    encoding: str = "utf-8"
    # (line, line it was merged into): rows of one file that shared an address
    merged: tuple[tuple[int, int], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def readable(self) -> bool:
        """False when a problem concerns the whole file, not just some of its records."""
        return not any(problem.whole_file for problem in self.problems)


def parse_contacts(
    path: Path, *, fmt: str | None = None, mapping: Mapping[str, str] | None = None
) -> ParseResult:
    """Read the contacts in ``path``.

    ``fmt`` is one of :data:`FORMATS`, or ``None`` to detect it: ``.vcf``/``.vcard`` files
    and files that begin with ``BEGIN:VCARD`` are vCards; a CSV file is recognized as a
    LinkedIn, Google or Outlook export by its header row, else read as a generic CSV.
    ``mapping`` maps header names of the file to field names (:data:`FIELDS`), e.g.
    ``{"Mail": "email", "Firm": "organization"}``; it adds to, or overrides, what the
    parser recognizes by itself. Raises ``ValueError`` for an unknown ``fmt`` and
    ``OSError`` when the file cannot be read; everything wrong inside the file is a
    :class:`Problem` in the result.
    """
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown contact file format {fmt!r}; expected one of {FORMATS}")
    data = path.read_bytes()
    text, encoding = decode_text(data)
    file = str(path)
    if _looks_binary(data, text):
        problem = Problem(file, 1, None, _NOT_TEXT, whole_file=True)
        return _result(fmt or "csv", [], [problem], 0, encoding)
    if fmt is None and (path.suffix.lower() in {".vcf", ".vcard"} or _looks_like_vcard(text)):
        fmt = "vcard"
    if fmt == "vcard":
        drafts, problems = _parse_vcards(text, file)
        if mapping:
            problems.insert(0, Problem(file, 1, None, _MAPPING_NOT_FOR_VCARD, whole_file=True))
        return _result("vcard", drafts, problems, 0, encoding)
    return _parse_csv(text, file, fmt, dict(mapping or {}), encoding)


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode a file's bytes: UTF-8 (with or without BOM), UTF-16, else cp1252; never fails.

    Returns the text and the name of the encoding used.
    """
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace"), "utf-16"
    else:
        utf16 = _guess_utf16_without_bom(data)
        if utf16 is not None:
            try:
                return data.decode(utf16), utf16
            except UnicodeDecodeError:
                pass
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def mapped_field(name: str) -> str | None:
    """The field a ``mapping`` target names (one of :data:`FIELDS`, or an alias of one, in
    any letter case), or None when it names none."""
    key = custom_field_key(name)
    key = FIELD_ALIASES.get(key, key)
    return key if key in FIELDS else None


def custom_field_key(header: str) -> str:
    """Turn a column header or property name into a snake_case identifier for templates.

    ``"Connected On"`` -> ``connected_on``, ``"URL"`` -> ``url``, ``"E-mail 2 Address"`` ->
    ``e_mail_2_address``, ``"Téléphone"`` -> ``telephone``; a key that would start with a
    digit gets a ``col_`` prefix, a Python or Jinja2 keyword a trailing ``_``. Returns ""
    when nothing usable is left (the caller names the column by its position).
    """
    text = unicodedata.normalize("NFKD", header)
    text = "".join(ch for ch in text if not unicodedata.combining(ch) and ch not in "'’")
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    key = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()
    if key[:1].isdigit():
        key = f"col_{key}"
    if keyword.iskeyword(key) or key in {"true", "false", "none"}:
        key = f"{key}_"
    return key


# --------------------------------------------------------------------------------------
# Records under construction, shared by the CSV and vCard readers


_SCALARS: Final = ("organization", "role", "field", "how_found", "referred_by", "timezone")


@dataclass(eq=False)
class _Draft:
    """A record being assembled from cells or properties; merged, then frozen."""

    line: int
    first_name: str = ""
    last_name: str = ""
    full_name: str = ""
    emails: list[str] = dataclasses.field(default_factory=list)
    scalars: dict[str, str] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)
    tags: list[str] = dataclasses.field(default_factory=list)
    custom: dict[str, str] = dataclasses.field(default_factory=dict)

    def missing_name(self) -> str | None:
        """What the record lacks to greet the person by: "name", or "first name" when only
        a last name is known; None when it has a first name."""
        record = self.freeze()
        if record.first_name:
            return None
        return "first name" if record.last_name else "name"

    def add_email(self, address: str) -> None:
        if address not in self.emails:
            self.emails.append(address)

    def add_tag(self, tag: str) -> None:
        if tag.casefold() not in {known.casefold() for known in self.tags}:
            self.tags.append(tag)

    def add_note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def add_custom(self, key: str, value: str) -> None:
        """Keep ``value`` under ``key``; a second, different value is appended to it."""
        known = self.custom.get(key)
        if known is None:
            self.custom[key] = value
        elif value not in known.split(", "):
            self.custom[key] = f"{known}, {value}"

    def set_text(self, target: str, value: str, custom_key: str) -> None:
        """Set a single-valued field; a different value already there goes to custom."""
        if target in {"first_name", "last_name", "full_name"}:
            current = str(getattr(self, target))
            if not current:
                setattr(self, target, value)
                return
        else:
            current = self.scalars.get(target, "")
            if not current:
                self.scalars[target] = value
                return
        if current != value:
            self.add_custom(custom_key, value)

    def absorb(self, other: _Draft) -> None:
        """Merge a later duplicate: the first non-empty value of each field wins."""
        self.line = min(self.line, other.line)
        for name in ("first_name", "last_name", "full_name"):
            if not getattr(self, name):
                setattr(self, name, getattr(other, name))
        for address in other.emails:
            self.add_email(address)
        for target, value in other.scalars.items():
            self.scalars.setdefault(target, value)
        for note in other.notes:
            self.add_note(note)
        for tag in other.tags:
            self.add_tag(tag)
        for key, value in other.custom.items():
            self.custom.setdefault(key, value)

    def freeze(self) -> ContactRecord:
        first, last = self.first_name, self.last_name
        custom = dict(self.custom)
        if self.full_name:
            if not (first or last):
                first, last = split_name(self.full_name)
            elif " ".join(self.full_name.split()) != " ".join(f"{first} {last}".split()):
                custom.setdefault("full_name", self.full_name)
        return ContactRecord(
            first_name=first,
            last_name=last,
            emails=tuple(self.emails),
            organization=self.scalars.get("organization"),
            role=self.scalars.get("role"),
            field=self.scalars.get("field"),
            how_found=self.scalars.get("how_found"),
            referred_by=self.scalars.get("referred_by"),
            timezone=self.scalars.get("timezone"),
            notes="\n\n".join(self.notes) or None,
            tags=tuple(self.tags),
            custom=custom,
            line=self.line,
        )


def _result(
    fmt: str, drafts: Sequence[_Draft], problems: Sequence[Problem], blank: int, encoding: str
) -> ParseResult:
    kept, merged = _merge_duplicates(drafts)
    return ParseResult(
        format=fmt,
        records=tuple(draft.freeze() for draft in kept),
        problems=tuple(sorted(problems, key=lambda p: p.line)),
        skipped_blank=blank,
        encoding=encoding,
        merged=tuple(merged),
    )


def _merge_duplicates(drafts: Sequence[_Draft]) -> tuple[list[_Draft], list[tuple[int, int]]]:
    """Merge drafts that share an address (addresses are already lowercase); return the
    drafts kept and, for the report, (line, line it was merged into)."""
    owner: dict[str, _Draft] = {}
    kept: list[_Draft] = []
    merged: list[tuple[int, int]] = []
    for draft in drafts:
        matches: list[_Draft] = []
        for address in draft.emails:
            found = owner.get(address)
            if found is not None and all(found is not m for m in matches):
                matches.append(found)
        if not matches:
            kept.append(draft)
            base = draft
        else:
            base = min(matches, key=lambda d: d.line)
            for other in sorted([*matches, draft], key=lambda d: d.line):
                if other is not base:
                    base.absorb(other)
                    merged.append((other.line, base.line))
            kept = [k for k in kept if k is base or all(k is not m for m in matches)]
        for address in base.emails:
            owner[address] = base
    return kept, merged


def _emails_in(cell: str) -> list[str]:
    return [part for part in re.split(r"\s*(?:;|,|:::)\s*", cell.strip()) if part]


def _tags_in(cell: str) -> list[str]:
    tags = []
    for part in re.split(r"\s*(?:;|,|:::)\s*", cell.strip()):
        tag = part.removeprefix("* ").strip()
        # Google puts its system group "myContacts" on every contact: it says nothing.
        if tag and tag.casefold() != "mycontacts":
            tags.append(tag)
    return tags


@functools.cache
def _zone_names() -> Mapping[str, str]:
    return {name.casefold(): name for name in zoneinfo.available_timezones()}


def _check_timezone(value: str) -> str:
    """Return the canonical IANA name for ``value`` (any letter case), or raise ValueError."""
    name = _zone_names().get(value.strip().casefold())
    if name is None:
        raise ValueError(
            f"{value!r} is not an IANA time zone name; expected a name such as "
            "America/New_York, Europe/Berlin or Asia/Kolkata"
        )
    return name


_INVALID_EMAIL_HINT: Final = "expected one address such as name@example.org"


def _email_problem(value: str, err: InvalidEmail) -> str:
    if isinstance(err, UnsupportedEmail):
        return f"{value!r} cannot be used: it {err}"
    return f"{value!r} is not a valid email address: it {err}; {_INVALID_EMAIL_HINT}"


_NO_NAME: Final = "expected a name (or at least a first name) for each contact"
_MAPPING_NOT_FOR_VCARD: Final = "a column mapping applies only to CSV files, not to vCards"
_NOT_TEXT: Final = (
    "this is not a text file but binary data (a spreadsheet, an archive, an image...); "
    "expected a CSV or vCard text file: save a spreadsheet as CSV first"
)
_BINARY_SAMPLE: Final = 4096


def _looks_binary(data: bytes, text: str) -> bool:
    """A zip (.xlsx, .numbers...) or text that is more than 5% control characters."""
    if data.startswith(b"PK\x03\x04"):
        return True
    sample = text[:_BINARY_SAMPLE]
    controls = sum(1 for ch in sample if ch not in "\n\r\t\f" and unicodedata.category(ch) == "Cc")
    return controls >= 4 and controls * 20 > len(sample)


# --------------------------------------------------------------------------------------
# CSV


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


def _is_control(ch: str) -> bool:
    return ch not in "\n\t" and unicodedata.category(ch) == "Cc"


def _control_problem(value: str, where: str) -> str | None:
    """Why ``value`` is not plain text (a NUL, which PostgreSQL cannot store, or another
    control character), or None."""
    control = next((ch for ch in value if _is_control(ch)), None)
    if control is None:
        return None
    return (
        f"this {where} holds the control character U+{ord(control):04X}; expected plain "
        "text (if much of the file does, it may be in an encoding we did not recognize)"
    )


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


def _checked_length(target: str, value: str) -> str:
    """``value`` on one line with single spaces; ValueError when too long for ``target``."""
    text = " ".join(value.split())
    problem = length_problem(target, text)
    if problem is not None:
        raise ValueError(problem)
    return text


def _name_length_problem(draft: _Draft) -> str | None:
    """Why the whole name of a draft is too long (a cell or property alone may not be)."""
    return length_problem("name", draft.freeze().name)


# --------------------------------------------------------------------------------------
# vCard (2.1 leniently, 3.0, 4.0)

_VCARD_VERSIONS: Final = frozenset({"2.1", "3.0", "4.0"})
_VCARD_SKIPPED: Final = frozenset(
    # Bookkeeping and binary media: nothing a template or the person would use.
    {"VERSION", "PRODID", "REV", "PHOTO", "LOGO", "SOUND", "KEY", "CLIENTPIDMAP"}
)
# Properties that fill a sized field: the field, and the custom key of a second value.
_VCARD_SIZED: Final = MappingProxyType(
    {"ORG": ("organization", "org"), "TITLE": ("role", "title"), "ROLE": ("role", "vcard_role")}
)
_UTC_OFFSET: Final = re.compile(r"(?:UTC|GMT)?\s*([+-])(\d{1,2}):?(\d{2})?", re.IGNORECASE)


@dataclass(frozen=True)
class _Property:
    line: int
    name: str  # upper case, without its group
    params: Mapping[str, tuple[str, ...]]  # upper-case names; TYPE values as written
    value: str  # raw: still escaped, quoted-printable already decoded

    def types(self) -> set[str]:
        return {value.casefold() for value in self.params.get("TYPE", ())}


def _looks_like_vcard(text: str) -> bool:
    return text.lstrip()[:11].upper() == "BEGIN:VCARD"


def _unfold(text: str) -> list[tuple[int, str]]:
    """Join continuation lines: a leading space or tab, or a quoted-printable soft break."""
    logical: list[tuple[int, str]] = []
    for number, physical in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
        if logical and physical[:1] in {" ", "\t"}:
            start, so_far = logical[-1]
            logical[-1] = (start, so_far + physical[1:])
        elif logical and logical[-1][1].endswith("=") and _is_quoted_printable(logical[-1][1]):
            start, so_far = logical[-1]
            logical[-1] = (start, so_far[:-1] + physical)
        else:
            logical.append((number, physical))
    return logical


def _is_quoted_printable(content_line: str) -> bool:
    head = content_line.partition(":")[0].upper()
    return "QUOTED-PRINTABLE" in head


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _parse_property(line: int, content: str) -> _Property | None:
    head_and_value = _split_outside_quotes(content, ":")
    if len(head_and_value) < 2:
        return None
    head, value = head_and_value[0], ":".join(head_and_value[1:])
    name, *raw_params = _split_outside_quotes(head, ";")
    name = name.rpartition(".")[2].strip().upper()
    if not re.fullmatch(r"[A-Z0-9-]+", name):
        return None
    params: dict[str, tuple[str, ...]] = {}
    for raw in raw_params:
        key, equals, values = raw.partition("=")
        if not equals:  # vCard 2.1 writes bare types: TEL;WORK;VOICE:...
            key, values = "TYPE", raw
        items = tuple(v.strip().strip('"') for v in _split_outside_quotes(values, ","))
        if key.strip().upper() == "TYPE":  # vCard 4 may quote a list: TYPE="work,voice"
            items = tuple(t.strip() for item in items for t in item.split(","))
        params[key.strip().upper()] = params.get(key.strip().upper(), ()) + items
    encoding = {v.upper() for v in params.get("ENCODING", ()) + params.get("TYPE", ())}
    if "QUOTED-PRINTABLE" in encoding:
        charset = (params.get("CHARSET") or ("utf-8",))[0]
        decoded = quopri.decodestring(value.encode("utf-8"))
        try:
            value = decoded.decode(charset)
        except (LookupError, UnicodeDecodeError):
            value = decoded.decode("latin-1")
    return _Property(line, name, params, value)


def _unescape_split(value: str, separator: str | None) -> list[str]:
    """Split on unescaped ``separator`` and undo backslash escapes (\\n, \\, \\; \\\\)."""
    parts: list[str] = []
    current: list[str] = []
    chars = iter(value)
    for ch in chars:
        if ch == "\\":
            following = next(chars, "")
            current.append("\n" if following in {"n", "N"} else following)
        elif separator is not None and ch == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _text(prop: _Property) -> str:
    text = _unescape_split(prop.value, None)[0]
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _parse_vcards(text: str, file: str) -> tuple[list[_Draft], list[Problem]]:
    drafts: list[_Draft] = []
    problems: list[Problem] = []
    card: list[_Property] | None = None
    begin_line = 0
    saw_card = False
    card_broken = False  # a line of the card could not be read: the card is not kept
    for line, content in _unfold(text):
        if not content.strip():
            continue
        prop = _parse_property(line, content)
        if prop is None:
            message = "this line is not a vCard property; expected NAME:value"
            problems.append(Problem(file, line, None, message))
            if card is not None:
                card_broken = True
            continue
        value = prop.value.strip().upper()
        if prop.name == "BEGIN" and value == "VCARD":
            if card is not None:
                message = "this card is not closed; expected END:VCARD before the next card"
                problems.append(Problem(file, begin_line, "BEGIN", message))
            card, begin_line, saw_card, card_broken = [], line, True, False
        elif prop.name == "END" and value == "VCARD":
            if card is None:
                message = "END:VCARD without a BEGIN:VCARD; expected BEGIN:VCARD first"
                problems.append(Problem(file, line, "END", message))
            else:
                draft = _read_card(card, begin_line, file, problems)
                if draft is not None and not card_broken:
                    drafts.append(draft)
            card = None
        elif card is None:
            message = "text outside a card; expected it between BEGIN:VCARD and END:VCARD"
            problems.append(Problem(file, line, prop.name, message))
        else:
            card.append(prop)
    if card is not None:
        message = "this card is not closed; expected END:VCARD at the end of the card"
        problems.append(Problem(file, begin_line, "BEGIN", message))
    if not saw_card and not problems:
        message = "no card in this file; expected BEGIN:VCARD ... END:VCARD"
        problems.append(Problem(file, 1, None, message, whole_file=True))
    return drafts, problems


def _read_card(
    props: list[_Property], line: int, file: str, problems: list[Problem]
) -> _Draft | None:
    draft = _Draft(line=line)
    before = len(problems)
    emails: list[tuple[int, int, str, _Property]] = []
    for order, prop in enumerate(props):
        name = prop.name
        text = prop.value.replace("\r\n", "\n").replace("\r", "\n")
        control = None if name in _VCARD_SKIPPED else _control_problem(text, "property")
        if control is not None:
            problems.append(Problem(file, prop.line, name, control))
            continue
        if name in _VCARD_SKIPPED:
            if name == "VERSION" and _text(prop) not in _VCARD_VERSIONS:
                message = f"version {_text(prop)!r} is not supported; expected 3.0 or 4.0"
                problems.append(Problem(file, prop.line, name, message))
            continue
        if name == "EMAIL":
            emails.append((_email_rank(prop), order, _text(prop), prop))
        elif name == "FN":
            draft.set_text("full_name", " ".join(_text(prop).split()), "fn")
        elif name == "N":
            _read_structured_name(draft, prop)
        elif name in _VCARD_SIZED:
            target, key = _VCARD_SIZED[name]
            value = _text(prop)
            if name == "ORG":
                units = [u.strip() for u in _unescape_split(prop.value, ";")]
                value = units[0]
                if any(units[1:]):
                    draft.add_custom("department", ", ".join(u for u in units[1:] if u))
            try:
                if value:
                    draft.set_text(target, _checked_length(target, value), key)
            except ValueError as err:
                problems.append(Problem(file, prop.line, name, str(err)))
        elif name == "NOTE":
            note = _text(prop)
            if note:
                draft.add_note(note)
        elif name == "CATEGORIES":
            for tag in _unescape_split(prop.value, ","):
                if tag.strip():
                    draft.add_tag(tag.strip())
        elif name == "TZ":
            try:
                zone = _vcard_timezone(prop)
            except ValueError as err:
                problems.append(Problem(file, prop.line, name, str(err)))
            else:
                if zone:
                    draft.set_text("timezone", zone, "tz")
        else:
            components = [c.strip() for c in _unescape_split(prop.value, ";")]
            value = ", ".join(c for c in components if c)
            if value:
                draft.add_custom(custom_field_key(name) or "property", value)
    for _, _, value, prop in sorted(emails, key=lambda item: item[:2]):
        if not value:
            continue
        try:
            draft.add_email(normalize_email(value))
        except InvalidEmail as err:
            problems.append(Problem(file, prop.line, "EMAIL", _email_problem(value, err)))
    missing = draft.missing_name() if len(problems) == before else None
    if missing is not None:
        message = f"this card has no {missing} (FN or N); {_NO_NAME}"
        problems.append(Problem(file, line, None, message))
    too_long = _name_length_problem(draft) if len(problems) == before else None
    if too_long is not None:
        problems.append(Problem(file, line, "N" if draft.first_name else "FN", too_long))
    return draft if len(problems) == before else None


def _email_rank(prop: _Property) -> int:
    """Lower ranks first: PREF=n (vCard 4), TYPE=pref (vCard 3), then the rest."""
    for value in prop.params.get("PREF", ()):
        if value.isdigit():
            return int(value)
    return 0 if "pref" in prop.types() else 101


def _read_structured_name(draft: _Draft, prop: _Property) -> None:
    parts = [" ".join(p.replace(",", " ").split()) for p in _unescape_split(prop.value, ";")]
    parts += [""] * (5 - len(parts))
    family, given, additional, prefix, suffix = parts[:5]
    if given:
        draft.set_text("first_name", given, "given_name")
    if family:
        draft.set_text("last_name", family, "family_name")
    for key, value in (
        ("middle_name", additional),
        ("name_prefix", prefix),
        ("name_suffix", suffix),
    ):
        if value:
            draft.add_custom(key, value)


def _vcard_timezone(prop: _Property) -> str:
    """An IANA name from TZ; a whole-hour UTC offset becomes the matching Etc/GMT zone."""
    value = _text(prop)
    if not value:
        return ""
    offset = _UTC_OFFSET.fullmatch(value)
    if offset is not None:
        sign, hours, minutes = offset.group(1), int(offset.group(2)), offset.group(3)
        if minutes not in (None, "00") or hours > 14:
            raise ValueError(
                f"the offset {value!r} has no IANA zone; expected a name such as Asia/Kolkata"
            )
        if hours == 0:
            return "Etc/UTC"
        # POSIX-style Etc zones count the other way: UTC-05:00 is Etc/GMT+5.
        return f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"
    return _check_timezone(value)


def _guess_utf16_without_bom(data: bytes) -> str | None:
    sample = data[:400]
    if len(sample) < 4 or b"\x00" not in sample:
        return None
    even_zeros = sample[0::2].count(0)
    odd_zeros = sample[1::2].count(0)
    half = len(sample) // 2
    if odd_zeros > half * 0.4 and even_zeros < half * 0.1:
        return "utf-16-le"
    if even_zeros > half * 0.4 and odd_zeros < half * 0.1:
        return "utf-16-be"
    return None
