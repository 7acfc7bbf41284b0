"""What a contact file yields: the fields a record has, the record itself, the problems met and
the result of reading one file; the names of the formats and fields that a mapping may use."""

from __future__ import annotations

import dataclasses
import keyword
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

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


def full_name(first: str | None, last: str | None) -> str:
    """How a contact is named: first and last name, whichever are known."""
    return " ".join(part for part in (first, last) if part)


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
        return full_name(self.first_name, self.last_name)

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
