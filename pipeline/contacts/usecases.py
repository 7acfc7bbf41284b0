"""The use cases the CLI calls for contacts: each opens its transaction through the App and
returns plain data or a report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from pipeline.contacts.editing import update_contact
from pipeline.contacts.importing import ImportReport, Progress, import_records
from pipeline.contacts.lookup import contact_summary, resolve_contact
from pipeline.contacts.records import (
    ParseResult,
)
from pipeline.models import Contact, Note
from pipeline.models import Outreach as OutreachRow

if TYPE_CHECKING:
    from pipeline.app import App


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
