"""Syncing an account: mailbox and calendar changes become lifecycle observations.

The connector is asked for changes and raw messages outside any transaction; what is
made of them (messages seen, observations, the lifecycle's decisions) is stored one batch
per transaction, the new cursor with the last batch, so a crash keeps whole batches only
and the next sync re-reads the same changes from the old cursor, skipping the messages
already recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import CalendarEvent, EventChange, EventChangeKind, MailChange, MailChangeKind
from pipeline import lifecycle as lc
from pipeline.app import App
from pipeline.bounds import out_of_range, storable_id, time_problem
from pipeline.coach import coach_sent
from pipeline.inbound import Inbound, understand
from pipeline.inbound.calendar import meeting_place
from pipeline.inputs import (
    NOT_THE_INPUTS,
    one_input,
    record_skipped,
    storable_change,
    storable_event_change,
    storable_inbound,
)
from pipeline.likeness import raw_fingerprint
from pipeline.models import Account, Meeting, MessageSeen, Step, SyncCursor
from pipeline.models import Outreach as OutreachRow
from pipeline.outreach import observe
from pipeline.sentmatch import needs_likeness, sent_step, step_by_key
from pipeline.settings import AccountSettings
from pipeline.steps import OPEN_STATUSES, StepStatus

log = logging.getLogger(__name__)

# Outreaches no time-based rule can move any more (a decline waits only for its thanks).


@dataclass
class SyncReport:
    """Counts of what one sync saw and did."""

    inbound: int = 0
    sent: int = 0
    deleted: int = 0
    matched: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    meetings: int = 0
    events: int = 0
    unreadable: int = 0

    def add_kind(self, kind: str) -> None:
        self.kinds[kind] = self.kinds.get(kind, 0) + 1


def _stored_cursor(app: App, account: AccountSettings, stream: str) -> tuple[int, str | None]:
    """The account's id and the cursor stored for its ``stream`` ("mail" or "calendar")."""
    with app.store.read() as session:
        account_id = session.scalars(select(Account.id).where(Account.name == account.name)).one()
        row = session.get(SyncCursor, (account_id, stream))
        return account_id, row.cursor if row else None


def _save_cursor(
    session: Session, account_id: int, stream: str, cursor: str, now: datetime
) -> None:
    row = session.get(SyncCursor, (account_id, stream))
    if row is None:
        session.add(SyncCursor(account_id=account_id, stream=stream, cursor=cursor, updated_at=now))
    else:
        row.cursor, row.updated_at = cursor, now


INBOUND_BATCH = 100


def sync_mailbox(app: App, account: AccountSettings) -> SyncReport:
    """Read the mailbox's changes since the stored cursor and act on them.

    Changes are applied in batches of INBOUND_BATCH (raw messages fetched and understood
    outside any transaction, then one transaction per batch), so memory stays bounded
    however much mail arrived. The new cursor is stored with the last batch; if a batch
    fails, the next sync reads the same changes again and skips the messages already
    recorded (messages are unique per account and provider id).
    """
    account_id, cursor = _stored_cursor(app, account, "mail")
    changes, new_cursor = app.mailbox(account).changes(cursor)
    now = app.now()
    report = SyncReport()
    if not changes and new_cursor == cursor:
        return report  # idle: no write at all
    own = [a for a in (account.address, app.settings.profile.get("email", "")) if a]
    batches = [changes[i : i + INBOUND_BATCH] for i in range(0, len(changes), INBOUND_BATCH)]
    for number, batch in enumerate(batches or [[]], start=1):
        apply_mail_batch(
            app,
            account,
            account_id,
            batch,
            own,
            now,
            report,
            cursor=new_cursor if number == max(len(batches), 1) else None,
        )
    return report


def apply_mail_batch(
    app: App,
    account: AccountSettings,
    account_id: int,
    batch: list[MailChange],
    own_addresses: list[str],
    now: datetime,
    report: SyncReport,
    *,
    cursor: str | None = None,
) -> None:
    """Understand and apply one batch of mail changes in one transaction (with the new
    cursor when given)."""
    inbound_ids = [c.provider_id for c in batch if c.kind is MailChangeKind.INBOUND]
    first_sent, ambiguous = _sent_needing_text(app, account_id, batch, now)
    wanted = list(dict.fromkeys([*inbound_ids, *first_sent, *ambiguous]))
    raw = app.mailbox(account).fetch_raw(wanted) if wanted else {}
    understood = {
        pid: storable_inbound(understand(body, own_addresses=own_addresses, received_at=None))
        for pid, body in raw.items()
        if pid in inbound_ids
    }
    coached = {
        pid: coach_sent(body, mutual_contact=first_sent[pid])
        for pid, body in raw.items()
        if pid in first_sent
    }
    fingerprints = {pid: _fingerprint(body) for pid, body in raw.items() if pid in ambiguous}
    del raw
    with app.store.write() as session:
        account_row = session.get(Account, account_id)
        assert account_row is not None
        for original in batch:
            change = storable_change(original)
            with one_input(session, account_row, "mail", change.provider_id, now, report):
                if change.kind is MailChangeKind.INBOUND:
                    result = understood.get(original.provider_id)
                    if result is not None:
                        _apply_inbound(app, session, account_row, change, result, now, report)
                elif change.kind is MailChangeKind.SENT:
                    coach = coached.get(original.provider_id)
                    wording = fingerprints.get(original.provider_id)
                    _apply_sent(app, session, account_row, change, now, report, coach, wording)
                elif change.kind is MailChangeKind.DRAFT_DELETED:
                    _apply_deleted(app, session, account_row, change, now, report)
                else:
                    report.unreadable += 1
                    record_skipped(
                        session, account_row, "mail", change.provider_id, change.reason, now
                    )
        if cursor is not None:
            _save_cursor(session, account_id, "mail", cursor, now)


def _seen(session: Session, account_id: int, provider_id: str) -> bool:
    return (
        session.scalar(
            select(MessageSeen.id).where(
                MessageSeen.account_id == account_id, MessageSeen.provider_id == provider_id
            )
        )
        is not None
    )


def _sent_needing_text(
    app: App, account_id: int, batch: list[MailChange], now: datetime
) -> tuple[dict[str, str | None], set[str]]:
    """The sent messages of ``batch`` whose text is needed (fetched outside any
    transaction, like inbound mail): first outreach, with the name of the person who
    suggested the contact (if any), for the coach; and those that only their wording can
    match to a step (several steps written to the same person)."""
    sent = [c for c in batch if c.kind is MailChangeKind.SENT]
    if not sent:
        return {}, set()
    first: dict[str, str | None] = {}
    ambiguous: set[str] = set()
    with app.store.read() as session:
        account = session.get(Account, account_id)
        assert account is not None
        for original in sent:
            change = storable_change(original)
            try:
                if needs_likeness(session, account, change, change.at or now):
                    ambiguous.add(original.provider_id)
                step = sent_step(session, account, change, change.at or now)
            except NOT_THE_INPUTS:
                raise
            except Exception:  # matching is tried again in the batch: this only looks ahead
                log.debug("no look-ahead for %s", storable_id(change.provider_id, 80))
                continue
            if (
                step is not None
                and step.kind == "first_outreach"
                and step.status != StepStatus.SENT
            ):
                contact = step.outreach.contact
                first[original.provider_id] = contact.referred_by or None
    return first, ambiguous


def _fingerprint(raw: bytes) -> list[int] | None:
    try:
        return raw_fingerprint(raw)
    except Exception:  # an unreadable copy: matched without its wording
        return None


def _apply_sent(
    app: App,
    session: Session,
    account: Account,
    change: MailChange,
    now: datetime,
    report: SyncReport,
    coach: list[str] | None = None,
    wording: list[int] | None = None,
) -> None:
    if _seen(session, account.id, change.provider_id):
        return
    report.sent += 1
    step = sent_step(session, account, change, change.at or now, wording)
    outreach_id = step.outreach_id if step else _outreach_by_thread(session, account, change)
    session.add(
        MessageSeen(
            account_id=account.id,
            provider_id=change.provider_id,
            message_id=change.message_id,
            in_reply_to=change.in_reply_to,
            direction="out",
            kind="sent",
            outreach_id=outreach_id,
            at=change.at or now,
            facts={
                **({"key": change.key} if change.key else {}),
                **({"coach": coach} if coach else {}),
            },
        )
    )
    if step is None or step.status in (StepStatus.SENT, StepStatus.CANCELLED):
        return
    # A step recorded as deleted is revived: its draft was edited, scheduled or synced
    # late, and sent after all.
    step.status = StepStatus.SENT
    step.done_at = change.at or now
    step.updated_at = now
    row = step.outreach
    if step.kind in ("first_outreach", "resend"):
        row.root_message_id = change.message_id or row.root_message_id
        row.thread_id = change.thread_id or row.thread_id
    observe(
        session,
        row,
        lc.MessageSent(at=change.at or now, kind=lc.StepKind(step.kind), seq=step.seq),
        now,
        app.policy,
    )
    report.matched += 1


def _apply_deleted(
    app: App,
    session: Session,
    account: Account,
    change: MailChange,
    now: datetime,
    report: SyncReport,
) -> None:
    step = step_by_key(session, change)
    # Any step not finished yet: a worker may have made the draft and died before
    # recording it; the person deleting that draft still means "not this one".
    if step is None or step.status not in (*OPEN_STATUSES, StepStatus.DRAFTING, StepStatus.DRAFTED):
        return
    report.deleted += 1
    step.status = StepStatus.DELETED
    step.done_at = change.at or now
    step.updated_at = now
    observe(
        session,
        step.outreach,
        lc.DraftDeleted(at=change.at or now, kind=lc.StepKind(step.kind), seq=step.seq),
        now,
        app.policy,
    )


def _outreach_by_thread(session: Session, account: Account, change: Any) -> int | None:
    ids = [i for i in (change.in_reply_to, *change.references) if i]
    if not ids:
        return None
    step_owner = session.scalar(select(Step.outreach_id).where(Step.message_id.in_(ids)).limit(1))
    if step_owner is not None:
        return int(step_owner)
    found = session.scalar(
        select(OutreachRow.id).where(
            OutreachRow.account_id == account.id, OutreachRow.root_message_id.in_(ids)
        )
    )
    return int(found) if found is not None else None


def _outreach_by_address(session: Session, account: Account, emails: Sequence[str]) -> int | None:
    wanted = [e.lower() for e in emails if e]
    if not wanted:
        return None
    found = session.scalar(
        select(OutreachRow.id)
        .where(OutreachRow.account_id == account.id, OutreachRow.email.in_(wanted))
        .order_by(OutreachRow.updated_at.desc())
        .limit(1)
    )
    return int(found) if found is not None else None


def _match_inbound(session: Session, account: Account, result: Inbound) -> int | None:
    by_thread = _outreach_by_thread(session, account, result)
    if by_thread is not None:
        return by_thread
    if result.bounce is not None:
        if result.bounce.original_message_id:
            owner = session.scalar(
                select(Step.outreach_id).where(Step.message_id == result.bounce.original_message_id)
            )
            if owner is not None:
                return int(owner)
        return _outreach_by_address(session, account, result.bounce.recipients)
    if result.meeting is not None:
        people = [a.email for a in result.meeting.attendees]
        if result.meeting.organizer:
            people.append(result.meeting.organizer)
        return _outreach_by_address(session, account, [p for p in people if p != account.address])
    return _outreach_by_address(session, account, [result.from_address or ""])


def observation_for(result: Inbound, at: datetime, known_uid: bool) -> lc.Observation | None:
    """The lifecycle observation an understood message amounts to, if any."""
    if result.kind == "human_reply":
        referrals = tuple((r.name or "", r.email) for r in result.referrals)
        return lc.HumanReply(at=at, intent=result.intent or "neutral", referrals=referrals)
    if result.kind == "auto_reply":
        return lc.AutoReply(at=at, return_date=result.return_date)
    if result.kind == "bounce" and result.bounce is not None:
        return lc.Bounced(at=at, hard=result.bounce.type == "hard")
    meeting = result.meeting
    if meeting is None:
        return None
    if result.kind == "meeting_cancel":
        return lc.MeetingCancelled(at=at, uid=meeting.uid)
    if result.kind == "meeting_invite" and meeting.start and meeting.end:
        if time_problem(meeting.start, meeting.end) is not None:
            return None  # not a conversation: _apply_inbound records why
        booked = lc.Meeting(uid=meeting.uid, start=meeting.start, end=meeting.end)
        if known_uid:
            return lc.MeetingMoved(at=at, meeting=booked)
        return lc.MeetingBooked(at=at, meeting=booked)
    return None


def _apply_inbound(
    app: App,
    session: Session,
    account: Account,
    change: MailChange,
    result: Inbound,
    now: datetime,
    report: SyncReport,
) -> None:
    if _seen(session, account.id, change.provider_id):
        return
    report.inbound += 1
    report.add_kind(result.kind)
    outreach_id = _match_inbound(session, account, result)
    at = change.at or result.date or now
    facts: dict[str, Any] = {"reason": result.reason}
    if result.return_date:
        facts["return_date"] = result.return_date.isoformat()
    if result.bounce is not None:
        facts["bounce"] = {"type": result.bounce.type, "recipients": list(result.bounce.recipients)}
    if result.reply_text:
        # An excerpt for the digest only: the first line, never the whole body.
        facts["excerpt"] = (
            result.reply_text.strip().splitlines()[0][:140] if result.reply_text.strip() else ""
        )
    session.add(
        MessageSeen(
            account_id=account.id,
            provider_id=change.provider_id,
            message_id=result.message_id or change.message_id,
            in_reply_to=result.in_reply_to,
            direction="in",
            kind=result.kind,
            intent=result.intent,
            outreach_id=outreach_id,
            at=at,
            facts=facts,
        )
    )
    if outreach_id is None:
        return
    row = session.get(OutreachRow, outreach_id)
    assert row is not None
    meeting = result.meeting
    if result.kind == "meeting_invite" and meeting is not None:
        problem = _invitation_problem(meeting.start, meeting.end)
        if problem is not None:
            report.unreadable += 1
            record_skipped(session, account, "mail", change.provider_id, problem, now)
    known_uid = meeting is not None and _meeting(session, account, meeting.uid)
    observation = observation_for(result, at, bool(known_uid))
    if observation is None:
        return
    report.matched += 1
    observe(session, row, observation, now, app.policy)
    if meeting is not None and meeting.location:
        stored = _meeting(session, account, meeting.uid)
        if stored is not None:
            stored.location = meeting.location


def _invitation_problem(start: datetime | None, end: datetime | None) -> str | None:
    """Why a contact's invitation cannot be acted on, worth telling the person: no time
    that can be read, or one out of any sensible range (a long event is just ignored)."""
    if start is None or end is None:
        return "invitation without a start and end that can be read"
    if out_of_range(start, end):
        return f"invitation {time_problem(start, end)}"
    return None


def _meeting(session: Session, account: Account, uid: str) -> Meeting | None:
    return session.scalar(
        select(Meeting).where(Meeting.account_id == account.id, Meeting.uid == uid)
    )


def sync_calendar(app: App, account: AccountSettings) -> SyncReport:
    """Read calendar changes: meetings with contacts booked, moved or cancelled."""
    account_id, cursor = _stored_cursor(app, account, "calendar")
    changes, new_cursor = app.calendar(account).changes(cursor)
    now = app.now()
    report = SyncReport()
    with app.store.write() as session:
        account_row = session.get(Account, account_id)
        assert account_row is not None
        for original in changes:
            report.events += 1
            change = storable_event_change(original)
            with one_input(session, account_row, "calendar", change.uid, now, report):
                if change.kind is EventChangeKind.UNREADABLE:
                    report.unreadable += 1
                    record_skipped(session, account_row, "calendar", change.uid, change.reason, now)
                else:
                    _apply_event(app, session, account_row, change, now, report)
        _save_cursor(session, account_id, "calendar", new_cursor, now)
    return report


def _apply_event(
    app: App,
    session: Session,
    account: Account,
    change: EventChange,
    now: datetime,
    report: SyncReport,
) -> None:
    event = change.event
    if event is not None and event.key:
        return  # our own prep notes
    if event is not None and time_problem(event.start, event.end) is not None:
        # Not a conversation (a provider that does not check its dates; a week-long
        # block): wild dates are worth telling the person, a long event is not.
        if out_of_range(event.start, event.end):
            problem = time_problem(event.start, event.end)
            report.unreadable += 1
            record_skipped(session, account, "calendar", change.uid, f"event {problem}", now)
        return
    known = _meeting(session, account, change.uid)
    if change.kind is EventChangeKind.DELETED or (
        event is not None and event.status == "cancelled"
    ):
        if known is not None and known.status == "booked" and known.outreach_id:
            row = session.get(OutreachRow, known.outreach_id)
            assert row is not None
            observe(session, row, lc.MeetingCancelled(at=now, uid=change.uid), now, app.policy)
            report.meetings += 1
        return
    assert event is not None
    outreach_id = known.outreach_id if known else _event_outreach(session, account, event)
    if outreach_id is None:
        return
    row = session.get(OutreachRow, outreach_id)
    assert row is not None
    meeting = lc.Meeting(uid=event.uid, start=event.start, end=event.end)
    if known is None:
        observation: lc.Observation = lc.MeetingBooked(at=now, meeting=meeting)
    elif (known.start, known.end) != (event.start, event.end) or known.status != "booked":
        observation = lc.MeetingMoved(at=now, meeting=meeting)
    else:
        return
    observe(session, row, observation, now, app.policy)
    stored = _meeting(session, account, event.uid)
    if stored is not None:
        stored.summary = event.summary
        stored.location = meeting_place(event.location, event.description)
    report.meetings += 1


def _event_outreach(session: Session, account: Account, event: CalendarEvent) -> int | None:
    people = [a.email for a in event.attendees]
    if event.organizer:
        people.append(event.organizer)
    others = [p.lower() for p in people if p and p.lower() != account.address]
    return _outreach_by_address(session, account, others)
