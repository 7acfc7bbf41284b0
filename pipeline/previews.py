"""Rendering the templates for real contacts without writing anything: the use cases of
`outreach templates check` (which contact or profile field is missing, and what the
first-outreach coach says) and `outreach templates preview` (one message, as drafted)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from pipeline.app import App
from pipeline.coach import review_message
from pipeline.compose import Envelope, TemplateSet, kinds_for_contact
from pipeline.contacts import resolve_contact
from pipeline.context import coach_samples, contact_context, sample_context
from pipeline.errors import InputError
from pipeline.models import Contact
from pipeline.models import Outreach as OutreachRow
from pipeline.settings import Settings


@dataclass
class TemplateCheck:
    """What `templates check` found: contacts lacking a field a template needs, your own
    profile fields missing (once, not per contact), and the coach's findings."""

    checked: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    profile: list[dict[str, Any]] = field(default_factory=list)
    coach: list[dict[str, Any]] = field(default_factory=list)

    @property
    def gaps(self) -> int:
        return len(self.problems) + len(self.profile) + len(self.coach)


def check_templates(app: App) -> TemplateCheck:
    """Render every template for every contact who could receive it."""
    templates = TemplateSet(app.settings.templates_override)
    now = app.now()
    result = TemplateCheck()
    profile_gaps: dict[str, set[str]] = {}
    with app.store.read() as session:
        referrers = set(session.scalars(select(Contact.referred_by_id)))
        outreach_referrer = dict(
            session.execute(select(OutreachRow.contact_id, OutreachRow.referrer_contact_id)).all()
        )
        for contact in session.scalars(
            select(Contact).options(selectinload(Contact.emails)).order_by(Contact.id)
        ):
            if contact.primary_email is None:
                continue  # cannot receive anything
            result.checked += 1
            referrer_id = outreach_referrer.get(contact.id)
            referrer = session.get(Contact, referrer_id) if referrer_id else None
            kinds = kinds_for_contact(
                contact_context(contact),
                referrer_is_contact=referrer is not None,
                is_referrer=contact.id in referrers,
            )
            for kind in kinds:
                context = sample_context(app.settings, contact, kind, now, referrer=referrer)
                missing = templates.missing_fields(kind, context)
                for name in (m for m in missing if m.startswith("me.")):
                    profile_gaps.setdefault(name, set()).add(kind)
                theirs = [m for m in missing if not m.startswith("me.")]
                if theirs:
                    result.problems.append(
                        {
                            "contact": contact.name or contact.primary_email,
                            "id": contact.id,
                            "template": kind,
                            "missing": theirs,
                        }
                    )
    result.profile = [
        {"field": name, "templates": sorted(kinds)} for name, kinds in sorted(profile_gaps.items())
    ]
    result.coach = _coach(templates, app.settings, now)
    return result


def _coach(templates: TemplateSet, settings: Settings, now: datetime) -> list[dict[str, Any]]:
    """The first-outreach coach's findings for each first-message template that renders
    (a template lacking a field is reported as a gap instead)."""
    reviews = []
    for kind, context, mutual in coach_samples(settings, now):
        if templates.missing_fields(kind, context):
            continue
        contact = context["contact"]
        envelope = Envelope(
            sender=(settings.profile["name"], settings.profile["email"] or "you@example.org"),
            to=(f"{contact['first_name']} {contact['last_name']}", "jordan@example.org"),
            key=f"sample/0/{kind}/1",
            date=now,
        )
        findings = review_message(
            templates.render_message(kind, context, envelope), mutual_contact=mutual
        )
        if findings:
            reviews.append(
                {"template": kind, "findings": [asdict(finding) for finding in findings]}
            )
    return reviews


@dataclass(frozen=True)
class Preview:
    """A message as it would be drafted, or the text of the prep notes."""

    message: EmailMessage | None = None
    text: str | None = None


def preview(app: App, kind: str, ref: str) -> Preview:
    """Render ``kind`` for the contact ``ref`` exactly as it would be drafted."""
    templates = TemplateSet(app.settings.templates_override)
    known = [*templates.kinds(), "prep_notes"]
    if kind not in known:
        raise InputError(f"no template {kind!r}; known: {', '.join(known)}")
    with app.store.read() as session:
        person = resolve_contact(session, ref)
        if person.primary_email is None:
            raise InputError(f"{person.name} has no email address; add one and import again")
        referrer = None
        row = session.scalar(select(OutreachRow).where(OutreachRow.contact_id == person.id))
        if row is not None and row.referrer_contact_id:
            referrer = session.get(Contact, row.referrer_contact_id)
        now = app.now()
        context = sample_context(app.settings, person, kind, now, referrer=referrer)
        if kind == "prep_notes":
            return Preview(text=templates.render_text(kind, context))
        account = app.settings.account()
        envelope = Envelope(
            sender=(app.settings.profile["name"], account.address),
            to=(person.name, person.primary_email),
            key=f"{account.name}/{person.id}/preview/{kind}",
            date=now,
        )
        return Preview(message=templates.render_message(kind, context, envelope))
