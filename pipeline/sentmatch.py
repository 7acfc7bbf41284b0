"""Which step a message the person sent came from: one matcher for every connector.

People edit drafts before sending them, and mail clients keep little of what we wrote:
a new Message-ID, our X-Outreach-Key header dropped, the subject and the body changed.
A sent message is matched to its step by, in order:

1. our key (the header, or the key the connector matched by its own means);
2. our Message-ID;
3. the provider's thread (or In-Reply-To/References naming one of our messages), when
   that outreach has exactly one step whose draft the person could have sent;
4. what survives editing: the step's recipient (the contact, or the referrer for the note
   back to them) among the message's recipients, for a draft made at most
   ``RECIPIENT_WINDOW`` before the message was sent.

Candidates for 3 and 4 are steps with a draft out there (``drafted``) and steps recorded
as deleted (``deleted``: the person may have deleted our copy and sent an edited one, or
scheduled it). When 4 finds several, the one whose draft reads most like the message
wins (``pipeline.likeness``: the caller fetches the message's text only then, see
``needs_likeness``); on a tie, a drafted step wins over a deleted one, then the latest
draft.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from connectors.base import MailChange
from pipeline.likeness import likeness
from pipeline.models import Account, Step
from pipeline.models import Outreach as OutreachRow
from pipeline.outreach import addressee
from pipeline.steps import StepStatus

SENDABLE = (StepStatus.DRAFTED, StepStatus.DELETED)
"""Steps whose draft the person may have sent without our key or Message-ID on it."""

RECIPIENT_WINDOW = timedelta(days=30)
CLOCK_SLACK = timedelta(minutes=5)  # a Date header a little ahead of our clock


def step_by_key(session: Session, change: MailChange) -> Step | None:
    """The step named by the change's key, else by its Message-ID (ours)."""
    if change.key:
        step = session.scalar(select(Step).where(Step.key == change.key))
        if step is not None:
            return step
    if change.message_id:
        return session.scalar(select(Step).where(Step.message_id == change.message_id))
    return None


def sent_step(
    session: Session,
    account: Account,
    change: MailChange,
    sent_at: datetime,
    fingerprint: list[int] | None = None,
) -> Step | None:
    """The step a message the person sent came from, if any (see the module docstring);
    ``fingerprint``: the message's (pipeline.likeness), to choose among several steps
    written to the same person."""
    step = step_by_key(session, change)
    if step is not None:
        return step
    return _by_thread(session, account, change) or _best(
        _by_recipient(session, account, change, sent_at), fingerprint
    )


def needs_likeness(
    session: Session, account: Account, change: MailChange, sent_at: datetime
) -> bool:
    """Whether only the message's wording can tell which step it came from: no key,
    Message-ID or thread of ours, and several steps written to its recipients."""
    if step_by_key(session, change) is not None or _by_thread(session, account, change):
        return False
    return len(_by_recipient(session, account, change, sent_at)) > 1


def _best(steps: Sequence[Step], fingerprint: list[int] | None = None) -> Step | None:
    if not steps:
        return None
    return max(
        steps,
        key=lambda s: (
            likeness(fingerprint, s.fingerprint or []) if fingerprint else 0.0,
            s.status == StepStatus.DRAFTED,
            s.drafted_at or s.created_at,
            s.id,
        ),
    )


def _by_thread(session: Session, account: Account, change: MailChange) -> Step | None:
    ids = [i for i in (change.in_reply_to, *change.references) if i]
    conditions = []
    if change.thread_id:
        conditions.append(OutreachRow.thread_id == change.thread_id)
    if ids:
        conditions.append(OutreachRow.root_message_id.in_(ids))
    if not conditions:
        return None
    owners = list(
        session.scalars(
            select(OutreachRow.id).where(OutreachRow.account_id == account.id, or_(*conditions))
        )
    )
    if ids:
        owners += list(session.scalars(select(Step.outreach_id).where(Step.message_id.in_(ids))))
    if len(set(owners)) != 1:
        return None
    steps = session.scalars(
        select(Step).where(Step.outreach_id == owners[0], Step.status.in_(SENDABLE))
    ).all()
    return _best(steps) if len(steps) == 1 else None


def _by_recipient(
    session: Session, account: Account, change: MailChange, sent_at: datetime
) -> list[Step]:
    recipients = {address.lower() for address in change.recipients}
    if not recipients:
        return []
    steps = session.scalars(
        select(Step)
        .join(OutreachRow, Step.outreach_id == OutreachRow.id)
        .where(
            OutreachRow.account_id == account.id,
            Step.status.in_(SENDABLE),
            Step.drafted_at.is_not(None),
            Step.drafted_at <= sent_at + CLOCK_SLACK,
            Step.drafted_at >= sent_at - RECIPIENT_WINDOW,
        )
    ).all()
    return [
        step
        for step in steps
        if addressee(session, step.outreach, step.kind)[1].lower() in recipients
    ]
