"""Carrying out planned steps: a draft in the mailbox, prep notes on the calendar.

Each use case reads what it needs in one transaction (for a draft, the one that claims
the step), does the provider I/O outside any transaction, and records the result in a
second one. The connectors are idempotent by the
step's key, so running a use case twice (a retry, a crash between the I/O and the record,
two workers at once) leaves exactly one draft or one event.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from connectors.base import CalendarEvent, DraftRef, ThreadRef
from pipeline import lifecycle as lc
from pipeline.accounts import mark_needs_reauth, mark_unavailable
from pipeline.app import App
from pipeline.compose import Envelope, TemplateSet
from pipeline.context import (
    contact_context,
    latest_meetings,
    me_context,
    meeting_context,
    missing_field_advice,
    notes_of,
    notes_text,
    step_context,
    template_for,
)
from pipeline.errors import (
    AccountUnavailableError,
    AuthError,
    PermanentError,
    TemplateError,
)
from pipeline.inputs import NOT_THE_INPUTS, describe
from pipeline.likeness import message_fingerprint
from pipeline.models import Account, Contact, Meeting, MessageSeen, Step, Suppression
from pipeline.models import Outreach as OutreachRow
from pipeline.outreach import addressee, observe
from pipeline.settings import AccountSettings
from pipeline.steps import OPEN_STATUSES, StepStatus, claim_for_drafting, release

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DraftOutcome:
    """What create_draft did: ``created``, ``exists`` (done before), ``not_due``,
    ``cancelled`` (no longer wanted) or ``failed`` (a problem the person must fix)."""

    key: str
    outcome: str
    detail: str = ""


def _load_steps(session: Session, step_ids: Sequence[int]) -> dict[int, Step]:
    """The steps with their outreach, contact and account, in one query. Not the
    contact's addresses: the outreach names the one to write to, and joining
    contact_emails (no index by contact) made each draft scan every address, so a tick
    grew with the square of the contacts."""
    if not step_ids:
        return {}
    steps = session.scalars(
        select(Step)
        .where(Step.id.in_(step_ids))
        .options(
            joinedload(Step.outreach).joinedload(OutreachRow.contact),
            joinedload(Step.outreach).joinedload(OutreachRow.account),
        )
    ).unique()
    return {step.id: step for step in steps}


def create_draft(app: App, step_id: int, templates: TemplateSet | None = None) -> DraftOutcome:
    """Render the step's message and put it in the person's Drafts, exactly once (see
    :func:`create_drafts`)."""
    return create_drafts(app, [step_id], templates)[0]


def create_drafts(
    app: App, step_ids: Sequence[int], templates: TemplateSet | None = None
) -> list[DraftOutcome]:
    """Render the steps' messages and put them in the person's Drafts, each exactly once;
    one outcome per step, in the order given.

    Two write transactions for the whole batch: the first claims the steps (one worker at
    a time per step) and reads what their messages need; the messages are rendered and
    the drafts created outside any transaction (the connectors are idempotent by the
    step's key), and the second records the results. A transient failure stops the
    batch: the drafts made so far are recorded, the other claims are given back, and the
    error is raised for the queue to retry (a retry finds the recorded steps done). A
    crash before the record leaves the steps claimed; once the lease has passed, the next
    attempt takes them again and the connector finds their drafts by key.
    """
    templates = templates or app.templates
    now = app.now()
    outcomes: dict[int, DraftOutcome] = {}
    with app.store.write_steps(step_ids) as session:
        work = _claim_and_gather(session, app, step_ids, templates, now, outcomes)
    batch = _Batch()
    for step_id, gathered in work:
        batch.draft(app, step_id, gathered, templates, outcomes)
    if batch.to_record():
        with app.store.write_steps(batch.to_record()) as session:
            _record(session, app, batch, now, outcomes)
    for name, reason in batch.reauth.items():
        mark_needs_reauth(app, name, reason)
    for name, reason in batch.unavailable.items():
        mark_unavailable(app, name, reason, now)
    if batch.error is not None:
        raise batch.error
    return [outcomes[step_id] for step_id in step_ids]


def _claim_and_gather(
    session: Session,
    app: App,
    step_ids: Sequence[int],
    templates: TemplateSet,
    now: datetime,
    outcomes: dict[int, DraftOutcome],
) -> list[tuple[int, Gathered]]:
    """Claim the due steps among ``step_ids`` and read what each message needs; the
    outcome of each step not to be drafted goes in ``outcomes``."""
    lease = timedelta(seconds=app.settings.limits["step_lease_seconds"])
    steps = _load_steps(session, step_ids)
    before = {
        step.id: step.status
        for step in steps.values()
        if not (step.due_at > now and step.status in OPEN_STATUSES)
    }
    claimed = claim_for_drafting(session, list(before), now, lease)
    facts = _Facts.read(session, [steps[i] for i in dict.fromkeys(step_ids) if i in claimed])
    work: list[tuple[int, Gathered]] = []
    for step_id in step_ids:
        step = steps.get(step_id)
        if step is None:
            outcomes[step_id] = DraftOutcome(str(step_id), StepStatus.CANCELLED, "no such step")
        elif step_id not in before:
            outcomes[step_id] = DraftOutcome(step.key, "not_due")
        elif step_id not in claimed:
            status = before[step_id]
            outcome = "exists" if status in (StepStatus.DRAFTED, StepStatus.SENT) else status
            outcomes[step_id] = DraftOutcome(
                step.key, "busy" if outcome == StepStatus.DRAFTING else outcome
            )
        else:
            try:
                gathered = _gather(session, app, step, facts, templates, now)
            except TemplateError as err:
                gathered = Refusal(StepStatus.FAILED, str(err))
            except NOT_THE_INPUTS:
                raise  # the claims are rolled back with the transaction: a retry takes them
            except Exception as err:  # met by this step only (an odd contact, a hostile template)
                gathered = Refusal(StepStatus.FAILED, f"could not be composed: {describe(err)}")
            if isinstance(gathered, Refusal):
                outcomes[step_id] = _refuse(session, step, gathered, now)
            else:
                work.append((step_id, gathered))
    return work


@dataclass
class _Batch:
    """What drafting a batch's messages came to, to be recorded in one transaction."""

    made: list[tuple[int, Gathered, DraftRef, EmailMessage]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    give_back: list[int] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)  # account name -> why
    reauth: dict[str, str] = field(default_factory=dict)
    error: BaseException | None = None  # the transient trouble that stopped the batch

    def to_record(self) -> list[int]:
        return [m[0] for m in self.made] + [f[0] for f in self.failed] + self.give_back

    def draft(
        self,
        app: App,
        step_id: int,
        gathered: Gathered,
        templates: TemplateSet,
        outcomes: dict[int, DraftOutcome],
    ) -> None:
        """Render and draft one claimed step's message, unless the batch has stopped or
        its account cannot be used now."""
        account, key = gathered.account, gathered.envelope.key
        if self.error is not None:
            self.give_back.append(step_id)
            return
        if account.name in self.unavailable:
            self.give_back.append(step_id)
            outcomes[step_id] = DraftOutcome(key, "waiting", self.unavailable[account.name])
            return
        try:
            message = templates.render_message(
                gathered.template, gathered.context, gathered.envelope
            )
        except TemplateError as err:
            self.failed.append((step_id, str(err)))
            return
        except NOT_THE_INPUTS as err:
            self.give_back.append(step_id)
            self.error = err
            return
        except Exception as err:  # met by this step only (an odd contact, a hostile template)
            self.failed.append((step_id, f"could not be composed: {describe(err)}"))
            return
        try:
            ref = app.mailbox(account).create_draft(message, key, gathered.thread)
        except PermanentError as err:  # this message can never be drafted: the person must look
            self.failed.append((step_id, str(err)))
        except AccountUnavailableError as err:  # the whole mailbox: the account's trouble
            self.give_back.append(step_id)
            self.unavailable[account.name] = str(err)
            outcomes[step_id] = DraftOutcome(key, "waiting", str(err))
        except NOT_THE_INPUTS as err:  # transient trouble, or the database: retried
            self.give_back.append(step_id)
            self.error = err
            if isinstance(err, AuthError):
                self.reauth[account.name] = str(err)
        except Exception as err:  # a connector's bug met by this message: never stuck drafting
            self.failed.append((step_id, f"could not be drafted: {describe(err)}"))
        else:
            self.made.append((step_id, gathered, ref, message))


def _record(
    session: Session, app: App, batch: _Batch, now: datetime, outcomes: dict[int, DraftOutcome]
) -> None:
    """Record, in one transaction, the drafts made, the steps that failed, and the claims
    given back."""
    release(session, batch.give_back, now)
    steps = _load_steps(session, [m[0] for m in batch.made] + [f[0] for f in batch.failed])
    for step_id, detail in batch.failed:
        outcomes[step_id] = _fail(steps[step_id], detail, now)
    for step_id, gathered, ref, message in batch.made:
        outcomes[step_id] = _record_draft(session, app, steps[step_id], gathered, ref, message, now)


def _record_draft(
    session: Session,
    app: App,
    step: Step,
    gathered: Gathered,
    ref: DraftRef,
    message: EmailMessage,
    now: datetime,
) -> DraftOutcome:
    key = gathered.envelope.key
    if step.status in (StepStatus.WITHDRAWING, StepStatus.WITHDRAWN):
        # Became moot while we were making it: the next sweep takes the draft back.
        step.status, step.updated_at = StepStatus.WITHDRAWING, now
        step.provider_draft_id, step.message_id = ref.draft_id, ref.message_id
        return DraftOutcome(key, "withdrawing", ref.draft_id)
    if step.status != StepStatus.DRAFTING:  # drafted by a later claim, or deleted by the person
        return DraftOutcome(key, "exists" if step.status == StepStatus.DRAFTED else step.status)
    row = step.outreach
    if gathered.account_unavailable:  # it works again
        row.account.unavailable_reason = None
        row.account.unavailable_since = None
    step.status = StepStatus.DRAFTED
    step.provider_draft_id = ref.draft_id
    step.provider_thread_id = ref.thread_id
    step.message_id = ref.message_id
    step.fingerprint = message_fingerprint(message)
    step.drafted_at = now
    step.updated_at = now
    if step.kind in ("first_outreach", "resend") or row.root_message_id is None:
        row.root_message_id = row.root_message_id or ref.message_id
        row.subject = row.subject or str(message["Subject"])
        row.thread_id = row.thread_id or ref.thread_id
    drafted = lc.DraftCreated(at=now, kind=lc.StepKind(step.kind), seq=step.seq)
    observe(session, row, drafted, now, app.policy, flush=False)  # the batch's commit writes
    return DraftOutcome(key, "created", ref.draft_id)


@dataclass(frozen=True)
class Gathered:
    """What rendering a claimed step's message needs, read in the claiming transaction."""

    template: str
    context: dict[str, Any]
    envelope: Envelope
    thread: ThreadRef | None
    account: AccountSettings
    account_unavailable: bool  # the account was marked unusable: a draft clears that


@dataclass(frozen=True)
class Refusal:
    """Why a claimed step must not be drafted, and the status it takes for that."""

    status: StepStatus
    why: str


@dataclass(frozen=True)
class _Facts:
    """What the claimed steps' messages need besides their rows, read for the whole
    batch in one query each (not three queries per draft)."""

    addressees: dict[int, tuple[Contact, str]]  # step id -> who it writes to, and where
    suppressed: set[str]  # those addresses that asked not to be written to
    notes: dict[int, str]  # contact id -> the notes on them
    meetings: dict[int, Meeting]  # outreach id -> its latest meeting

    @classmethod
    def read(cls, session: Session, steps: Sequence[Step]) -> _Facts:
        addressees = {step.id: addressee(session, step.outreach, step.kind) for step in steps}
        addresses = {address for _, address in addressees.values()}
        suppressed = (
            set(session.scalars(select(Suppression.email).where(Suppression.email.in_(addresses))))
            if addresses
            else set()
        )
        return cls(
            addressees=addressees,
            suppressed=suppressed,
            notes=notes_of(session, {step.outreach.contact_id for step in steps}),
            meetings=latest_meetings(session, {step.outreach_id for step in steps}),
        )


def _gather(
    session: Session, app: App, step: Step, facts: _Facts, templates: TemplateSet, now: datetime
) -> Gathered | Refusal:
    """Read what the claimed step's message needs, or say why it must not be drafted."""
    row = step.outreach
    person, address = facts.addressees[step.id]
    name = person.name
    if address in facts.suppressed:
        return Refusal(StepStatus.CANCELLED, "the address is suppressed")
    kind = template_for(step.kind, step.seq, row.template)
    context = step_context(
        session,
        app.settings,
        row,
        step,
        notes=facts.notes.get(row.contact_id),
        meeting=facts.meetings.get(row.id),
    )
    missing = templates.missing_fields(kind, context)
    if missing:
        return Refusal(
            StepStatus.FAILED,
            f"template {kind} needs {', '.join(missing)} for {row.contact.name or address}; "
            + missing_field_advice(missing, _quoted_ref(row.contact, row.contact_id)),
        )
    references: tuple[str, ...] = ()
    in_reply_to = None
    if step.in_thread and row.root_message_id:
        in_reply_to = row.root_message_id
        references = (row.root_message_id,)
        if step.kind in ANSWERS:  # to what they wrote, not to our first message
            theirs = _their_last_message_id(session, row.id)
            # (a stored digest stands for an id too long to store: not one to cite)
            if theirs is not None and theirs.startswith("<") and theirs != in_reply_to:
                in_reply_to, references = theirs, (row.root_message_id, theirs)
    envelope = Envelope(
        sender=(app.settings.profile["name"], row.account.address),
        to=(name, address),
        key=step.key,
        date=now,
        in_reply_to=in_reply_to,
        references=references,
        secret=row.account.message_id_secret,
    )
    thread = (
        ThreadRef(
            row.thread_id,
            in_reply_to,
            references,
            reply_to_id=_provider_id_of(session, row.account_id, in_reply_to),
        )
        if step.in_thread and (row.thread_id or in_reply_to)
        else None
    )
    return Gathered(
        template=kind,
        context=context,
        envelope=envelope,
        thread=thread,
        account=app.settings.account(row.account.name),
        account_unavailable=row.account.unavailable_reason is not None,
    )


def _refuse(session: Session, step: Step, refusal: Refusal, now: datetime) -> DraftOutcome:
    """Record, in the claiming transaction, why the claimed step is not drafted."""
    step.status, step.last_error, step.updated_at = refusal.status, refusal.why, now
    if refusal.status == StepStatus.FAILED:
        log.warning("step %s not drafted: %s", step.key, refusal.why)
    return DraftOutcome(step.key, refusal.status, refusal.why)


def _quoted_ref(contact: Contact, contact_id: int) -> str:
    """How the person names a contact on the command line: by name when it has one."""
    return f'"{contact.name}"' if contact.name else str(contact_id)


ANSWERS = ("scheduling_reply", "thanks_anyway")
"""Steps that answer the contact's last message rather than follow up our own."""


def _provider_id_of(session: Session, account_id: int, message_id: str | None) -> str | None:
    """The provider's id of the message a reply answers (ours sent, or theirs received),
    when the mailbox reported it: Graph makes a reply in its conversation from it."""
    if not message_id:
        return None
    return session.scalar(
        select(MessageSeen.provider_id)
        .where(MessageSeen.account_id == account_id, MessageSeen.message_id == message_id)
        .order_by(MessageSeen.id.desc())
        .limit(1)
    )


def _their_last_message_id(session: Session, outreach_id: int) -> str | None:
    """The Message-ID of the contact's latest reply in this outreach, if one is known."""
    return session.scalar(
        select(MessageSeen.message_id)
        .where(
            MessageSeen.outreach_id == outreach_id,
            MessageSeen.kind == "human_reply",
            MessageSeen.message_id.is_not(None),
        )
        .order_by(MessageSeen.at.desc(), MessageSeen.id.desc())
        .limit(1)
    )


def _fail(step: Step, detail: str, now: datetime) -> DraftOutcome:
    """The claimed step failed for good (unless something else became of it meanwhile)."""
    if step.status in (*OPEN_STATUSES, StepStatus.DRAFTING):
        step.status, step.last_error, step.updated_at = StepStatus.FAILED, detail, now
    log.warning("step %s not drafted: %s", step.key, detail)
    return DraftOutcome(step.key, StepStatus.FAILED, detail)


def discard_step(app: App, step_id: int) -> str:
    """Take back the draft of a step that became moot (its status is ``withdrawing``)."""
    with app.store.read() as session:
        step = _load_steps(session, [step_id]).get(step_id)
        if step is None or step.status != StepStatus.WITHDRAWING:
            return "nothing to do"
        account = app.settings.account(step.outreach.account.name)
        key = step.key
    removed = app.mailbox(account).discard_draft(key)  # idempotent; no transaction open
    now = app.now()
    lease = timedelta(seconds=app.settings.limits["step_lease_seconds"])
    with app.store.write() as session:
        step = session.get(Step, step_id)
        assert step is not None
        if step.status != StepStatus.WITHDRAWING:
            return "nothing to do"
        if not removed and step.provider_draft_id is None and now - step.updated_at < lease:
            # Cancelled while a worker was making it: its draft may not exist yet. Stay
            # withdrawing; a later sweep takes it back (or, after the lease, gives up).
            return "waiting for the draft being made"
        step.status, step.updated_at, step.done_at = StepStatus.WITHDRAWN, now, now
    return "withdrawn" if removed else "already gone"


def prep_meeting(app: App, meeting_id: int, templates: TemplateSet | None = None) -> str:
    """Write (or move, or remove) the prep-notes event of one meeting; idempotent by key."""
    templates = templates or app.templates
    now = app.now()
    with app.store.read() as session:
        meeting = session.get(Meeting, meeting_id)
        if meeting is None or meeting.prep_key is None:
            return "gone"
        account_row = session.get(Account, meeting.account_id)
        assert account_row is not None
        account = app.settings.account(account_row.name)
        key = meeting.prep_key
        if meeting.status != "booked":
            event = None
        else:
            row = session.get(OutreachRow, meeting.outreach_id) if meeting.outreach_id else None
            if row is None:
                return "no outreach"
            context = {
                "me": me_context(app.settings),
                "contact": contact_context(row.contact, row.email),
                "meeting": meeting_context(meeting, app.settings.timezone),
                "stage": row.stage,
            }
            notes = notes_text(session, row.contact_id)
            if notes:
                context["notes"] = notes
            try:
                description = templates.render_text("prep_notes", context)
            except TemplateError as err:
                raise PermanentError(str(err)) from err
            lead = timedelta(minutes=app.policy.prep_notes_lead_minutes)
            event = CalendarEvent(
                uid=f"prep-{meeting.uid}",
                summary=f"Prep: conversation with {row.contact.name or row.email}",
                start=meeting.start - lead,
                end=meeting.start,
                organizer=None,
                attendees=(),
                description=description,
                key=key,
            )
        seen = (meeting.start, meeting.end, meeting.status)
    calendar = app.calendar(account)
    if event is None:
        calendar.delete_event(key)
        outcome = "removed"
        event_id = None
    else:
        event_id = calendar.put_event(event, key)
        outcome = "written"
    with app.store.write() as session:
        meeting = session.get(Meeting, meeting_id)
        assert meeting is not None
        meeting.prep_event_id = event_id
        if (meeting.start, meeting.end, meeting.status) == seen and meeting.prep_at is None:
            meeting.prep_at = now
        # else it moved (or was cancelled) while we wrote: prep_at stays empty, so the
        # next sweep writes the notes again for the new time.
    return outcome
