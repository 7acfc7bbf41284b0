"""Writing parsed contacts to the store: all or nothing (unless told to skip the invalid
rows), matched to the contacts already there by address, else by name and organization,
filling only what is still empty."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pipeline.contacts.records import (
    TEXT_FIELDS,
    ContactRecord,
    ParseResult,
    Problem,
)
from pipeline.errors import ImportProblemError
from pipeline.models import Contact, ContactEmail

if TYPE_CHECKING:
    pass


Progress = Callable[[int, int], None]  # (records handled, records in all)
_PROGRESS_EVERY = 500


_WHOLE_FILE_ADVICE = (
    "The file as a whole has a problem, so --skip-invalid cannot help: check that it is "
    "the contacts file you meant and that --format and --map fit it, then import it again."
)
_NO_VALID_ROW_ADVICE = (
    "No row of the file can be imported, so --skip-invalid would import nothing: fix the "
    "rows listed, then import the file again."
)


@dataclass
class ImportReport:
    """What an import did: counts, and the problems of rows left out (--skip-invalid)."""

    format: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    without_email: int = 0
    matched_by_name: int = 0
    kept_apart: list[str] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)

    MATCHING = (
        "Rows are matched to your contacts by email address; a row without one by name and "
        "organization."
    )

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "without_email": self.without_email,
            "matched_by_name": self.matched_by_name,
            "kept_apart": list(self.kept_apart),
            "skipped": [str(problem) for problem in self.skipped],
        }


def _name_key(first: str, last: str) -> tuple[str, str]:
    return first.lower(), last.lower()


class _Known:
    """The contacts in the store, indexed by address and by name for one import: read
    once, so a row costs the same however many contacts there are (a query per row by
    lower(name) read every contact: an import grew with the square of its rows)."""

    def __init__(self, session: Session) -> None:
        self.by_email: dict[str, Contact] = {}
        self.by_name: dict[tuple[str, str], list[Contact]] = {}
        for contact in session.scalars(
            select(Contact).order_by(Contact.id).options(selectinload(Contact.emails))
        ):
            self.add(contact)

    def add(self, contact: Contact, was: tuple[str, str] | None = None) -> None:
        """Index ``contact`` (again, after a change; ``was`` is its name key before)."""
        for email in contact.emails:
            self.by_email.setdefault(email.email, contact)
        key = _name_key(contact.first_name, contact.last_name)
        if was is not None and was != key and contact in self.by_name.get(was, []):
            self.by_name[was].remove(contact)
        same = self.by_name.setdefault(key, [])
        if contact not in same:
            same.append(contact)

    def find(self, record: ContactRecord) -> tuple[Contact | None, str]:
        """The contact ``record`` is about, and how it was found.

        By email address first. Otherwise by name and the same profile URL, or by name
        and organization when the record or the contact has no address (a row without
        one, or the address added to a file imported before): two people of one name and
        organization with different addresses stay two contacts ("kept apart"), or the
        second would never be written to. Returns ``(None, "")`` for a new contact."""
        for email in record.emails:
            if email in self.by_email:
                return self.by_email[email], "email"
        url = record.custom.get("url") or record.custom.get("profile_url")
        candidates = self.by_name.get(_name_key(record.first_name, record.last_name), [])
        kept_apart = False
        for candidate in candidates:
            if url and candidate.custom.get("url") == url:
                return candidate, "url"
            same_org = (candidate.organization or "").lower() == (record.organization or "").lower()
            if not url and same_org:
                if not record.emails or not candidate.emails:
                    return candidate, "name"
                kept_apart = True
        return None, "kept_apart" if kept_apart else ""


def _fill_name(contact: Contact, record: ContactRecord) -> bool:
    """Fill an empty first or last name, when the other one is empty too or agrees."""
    first, last = contact.first_name.strip(), contact.last_name.strip()
    if first and first.casefold() != record.first_name.casefold():
        return False
    if last and last.casefold() != record.last_name.casefold():
        return False
    filled = (first or record.first_name, last or record.last_name)
    if filled == (contact.first_name, contact.last_name):
        return False
    contact.first_name, contact.last_name = filled
    return True


def _merge(contact: Contact, record: ContactRecord, now: datetime) -> bool:
    """Fill what the contact lacks from the record; never overwrite what is there."""
    changed = _fill_name(contact, record)
    for name in TEXT_FIELDS:
        value = getattr(record, name)
        if value and not getattr(contact, name):
            setattr(contact, name, value)
            changed = True
    known = {e.email for e in contact.emails}
    for email in record.emails:
        if email not in known:
            contact.emails.append(ContactEmail(email=email, position=len(contact.emails)))
            known.add(email)
            changed = True
    new_tags = [tag for tag in record.tags if tag not in contact.tags]
    if new_tags:
        contact.tags = [*contact.tags, *new_tags]
        changed = True
    new_custom = {k: v for k, v in record.custom.items() if k not in contact.custom}
    if new_custom:
        contact.custom = {**contact.custom, **new_custom}
        changed = True
    if changed:
        contact.updated_at = now
    return changed


def _new_contact(record: ContactRecord, source: str, now: datetime) -> Contact:
    contact = Contact(
        first_name=record.first_name,
        last_name=record.last_name,
        tags=list(record.tags),
        custom=dict(record.custom),
        source=source,
        created_at=now,
        updated_at=now,
        **{name: getattr(record, name) or None for name in TEXT_FIELDS},
    )
    contact.emails = [ContactEmail(email=e, position=i) for i, e in enumerate(record.emails)]
    return contact


def import_records(
    session: Session,
    parsed: ParseResult,
    *,
    source: str,
    skip_invalid: bool,
    now: datetime,
    progress: Progress | None = None,
) -> ImportReport:
    """Write parsed contacts: all or nothing unless ``skip_invalid``; idempotent.

    Writes nothing, whatever ``skip_invalid`` says, when a problem concerns the whole file
    or when no record is left to import. ``progress(done, total)`` is told of the records
    handled, now and then.
    """
    if not parsed.readable:
        raise ImportProblemError(parsed.problems, _WHOLE_FILE_ADVICE)
    if not parsed.records:
        raise ImportProblemError(parsed.problems, _NO_VALID_ROW_ADVICE)
    if parsed.problems and not skip_invalid:
        raise ImportProblemError(parsed.problems)
    report = ImportReport(format=parsed.format, skipped=list(parsed.problems))
    known = _Known(session)
    total = len(parsed.records)
    for done, record in enumerate(parsed.records):
        if progress is not None and done % _PROGRESS_EVERY == 0:
            progress(done, total)
        if parsed.format == "linkedin" and not record.how_found:
            # Where the person found them is what a first outreach mentions.
            record = dataclasses.replace(record, how_found="LinkedIn")
        existing, how = known.find(record)
        if how == "name":
            report.matched_by_name += 1
        if existing is None:
            contact = _new_contact(record, source, now)
            session.add(contact)
            known.add(contact)
            report.created += 1
            if how == "kept_apart":
                report.kept_apart.append(
                    f"line {record.line}: {record.name} ({record.primary_email}) shares a "
                    "name and organization with a contact of another address: a new contact"
                )
        else:
            was = _name_key(existing.first_name, existing.last_name)
            if _merge(existing, record, now):
                known.add(existing, was)
                report.updated += 1
            else:
                report.unchanged += 1
        if not record.emails:
            report.without_email += 1
    session.flush()  # once: the rows go in batches
    if progress is not None:
        progress(total, total)
    return report
