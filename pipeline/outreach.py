"""Use cases over the store: start outreach, feed observations to the lifecycle, carry out
its commands as rows, record notes and referrals.

The lifecycle decides (pure); this module persists the decision in the caller's
transaction: the new state, the planned steps (UNIQUE key, so a step is planned once), the
suppressed addresses, the meetings to prepare, and an audit event for each observation.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, assert_never
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from pipeline import lifecycle as lc
from pipeline.compose import first_outreach_kind
from pipeline.contacts import resolve_contact
from pipeline.context import contact_context
from pipeline.emails import InvalidEmail, email_problem, normalize_email, split_name
from pipeline.errors import InputError
from pipeline.models import (
    Account,
    Contact,
    ContactEmail,
    Event,
    Meeting,
    Note,
    Step,
    Suppression,
)
from pipeline.models import (
    Outreach as OutreachRow,
)
from pipeline.step_status import writes_to_referrer
from pipeline.steps import OPEN_STATUSES, StepStatus
from pipeline.timeplan import local_date, next_send_moment, start_of_local_day


def step_key(account: str, contact_id: int, kind: str, seq: int) -> str:
    """The idempotency key of a step: account, contact, step kind and sequence number."""
    return f"{account}/{contact_id}/{kind}/{seq}"


def _insert_ignore(session: Session, values: dict[str, Any]) -> bool:
    """Insert a step unless its key exists; True when a row was inserted."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(Step).values(**values).on_conflict_do_nothing(index_elements=["key"])
    result = session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


def addressee(session: Session, row: OutreachRow, kind: str) -> tuple[Contact, str]:
    """Who a step of ``row`` writes to, and at which address: the contact, except the note
    back to a referrer, which goes to the referrer (when they have a usable address)."""
    if writes_to_referrer(kind) and row.referrer_contact_id is not None:
        referrer = session.get(Contact, row.referrer_contact_id)
        if referrer is not None and referrer.primary_email:
            return referrer, referrer.primary_email
    return row.contact, row.email


def load_state(row: OutreachRow) -> lc.Outreach:
    return lc.Outreach.from_dict(row.state)


def _event(
    session: Session, at: datetime, outreach_id: int | None, kind: str, data: dict[str, Any]
) -> None:
    session.add(Event(at=at, outreach_id=outreach_id, kind=kind, data=data))


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


@dataclass
class Applied:
    """What carrying out one decision changed, for reports and tests."""

    planned: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    rescheduled: list[str] = field(default_factory=list)
    referrals: list[int] = field(default_factory=list)


def observe(
    session: Session,
    row: OutreachRow,
    observation: lc.Observation,
    now: datetime,
    policy: lc.Policy,
    *,
    flush: bool = True,
) -> Applied:
    """Feed one observation to the lifecycle and persist its decision in ``session``;
    ``flush=False`` leaves the writes to the session's next query or its commit (a batch
    of drafts recorded together writes them together)."""
    state = load_state(row)
    decision = lc.advance(state, observation, now, policy)
    if decision.outreach == state and not decision.commands:
        return Applied()  # nothing changed: no write, no audit line
    _event(
        session,
        now,
        row.id,
        type(observation).__name__,
        {"observation": _jsonable(observation), "stage": str(decision.outreach.stage)},
    )
    row.state = decision.outreach.to_dict()
    row.stage = str(decision.outreach.stage)
    row.updated_at = now
    return apply_commands(session, row, decision.commands, now, policy, flush=flush)


def apply_commands(
    session: Session,
    row: OutreachRow,
    commands: Sequence[lc.Command],
    now: datetime,
    policy: lc.Policy,
    *,
    flush: bool = True,
) -> Applied:
    """Turn the lifecycle's commands into rows, in the caller's transaction: one case per
    command type, checked complete by the type checker (assert_never). ``flush``: write
    them now (else at the session's next query or commit)."""
    applied = Applied()
    account = session.get(Account, row.account_id)
    assert account is not None
    for command in commands:
        match command:
            case lc.PlanStep():
                key = step_key(account.name, row.contact_id, str(command.kind), command.seq)
                if str(command.kind) != "referrer_note" and _is_suppressed(session, row.email):
                    _event(session, now, row.id, "step_refused", {"key": key, "why": "suppressed"})
                    continue
                inserted = _insert_ignore(
                    session,
                    {
                        "key": key,
                        "outreach_id": row.id,
                        "kind": str(command.kind),
                        "seq": command.seq,
                        "status": StepStatus.PLANNED,
                        "due_at": command.due_at,
                        "deadline": command.deadline,
                        "in_thread": command.in_thread,
                        "attempts": 0,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
                if inserted:
                    applied.planned.append(key)
            case lc.CancelStep():
                key = step_key(account.name, row.contact_id, str(command.kind), command.seq)
                session.execute(
                    update(Step)
                    .where(Step.key == key, Step.status.in_(OPEN_STATUSES))
                    .values(status=StepStatus.CANCELLED, updated_at=now)
                )
                # A draft already waiting in the mailbox, or being made right now, is taken
                # back (by the next sweep), so the person cannot send a nudge to someone who
                # has just answered.
                session.execute(
                    update(Step)
                    .where(
                        Step.key == key, Step.status.in_((StepStatus.DRAFTED, StepStatus.DRAFTING))
                    )
                    .values(status=StepStatus.WITHDRAWING, updated_at=now)
                )
                applied.cancelled.append(key)
            case lc.RescheduleStep():
                key = step_key(account.name, row.contact_id, str(command.kind), command.seq)
                session.execute(
                    update(Step)
                    .where(Step.key == key, Step.status.in_(OPEN_STATUSES))
                    .values(due_at=command.due_at, status=StepStatus.PLANNED, updated_at=now)
                )
                applied.rescheduled.append(key)
            case lc.PutPrepNotes():
                _put_meeting(session, row, account, command.meeting, now)
            case lc.RemovePrepNotes():
                meeting = session.scalar(
                    select(Meeting).where(
                        Meeting.account_id == account.id, Meeting.uid == command.uid
                    )
                )
                if meeting is not None:
                    meeting.status = "cancelled"
                    meeting.prep_at = None
            case lc.SuppressAddress():
                if session.get(Suppression, row.email) is None:
                    session.add(Suppression(email=row.email, reason=str(command.reason), at=now))
            case lc.FlagContact():
                contact = session.get(Contact, row.contact_id)
                assert contact is not None
                contact.flagged = str(command.reason)
                for email in contact.emails:
                    if email.email == row.email and "bounce" in str(command.reason):
                        email.status = "bounced"
            case lc.CreateReferral():
                created = _create_referral(
                    session, row, account, command.name, command.email, now, policy
                )
                if created is not None:
                    applied.referrals.append(created)
            case _:  # pragma: no cover - the type checker proves no command is left out
                assert_never(command)
        _event(
            session,
            now,
            row.id,
            "command",
            {"command": type(command).__name__, **_jsonable(command)},
        )
    if flush:
        session.flush()
    return applied


def _is_suppressed(session: Session, email: str, known: AbstractSet[str] | None = None) -> bool:
    """Whether ``email`` asked not to be written to: in ``known`` (every suppressed
    address, read once by a caller that asks for many), else in the store."""
    if known is not None:
        return email in known
    return session.get(Suppression, email) is not None


def _put_meeting(
    session: Session, row: OutreachRow, account: Account, meeting: lc.Meeting, now: datetime
) -> None:
    existing = session.scalar(
        select(Meeting).where(Meeting.account_id == account.id, Meeting.uid == meeting.uid)
    )
    if existing is None:
        session.add(
            Meeting(
                account_id=account.id,
                outreach_id=row.id,
                uid=meeting.uid,
                start=meeting.start,
                end=meeting.end,
                status="booked",
                prep_key=f"{account.name}/{row.contact_id}/prep_notes/{meeting.uid}",
            )
        )
        return
    existing.outreach_id = row.id
    existing.start, existing.end = meeting.start, meeting.end
    existing.status = "booked"
    existing.prep_at = None  # the prep notes must be written (again)


def _referral_contact(
    session: Session, referrer: Contact, name: str, address: str, now: datetime
) -> Contact:
    """The contact with ``address``, created as introduced by ``referrer`` when new."""
    existing = session.scalar(select(ContactEmail).where(ContactEmail.email == address))
    if existing is not None:
        return existing.contact
    first, last = split_name(name) if name else ("", "")
    contact = Contact(
        first_name=first,
        last_name=last,
        how_found=f"introduced by {referrer.name}",
        referred_by=referrer.name,
        referred_by_id=referrer.id,
        tags=["referral"],
        custom={},
        source=f"referral from {referrer.name}",
        created_at=now,
        updated_at=now,
    )
    contact.emails = [ContactEmail(email=address, position=0)]
    session.add(contact)
    session.flush()
    return contact


def _create_referral(
    session: Session,
    row: OutreachRow,
    account: Account,
    name: str,
    email: str,
    now: datetime,
    policy: lc.Policy,
) -> int | None:
    """A person introduced in a reply: a contact and a referral outreach to them."""
    try:
        address = normalize_email(email)
    except InvalidEmail:
        _event(session, now, row.id, "referral_refused", {"why": "invalid address"})
        return None
    referrer = session.get(Contact, row.contact_id)
    assert referrer is not None
    contact = _referral_contact(session, referrer, name, address, now)
    started = _start_referral(session, account, contact, referrer, now, policy)
    return contact.id if started is not None else None


def _start_referral(
    session: Session,
    account: Account,
    contact: Contact,
    referrer: Contact,
    now: datetime,
    policy: lc.Policy,
) -> OutreachRow | None:
    """A referral outreach, its first draft paced like any other (it counts against the
    day's new outreach)."""
    if _why_not_startable(session, account, contact) is not None:
        return None
    pacer = _Pacer(session, account, now, policy, policy.new_outreach_per_day)
    return _start_one(
        session, account, contact, now, policy, referrer=referrer, not_before=pacer.next_slot()
    )


def _start_one(
    session: Session,
    account: Account,
    contact: Contact,
    now: datetime,
    policy: lc.Policy,
    *,
    referrer: Contact | None = None,
    not_before: datetime | None = None,
    suppressed: AbstractSet[str] | None = None,
) -> OutreachRow | None:
    """Create the outreach and plan its first draft; None when one exists already.
    ``suppressed``: every suppressed address, when the caller read them already."""
    email = contact.primary_email
    if email is None or _is_suppressed(session, email, suppressed):
        return None
    exists = session.scalar(
        select(OutreachRow.id).where(
            OutreachRow.account_id == account.id, OutreachRow.contact_id == contact.id
        )
    )
    if exists is not None:
        return None
    is_referral = referrer is not None
    state = lc.new_outreach(now, referral=is_referral)
    row = OutreachRow(
        account_id=account.id,
        contact_id=contact.id,
        goal="advice",
        template=first_outreach_kind(contact_context(contact), referrer_is_contact=is_referral),
        email=email,
        stage=str(state.stage),
        state=state.to_dict(),
        referrer_contact_id=referrer.id if referrer else None,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    observe(session, row, lc.Started(at=now, not_before=not_before), now, policy)
    return row


class _Pacer:
    """Spreads first drafts over send days: at most ``per_day`` due on one local workday,
    counting the first drafts already planned or made for those days."""

    def __init__(
        self, session: Session, account: Account, now: datetime, policy: lc.Policy, per_day: int
    ) -> None:
        self.policy = policy
        self.zone = ZoneInfo(policy.timezone)
        self.per_day = per_day
        self.moment = next_send_moment(now, policy)
        today = start_of_local_day(local_date(now, self.zone), self.zone)
        planned = session.scalars(
            select(Step.due_at)
            .join(OutreachRow, Step.outreach_id == OutreachRow.id)
            .where(
                OutreachRow.account_id == account.id,
                Step.kind == "first_outreach",
                Step.status != StepStatus.CANCELLED,
                Step.due_at >= today,
            )
        )
        self.counts = Counter(local_date(due, self.zone) for due in planned)

    def next_slot(self) -> datetime:
        """The earliest send moment on a day that still has room, and take it."""
        while self.counts[local_date(self.moment, self.zone)] >= self.per_day:
            following = local_date(self.moment, self.zone) + timedelta(days=1)
            self.moment = next_send_moment(start_of_local_day(following, self.zone), self.policy)
        self.counts[local_date(self.moment, self.zone)] += 1
        return self.moment


@dataclass
class StartReport:
    started: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"started": self.started, "skipped": self.skipped}


def _why_not_startable(
    session: Session,
    account: Account,
    contact: Contact,
    *,
    again: bool = False,
    suppressed: AbstractSet[str] | None = None,
) -> str | None:
    if not contact.emails:
        return "no email address: add one to the contacts file and import it again"
    if contact.primary_email is None:
        return "every address bounced: find another address"
    unusable = email_problem(contact.primary_email)  # stored by an older version
    if unusable is not None:
        return f"the address {contact.primary_email} {unusable}"
    if _is_suppressed(session, contact.primary_email, suppressed):
        return "the address asked not to be contacted"
    exists = session.scalar(
        select(OutreachRow.stage).where(
            OutreachRow.account_id == account.id, OutreachRow.contact_id == contact.id
        )
    )
    if exists is not None:
        if exists not in {str(stage) for stage in lc.RESTARTABLE_STAGES}:
            return f"already started (stage {exists})"
        if not again:
            return (
                f"already started, now {exists.replace('_', ' ')}; to write to "
                f"{contact.name or contact.primary_email} afresh: outreach start "
                f'"{contact.name or contact.primary_email}" --again'
            )
    return None


def _restart_one(
    session: Session,
    account: Account,
    contact: Contact,
    now: datetime,
    policy: lc.Policy,
    not_before: datetime,
) -> OutreachRow:
    """Start an ended outreach afresh (`start --again`): a new first draft, numbered on."""
    row = session.scalars(
        select(OutreachRow).where(
            OutreachRow.account_id == account.id, OutreachRow.contact_id == contact.id
        )
    ).one()
    row.email = contact.primary_email or row.email
    row.root_message_id = row.thread_id = row.subject = None
    observe(session, row, lc.Restarted(at=now, not_before=not_before), now, policy)
    return row


def start_outreach(
    session: Session,
    account: Account,
    refs: Iterable[str],
    *,
    all_contacts: bool,
    now: datetime,
    policy: lc.Policy,
    per_day: int,
    again: bool = False,
) -> StartReport:
    """Plan the first outreach for the named contacts (or all startable ones); with
    ``again``, an outreach that ended skipped, declined, quiet or closed starts afresh.

    First drafts are spread so that at most ``per_day`` become due on one day.
    """
    if all_contacts:
        contacts = list(
            session.scalars(
                select(Contact).options(selectinload(Contact.emails)).order_by(Contact.id)
            )
        )
    else:
        contacts = [resolve_contact(session, ref) for ref in refs]
        if not contacts:
            raise InputError("name at least one contact, or use --all")
    report = StartReport()
    pacer = _Pacer(session, account, now, policy, per_day)
    suppressed = set(session.scalars(select(Suppression.email)))  # once, not per contact
    for contact in contacts:
        reason = _why_not_startable(session, account, contact, again=again, suppressed=suppressed)
        if reason is not None:
            report.skipped.append({"id": contact.id, "name": contact.name, "reason": reason})
            continue
        not_before = pacer.next_slot()
        row = _start_one(
            session, account, contact, now, policy, not_before=not_before, suppressed=suppressed
        )
        if row is None:  # it exists, and ended: --again starts it afresh
            row = _restart_one(session, account, contact, now, policy, not_before)
        due = session.scalar(
            select(Step.due_at)
            .where(Step.outreach_id == row.id, Step.status == StepStatus.PLANNED)
            .order_by(Step.id.desc())
            .limit(1)
        )
        report.started.append(
            {
                "id": contact.id,
                "name": contact.name,
                "email": row.email,
                "template": row.template,
                "due_at": due.isoformat() if due else None,
            }
        )
    return report


def add_note(session: Session, contact: Contact, body: str, now: datetime) -> Note:
    text = body.strip()
    if not text:
        raise InputError(
            "the note is empty; write what you learned, e.g. "
            'outreach notes "Dana Kim" --add "Talk to her team lead"'
        )
    note = Note(contact_id=contact.id, body=text, created_at=now)
    session.add(note)
    session.flush()
    return note


def record_referral(
    session: Session,
    account: Account,
    referrer: Contact,
    name: str,
    email: str,
    now: datetime,
    policy: lc.Policy,
) -> tuple[Contact, bool]:
    """The person recorded that ``referrer`` suggested someone: a contact and, unless one
    exists, a referral outreach naming the referrer. Returns the contact and whether an
    outreach was started."""
    try:
        address = normalize_email(email)
    except InvalidEmail as err:
        raise InputError(f"--email {email!r}: {err}") from None
    if _is_suppressed(session, address):
        raise InputError(f"{address} asked not to be contacted; no outreach will be planned")
    contact = _referral_contact(session, referrer, name, address, now)
    started = _start_referral(session, account, contact, referrer, now, policy)
    _event(
        session,
        now,
        started.id if started else None,
        "referral_recorded",
        {"referrer_id": referrer.id, "contact_id": contact.id},
    )
    return contact, started is not None
