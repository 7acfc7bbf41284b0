"""Template contexts built from the store: who I am, who they are, the meeting, the notes.

The shape is the contract of templates/ (see the comment at the top of each template).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.contacts import TEXT_FIELDS
from pipeline.models import Contact, Meeting, Note, Step
from pipeline.models import Outreach as OutreachRow
from pipeline.settings import Settings
from pipeline.step_status import writes_to_referrer

# Which template a step of each kind uses; first outreach depends on the outreach.
STEP_TEMPLATES = {
    "nudge": "nudge_{seq}",
    "resend": "{first}",
    "scheduling_reply": "scheduling_reply",
    "thank_you": "thank_you",
    "thanks_anyway": "thanks_anyway",
    "referrer_note": "referrer_note",
    "keep_in_touch": "keep_in_touch",
}


def template_for(step_kind: str, seq: int, outreach_template: str) -> str:
    if step_kind == "first_outreach":
        return outreach_template
    pattern = STEP_TEMPLATES[step_kind]
    return pattern.format(seq=min(seq, 2), first=outreach_template)


def me_context(settings: Settings) -> dict[str, Any]:
    profile = settings.profile
    name = profile["name"]
    background = profile["background"] or profile["school"]
    return {
        "name": name,
        "first_name": name.split()[0] if name else "",
        "email": profile["email"] or (settings.accounts[0].address if settings.accounts else ""),
        "school": profile["school"],
        "background": background,
        "field": profile["field"],
        "intro": profile["intro"],
        "timezone": profile["timezone"],
        "signature": profile["signature"],
    }


def _blank_to_none(value: str | None) -> str | None:
    return value if value else None


def contact_context(contact: Contact, email: str | None = None) -> dict[str, Any]:
    """A contact for templates: empty fields are absent, so StrictUndefined reports them."""
    data: dict[str, Any] = {
        "id": contact.id,
        "first_name": contact.first_name or None,
        "last_name": contact.last_name or None,
        "name": contact.name or None,
        "email": email or contact.primary_email,
        **{name: getattr(contact, name) for name in TEXT_FIELDS},
        "tags": list(contact.tags),
        "custom": dict(contact.custom),
    }
    return {key: value for key, value in data.items() if value not in (None, "")}


def meeting_context(meeting: Meeting, timezone: str) -> dict[str, Any]:
    zone = ZoneInfo(timezone)
    return {
        "uid": meeting.uid,
        "start": meeting.start.astimezone(zone),
        "end": meeting.end.astimezone(zone),
        "minutes": int((meeting.end - meeting.start).total_seconds() // 60),
        "location": meeting.location,
        "summary": meeting.summary,
    }


def notes_text(session: Session, contact_id: int) -> str | None:
    return notes_of(session, [contact_id]).get(contact_id)


def notes_of(session: Session, contact_ids: Collection[int]) -> dict[int, str]:
    """The notes of each of ``contact_ids`` that has any, oldest first, as one text; one
    query for them all."""
    found: dict[int, list[str]] = {}
    if contact_ids:
        rows = session.execute(
            select(Note.contact_id, Note.body)
            .where(Note.contact_id.in_(set(contact_ids)))
            .order_by(Note.created_at, Note.id)
        )
        for contact_id, body in rows:
            found.setdefault(contact_id, []).append(body)
    return {contact_id: "\n".join(bodies) for contact_id, bodies in found.items()}


def latest_meetings(session: Session, outreach_ids: Collection[int]) -> dict[int, Meeting]:
    """The latest meeting (by start) of each of ``outreach_ids`` that has one; one query
    for them all."""
    found: dict[int, Meeting] = {}
    if outreach_ids:
        meetings = session.scalars(
            select(Meeting)
            .where(Meeting.outreach_id.in_(set(outreach_ids)))
            .order_by(Meeting.start.desc(), Meeting.id.desc())
        )
        for meeting in meetings:
            if meeting.outreach_id is not None:
                found.setdefault(meeting.outreach_id, meeting)
    return found


def step_context(
    session: Session,
    settings: Settings,
    row: OutreachRow,
    step: Step | None,
    *,
    notes: str | None,
    meeting: Meeting | None,
) -> dict[str, Any]:
    """Everything a message template may use for this outreach and step, given the
    contact's ``notes`` and the outreach's latest ``meeting`` (see :func:`notes_of` and
    :func:`latest_meetings`, which read them for a whole batch of steps at once)."""
    contact = row.contact
    context: dict[str, Any] = {
        "me": me_context(settings),
        "contact": contact_context(contact, row.email),
        "step": {"kind": step.kind if step else "first_outreach", "seq": step.seq if step else 1},
        "thread": {"original_subject": row.subject} if row.subject else {},
    }
    if notes:
        context["notes"] = notes
    if meeting is not None:
        context["meeting"] = meeting_context(meeting, settings.timezone)
    if row.referrer_contact_id is not None:
        referrer = session.get(Contact, row.referrer_contact_id)
        if referrer is not None:
            context["referrer"] = contact_context(referrer)
    if step is not None and writes_to_referrer(step.kind) and row.referrer_contact_id:
        # The note goes to the referrer and speaks of the person they introduced.
        referrer = session.get(Contact, row.referrer_contact_id)
        if referrer is not None:
            context["referred"] = context["contact"]
            context["contact"] = contact_context(referrer)
    return context


def preview_context(
    settings: Settings, contact: Contact, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A context for previews and checks when no outreach exists yet."""
    return {
        "me": me_context(settings),
        "contact": contact_context(contact),
        "step": {"kind": "first_outreach", "seq": 1},
        "thread": {},
        **(extra or {}),
    }


def now_in(settings: Settings, now: datetime) -> datetime:
    return now.astimezone(ZoneInfo(settings.timezone))


def sample_context(
    settings: Settings,
    contact: Contact,
    kind: str,
    now: datetime,
    *,
    referrer: Contact | None = None,
) -> dict[str, Any]:
    """A context for ``templates check`` and ``preview``: the real profile and contact,
    and stand-ins for what only exists later in an outreach (the thread's subject, the
    meeting, the person introduced), so that only real gaps are reported."""
    zone = ZoneInfo(settings.timezone)
    start = (
        (now + timedelta(days=3))
        .astimezone(zone)
        .replace(hour=10, minute=0, second=0, microsecond=0)
    )
    context = preview_context(settings, contact)
    context["step"] = {"kind": kind, "seq": 2 if kind == "nudge_2" else 1}
    context["thread"] = {"original_subject": "Could I ask you about your work?"}
    context["meeting"] = {
        "start": start,
        "end": start + timedelta(minutes=30),
        "minutes": 30,
        "location": None,
    }
    if referrer is not None:
        context["referrer"] = contact_context(referrer)
    if kind == "referrer_note":
        context["referred"] = {"name": "the person they introduced", "first_name": "them"}
    return context


PROFILE_FIELDS_FIRST_MESSAGES_USE = ("background", "field", "intro")
"""Profile fields the shipped first-outreach templates build their first lines from."""


def missing_field_advice(missing: list[str], contact_ref: str) -> str:
    """What to do about the fields a template lacks, in the person's words: a contact's
    fields are set with `contacts set`, the person's own in outreach.toml's profile."""
    theirs = [f.removeprefix("contact.") for f in missing if f.startswith("contact.")]
    mine = [f.removeprefix("me.") for f in missing if f.startswith("me.")]
    advice = []
    if theirs:
        example = " ".join(f"{name}=..." for name in theirs if "." not in name) or "FIELD=..."
        advice.append(
            f"set it with `outreach contacts set {contact_ref} {example}` (that plans the "
            "step again)"
        )
    if mine:
        keys = ", ".join(mine)
        advice.append(
            f"add your {keys} to the profile table of outreach.toml "
            f'(e.g. {mine[0]} = "..."), then `outreach deadletters retry`'
        )
    if len(theirs) + len(mine) < len(missing):
        advice.append("or edit the template in your workspace's templates/ folder")
    return "; ".join(advice) or "edit the template in your workspace's templates/ folder"


def coach_samples(
    settings: Settings, now: datetime
) -> list[tuple[str, dict[str, Any], str | None]]:
    """For each first-outreach template: a context with a made-up contact who has every
    field (and a referrer where the template names one), and the mutual contact's name,
    so that `templates check` can review what the template itself says."""
    from pipeline.coach import FIRST_KINDS

    def person(first: str, last: str, **fields: Any) -> Contact:
        return Contact(id=0, first_name=first, last_name=last, tags=[], custom={}, **fields)

    base = {
        "organization": "Harbor Health",
        "role": "data analyst",
        "field": "public health",
        "how_found": "the alumni directory",
    }
    referrer = person("Dana", "Kim", organization="County Health Department")
    samples: list[tuple[str, dict[str, Any], str | None]] = []
    for kind in FIRST_KINDS:
        extra = {"referred_by": "Dana Kim"} if kind == "first_referred" else {}
        contact = person("Jordan", "Rivera", **base, **extra)
        context = sample_context(
            settings,
            contact,
            kind,
            now,
            referrer=referrer if kind == "referral_outreach" else None,
        )
        mutual = "Dana Kim" if kind in ("first_referred", "referral_outreach") else None
        samples.append((kind, context, mutual))
    return samples
