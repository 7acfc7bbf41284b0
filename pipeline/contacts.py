"""Use cases on contacts: import parsed files into the store, find and describe contacts."""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pipeline.contact_import import (
    TEXT_FIELDS,
    ContactRecord,
    ParseResult,
    Problem,
    length_problem,
)
from pipeline.emails import InvalidEmail, normalize_email
from pipeline.errors import ImportProblemError, InputError, NotFoundError
from pipeline.models import Contact, ContactEmail, Note, Step
from pipeline.models import Outreach as OutreachRow
from pipeline.steps import StepStatus

if TYPE_CHECKING:
    from pipeline.app import App

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


def resolve_contact(session: Session, ref: str) -> Contact:
    """Find one contact by id, email address or (part of) name; say so when ambiguous."""
    options = selectinload(Contact.emails)
    if ref.isdigit():
        contact = session.get(Contact, int(ref), options=[options])
        if contact is None:
            raise NotFoundError(f"no contact with id {ref}; see `outreach contacts list`")
        return contact
    if "@" in ref:
        found = session.scalars(
            select(Contact)
            .join(ContactEmail)
            .where(ContactEmail.email == ref.strip().lower())
            .options(options)
        ).first()
        if found is None:
            raise NotFoundError(f"no contact with the address {ref}; see `outreach contacts list`")
        return found
    # Names are compared in Python: SQLite's lower() folds ASCII letters only, so "Zoë
    # Ångström" would never be found; accents are optional ("Zoe Angstrom" finds her).
    wanted, loose = name_key(ref), name_key(ref, accents=False)
    names = session.execute(select(Contact.id, Contact.first_name, Contact.last_name)).all()
    full = {cid: " ".join(part for part in (first, last) if part) for cid, first, last in names}
    ids = [cid for cid, name in full.items() if name_key(name) == wanted]
    if not ids:
        ids = [cid for cid, name in full.items() if name_key(name, accents=False) == loose]
    if not ids:
        ids = [cid for cid, name in full.items() if loose in name_key(name, accents=False)]
    if not ids:
        raise NotFoundError(f"no contact matches {ref!r}; see `outreach contacts list`")
    if len(ids) > 1:
        listed = ", ".join(f"{full[cid]} (id {cid})" for cid in sorted(ids)[:5])
        raise InputError(f"{ref!r} matches several contacts: {listed}; use the id or the email")
    found = session.get(Contact, ids[0], options=[options])
    assert found is not None
    return found


def name_key(text: str, *, accents: bool = True) -> str:
    """A name as it is compared: case folded (any script), spaces collapsed, and without
    accents when ``accents`` is False."""
    folded = unicodedata.normalize("NFKC", " ".join(text.split())).casefold()
    if accents:
        return folded
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def contact_summary(contact: Contact) -> dict[str, Any]:
    """A contact as plain data, for tables, JSON and templates."""
    return {
        "id": contact.id,
        "name": contact.name,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.primary_email,
        "emails": [e.email for e in contact.emails],
        **{name: getattr(contact, name) for name in TEXT_FIELDS},
        "tags": list(contact.tags),
        "custom": dict(contact.custom),
        "flagged": contact.flagged,
    }


SETTABLE = ("first_name", "last_name", *TEXT_FIELDS)


def update_contact(
    session: Session, contact: Contact, assignments: dict[str, str], now: datetime
) -> list[str]:
    """Set fields of a contact (``custom.NAME`` for custom fields, ``email`` to add an
    address as the primary one); steps that failed for want of a field are planned again.
    Returns what changed."""
    changed: list[str] = []
    for name, value in assignments.items():
        value = value.strip()
        if name in SETTABLE:
            if name == "timezone" and value:
                try:
                    ZoneInfo(value)
                except (ZoneInfoNotFoundError, ValueError):
                    raise InputError(
                        f"timezone={value!r} is not a known time zone; expected e.g. Europe/Paris"
                    ) from None
            names_are_text = name in ("first_name", "last_name")  # never NULL, "" when unknown
            if names_are_text:
                parts = {"first_name": contact.first_name, "last_name": contact.last_name}
                parts[name] = value
                too_long = length_problem("name", " ".join(p for p in parts.values() if p))
            else:
                too_long = length_problem(name, value)
            if too_long is not None:
                raise InputError(f"{name}: {too_long}")
            setattr(contact, name, value if names_are_text else value or None)
        elif name.startswith("custom.") and len(name) > len("custom."):
            key = name.removeprefix("custom.")
            custom = dict(contact.custom)
            if value:
                custom[key] = value
            else:
                custom.pop(key, None)
            contact.custom = custom
        elif name == "email":
            try:
                address = normalize_email(value)
            except InvalidEmail as err:
                raise InputError(f"email={value!r}: {err}") from None
            owner = session.scalar(select(ContactEmail).where(ContactEmail.email == address))
            if owner is not None and owner.contact_id != contact.id:
                raise InputError(f"{address} belongs to another contact (id {owner.contact_id})")
            if owner is None:
                for existing in contact.emails:
                    existing.position += 1
                contact.emails.insert(0, ContactEmail(email=address, position=0))
        else:
            known = ", ".join([*SETTABLE, "email", "custom.NAME"])
            raise InputError(f"{name!r} is not a contact field; fields: {known}")
        changed.append(name)
    contact.updated_at = now
    session.flush()
    retried = session.scalars(
        select(Step)
        .join(OutreachRow, Step.outreach_id == OutreachRow.id)
        .where(OutreachRow.contact_id == contact.id, Step.status == StepStatus.FAILED)
    ).all()
    for step in retried:
        step.status, step.last_error, step.updated_at = StepStatus.PLANNED, None, now
    return changed


# ------------------------------------------------------------ the use cases the CLI calls


def import_contacts(
    app: App,
    parsed: ParseResult,
    *,
    source: str,
    skip_invalid: bool,
    progress: Progress | None = None,
) -> ImportReport:
    """`outreach contacts import`: write the parsed file in one transaction."""
    with app.store.write() as session:
        return import_records(
            session,
            parsed,
            source=source,
            skip_invalid=skip_invalid,
            now=app.now(),
            progress=progress,
        )


def list_contacts(app: App) -> list[dict[str, Any]]:
    """`outreach contacts list`: every contact, with its outreach stage (or None)."""
    with app.store.read() as session:
        people = session.scalars(
            select(Contact).options(selectinload(Contact.emails)).order_by(Contact.id)
        ).all()
        stages = dict(session.execute(select(OutreachRow.contact_id, OutreachRow.stage)).all())
        return [{**contact_summary(c), "stage": stages.get(c.id)} for c in people]


def show_contact(app: App, ref: str) -> dict[str, Any]:
    """`outreach contacts show`: one contact, its outreach stage and the notes recorded."""
    with app.store.read() as session:
        person = resolve_contact(session, ref)
        data = contact_summary(person)
        outreach = session.scalar(select(OutreachRow).where(OutreachRow.contact_id == person.id))
        data["stage"] = outreach.stage if outreach else None
        data["notes_recorded"] = [
            n.body for n in session.scalars(select(Note).where(Note.contact_id == person.id))
        ]
        return data


def set_contact_fields(app: App, ref: str, assignments: dict[str, str]) -> tuple[str, list[str]]:
    """`outreach contacts set`: the contact's name and the fields changed."""
    with app.store.write() as session:
        person = resolve_contact(session, ref)
        changed = update_contact(session, person, assignments, app.now())
        return person.name, changed
