"""Finding a contact by id, address or (part of) a name, and describing one as plain data."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pipeline.contacts.records import (
    TEXT_FIELDS,
)
from pipeline.errors import InputError, NotFoundError
from pipeline.models import Contact, ContactEmail

if TYPE_CHECKING:
    pass


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
