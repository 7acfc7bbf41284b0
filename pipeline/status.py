"""`outreach status`: the funnel by stage, and what waits on the person and on contacts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from pipeline.models import Account, Meeting, SkippedInput, Step
from pipeline.models import Outreach as OutreachRow
from pipeline.outreach import addressee
from pipeline.steps import OPEN_STATUSES, StepStatus

if TYPE_CHECKING:
    from pipeline.app import App

FUNNEL_ORDER = (
    "planned",
    "outreach_drafted",
    "sent",
    "nudge_drafted",
    "nudged",
    "paused_ooo",
    "replied",
    "scheduling",
    "booked",
    "met",
    "thanked",
    "keeping_in_touch",
    "gone_quiet",
    "declined",
    "opted_out",
    "bounced",
    "skipped",
    "closed",
)
WAITING_ON_CONTACT = {"sent", "nudged", "paused_ooo", "scheduling"}
STEP_LABELS = {
    "first_outreach": "first outreach",
    "nudge": "follow-up nudge",
    "resend": "resend after a soft bounce",
    "scheduling_reply": "answer about scheduling",
    "thank_you": "thank-you",
    "thanks_anyway": "thanks-anyway",
    "referrer_note": "note back to the referrer",
    "keep_in_touch": "keep-in-touch update",
}


# What to do about a step that could not be drafted (shown by status and the digest).
FAILED_STEP_FIX = (
    "fill the missing field with `outreach contacts set CONTACT field=value` (that plans "
    "it again), or fix the cause and run `outreach deadletters retry`"
)


@dataclass
class Status:
    funnel: dict[str, int] = field(default_factory=dict)
    waiting_on_you: list[dict[str, Any]] = field(default_factory=list)
    waiting_on_contacts: list[dict[str, Any]] = field(default_factory=list)
    upcoming: list[dict[str, Any]] = field(default_factory=list)
    accounts_needing_auth: list[dict[str, str]] = field(default_factory=list)
    accounts_unavailable: list[dict[str, str]] = field(default_factory=list)
    skipped_inputs: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "funnel": self.funnel,
            "waiting_on_you": self.waiting_on_you,
            "waiting_on_contacts": self.waiting_on_contacts,
            "upcoming": self.upcoming,
            "accounts_needing_auth": self.accounts_needing_auth,
            "accounts_unavailable": self.accounts_unavailable,
            "skipped_inputs": self.skipped_inputs,
        }


SKIPPED_RECENT_DAYS = 14
"""How far back `outreach status` lists skipped messages and events."""


def skipped_inputs(session: Session, since: datetime | None = None) -> list[dict[str, str]]:
    """Messages and calendar items skipped as unreadable (newest first), since ``since``
    when given: where they are, why, and when they were seen."""
    query = (
        select(SkippedInput, Account.name)
        .join(Account, Account.id == SkippedInput.account_id)
        .order_by(SkippedInput.at.desc(), SkippedInput.id.desc())
    )
    if since is not None:
        query = query.where(SkippedInput.at >= since)
    return [
        {
            "account": account,
            "stream": item.stream,
            "item": item.ref,
            "reason": item.reason,
            "at": item.at.isoformat(),
        }
        for item, account in session.execute(query)
    ]


def read_status(app: App) -> Status:
    """`outreach status`: what it shows, as of the app's clock."""
    with app.store.read() as session:
        return build_status(session, app.now())


def build_status(session: Session, now: datetime) -> Status:
    """Everything `outreach status` shows, read in one transaction."""
    status = Status()
    rows = (
        session.scalars(
            select(OutreachRow).options(joinedload(OutreachRow.contact)).order_by(OutreachRow.id)
        )
        .unique()
        .all()
    )
    counts = Counter(row.stage for row in rows)
    status.funnel = {stage: counts[stage] for stage in FUNNEL_ORDER if counts[stage]}
    by_id = {row.id: row for row in rows}
    steps = session.scalars(
        select(Step)
        .where(Step.status.in_((*OPEN_STATUSES, StepStatus.DRAFTED, StepStatus.FAILED)))
        .order_by(Step.due_at)
    ).all()
    answering = {s.outreach_id for s in steps if s.kind in ("scheduling_reply", "thanks_anyway")}
    for step in steps:
        row = by_id.get(step.outreach_id)
        if row is None:
            continue
        person, address = addressee(session, row, step.kind)
        entry = {
            "contact": person.name,
            "email": address,
            "step": step.kind,
            "what": STEP_LABELS.get(step.kind, step.kind),
            "due_at": step.due_at.isoformat(),
            "deadline": step.deadline.isoformat() if step.deadline else None,
        }
        if step.status == StepStatus.DRAFTED:
            since = step.drafted_at or step.updated_at
            status.waiting_on_you.append(
                {**entry, "why": "draft waiting for you to send", "since": since.isoformat()}
            )
        elif step.status == StepStatus.FAILED:
            status.waiting_on_you.append(
                {
                    **entry,
                    "why": f"{entry['what']} not drafted: {step.last_error or 'see deadletters'}",
                    "fix": FAILED_STEP_FIX,
                    "step_id": step.id,
                    "since": step.updated_at.isoformat(),
                }
            )
        else:
            status.upcoming.append({**entry, "why": f"{entry['what']} to be drafted"})
    for row in rows:
        who = {"contact": row.contact.name, "email": row.email, "stage": row.stage}
        unconfirmed = row.state.get("introductions_to_confirm") or []
        if unconfirmed:
            status.waiting_on_you.append(
                {
                    **who,
                    "why": (
                        f"named {len(unconfirmed)} more people in one message than are "
                        "contacted on their own; add the ones they meant with `outreach "
                        f'referral add --from "{row.contact.name}" --name NAME --email ADDRESS`'
                    ),
                    "people": [{"name": n, "email": e} for n, e in unconfirmed],
                }
            )
        if row.stage == "replied":
            if row.id not in answering:  # an answer already waiting in Drafts says it
                status.waiting_on_you.append({**who, "why": "they replied: answer them"})
        elif row.stage == "bounced":
            status.waiting_on_you.append({**who, "why": "the address bounced: find another"})
        elif row.stage in WAITING_ON_CONTACT:
            status.waiting_on_contacts.append({**who, "since": row.state.get("last_outbound_at")})
    meetings = session.scalars(
        select(Meeting).where(Meeting.status == "booked", Meeting.end > now).order_by(Meeting.start)
    ).all()
    for meeting in meetings:
        row = by_id.get(meeting.outreach_id) if meeting.outreach_id else None
        status.upcoming.append(
            {
                "contact": row.contact.name if row else None,
                "step": "meeting",
                "what": "conversation",
                "due_at": meeting.start.isoformat(),
                "deadline": meeting.end.isoformat(),
            }
        )
    status.upcoming.sort(key=lambda item: str(item["due_at"]))
    status.skipped_inputs = skipped_inputs(session, now - timedelta(days=SKIPPED_RECENT_DAYS))
    for account in session.scalars(select(Account).where(Account.needs_reauth.is_(True))):
        status.accounts_needing_auth.append(
            {"account": account.name, "reason": account.reauth_reason or "authorization expired"}
        )
    for account in session.scalars(select(Account).where(Account.unavailable_reason.is_not(None))):
        status.accounts_unavailable.append(
            {
                "account": account.name,
                "reason": account.unavailable_reason or "",
                "since": account.unavailable_since.isoformat() if account.unavailable_since else "",
            }
        )
    return status
