"""Correcting a contact's fields (`outreach contacts set`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.contacts.records import (
    TEXT_FIELDS,
    length_problem,
)
from pipeline.emails import InvalidEmail, normalize_email
from pipeline.errors import InputError
from pipeline.models import Contact, ContactEmail, Step
from pipeline.models import Outreach as OutreachRow
from pipeline.steps import StepStatus

if TYPE_CHECKING:
    pass


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
