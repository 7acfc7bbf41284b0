"""What the person asks for on the command line about their outreach, as use cases.

Each use case opens its own transaction through the App, does the work with the
functions of pipeline.outreach, and returns plain data (or a report) for the CLI to
print: the CLI parses, calls one of these and prints; it never touches the store.
Contacts' own use cases live in pipeline.contacts, template checks in pipeline.previews.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import lifecycle as lc
from pipeline.app import App
from pipeline.contacts import resolve_contact
from pipeline.emails import InvalidEmail, normalize_email
from pipeline.errors import InputError
from pipeline.models import Account, Note
from pipeline.models import Outreach as OutreachRow
from pipeline.outreach import StartReport, add_note, observe, record_referral, start_outreach


def _account_row(session: Session, app: App, name: str | None) -> Account:
    """The stored account named ``name`` (the only one when None)."""
    chosen = app.settings.account(name)
    return session.scalars(select(Account).where(Account.name == chosen.name)).one()


def start(
    app: App,
    refs: Sequence[str],
    *,
    account: str | None,
    all_contacts: bool,
    again: bool,
    now: datetime,
) -> StartReport:
    """`outreach start`: plan the first drafts of the named contacts (or all of them)."""
    with app.store.write() as session:
        return start_outreach(
            session,
            _account_row(session, app, account),
            refs,
            all_contacts=all_contacts,
            now=now,
            policy=app.policy,
            per_day=app.settings.limits["new_outreach_per_day"],
            again=again,
        )


@dataclass(frozen=True)
class Notes:
    """A contact's notes, oldest first, as (ISO time, text)."""

    contact: str
    notes: list[dict[str, str]]


def notes(app: App, ref: str, add: str | None) -> Notes:
    """`outreach notes`: record a note for a contact (when ``add``), and list them all."""
    with app.store.write() as session:
        person = resolve_contact(session, ref)
        if add is not None:
            add_note(session, person, add, app.now())
        rows = session.scalars(
            select(Note).where(Note.contact_id == person.id).order_by(Note.created_at)
        ).all()
        return Notes(
            contact=person.name,
            notes=[{"at": n.created_at.isoformat(), "note": n.body} for n in rows],
        )


def add_referral(
    app: App, referrer_ref: str, name: str, email: str, *, account: str | None
) -> dict[str, Any]:
    """`outreach referral add`: a person a contact suggested, and a referral outreach to
    them unless one exists. Refuses the referrer's own address."""
    try:
        address = normalize_email(email)
    except InvalidEmail as err:
        raise InputError(f"--email {email!r}: {err}") from None
    with app.store.write() as session:
        referrer = resolve_contact(session, referrer_ref)
        if any(known.email == address for known in referrer.emails):
            raise InputError(
                f"--email {address}: that is {referrer.name}'s own address; give the "
                "address of the person they suggested"
            )
        row = _account_row(session, app, account)
        contact, started = record_referral(
            session, row, referrer, name, email, app.now(), app.policy
        )
        return {
            "id": contact.id,
            "name": contact.name,
            "referred_by": referrer.name,
            "started": started,
        }


def stop_keeping_in_touch(app: App, ref: str) -> str:
    """`outreach keep-in-touch --stop`: no more keep-in-touch updates for the contact;
    returns their name."""
    with app.store.write() as session:
        person = resolve_contact(session, ref)
        row = session.scalar(select(OutreachRow).where(OutreachRow.contact_id == person.id))
        if row is None:
            raise InputError(f"{person.name} has no outreach yet; nothing to stop")
        now = app.now()
        observe(session, row, lc.StopKeepingInTouch(at=now), now, app.policy)
        return person.name
