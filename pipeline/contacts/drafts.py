"""Records under construction, shared by the CSV and vCard readers: cells and properties
are put into a draft, checked, merged with the drafts that share an address, then frozen."""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from pipeline.contacts.records import (
    TEXT_FIELDS,
    ContactRecord,
    ParseResult,
    Problem,
    length_problem,
)
from pipeline.emails import InvalidEmail, UnsupportedEmail, split_name

SCALARS: Final = tuple(name for name in TEXT_FIELDS if name != "notes")
"""The text fields a cell or property sets outright (notes add up instead)."""


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
            **{name: self.scalars.get(name) for name in SCALARS},
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
