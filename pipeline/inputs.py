"""One bad input never stops the work of others.

Each message and calendar event of a sync is applied in a savepoint of the batch's
transaction (:func:`one_input`). When handling one fails for a reason of its own (a value
the database refuses, a date past what Python can count, a bug met by one odd message),
its savepoint is undone, the reason is kept in ``skipped_inputs`` (shown by `outreach
status`, the digest and `outreach deadletters list`), and the batch goes on: the cursor
moves past it and every other contact's mail is read. Failures that are not the input's
(the database gone or locked, a provider to retry) still stop the batch, which the next
tick redoes whole.

Before that, what comes from outside is made storable by the rules of pipeline.bounds,
so that most odd inputs are handled, not skipped: an over-long Message-ID becomes a
stable digest and the reply that carries it is still read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, StatementError
from sqlalchemy.orm import Session

from connectors.base import EventChange, MailChange
from pipeline.bounds import ID_LENGTH, plausible_date, plausible_time, storable_id, storable_text
from pipeline.errors import OutreachError
from pipeline.inbound import Inbound, Referral
from pipeline.models import Account, SkippedInput

log = logging.getLogger(__name__)

THREAD_LENGTH = 300
KEY_LENGTH = 300
NAME_LENGTH = 200
EMAIL_LENGTH = 320
REASON_LENGTH = 300

# Failures that are not the input's own: the batch stops and the next tick redoes it.
NOT_THE_INPUTS = (OperationalError, InterfaceError, OutreachError, MemoryError)


class Counts(Protocol):
    unreadable: int


def describe(err: BaseException) -> str:
    """A short reason for ``err``: its kind and first line, without the SQL statement or
    the parameters that SQLAlchemy appends (they may quote the person's mail)."""
    inner = err.orig if isinstance(err, DBAPIError | StatementError) and err.orig else err
    first = (str(inner).strip().splitlines() or [""])[0]
    text = f"{type(inner).__name__}: {first}" if first else type(inner).__name__
    return storable_text(text, REASON_LENGTH) or type(inner).__name__


def record_skipped(
    session: Session, account: Account, stream: str, ref: str, reason: str | None, now: datetime
) -> None:
    """Keep (once) that ``ref`` of ``stream`` ("mail", "calendar") was skipped, and why."""
    ref = storable_id(ref) or "?"
    exists = session.scalar(
        select(SkippedInput.id).where(
            SkippedInput.account_id == account.id,
            SkippedInput.stream == stream,
            SkippedInput.ref == ref,
        )
    )
    if exists is not None:
        return
    session.add(
        SkippedInput(
            account_id=account.id,
            stream=stream,
            ref=ref,
            reason=storable_text(reason or "unreadable", REASON_LENGTH) or "unreadable",
            at=now,
        )
    )
    session.flush()


@contextmanager
def one_input(
    session: Session, account: Account, stream: str, ref: str, now: datetime, report: Counts
) -> Iterator[None]:
    """Apply one input in a savepoint; on a failure of its own, undo it, record it as
    skipped with the reason, count it in ``report.unreadable``, and carry on."""
    savepoint = session.begin_nested()
    try:
        yield
        session.flush()
    except NOT_THE_INPUTS:
        savepoint.rollback()
        raise
    except Exception as err:  # one input's failure, whatever it is, is that input's only
        savepoint.rollback()
        reason = describe(err)
        log.warning("skipped %s item %s: %s", stream, storable_id(ref, 80), reason)
        record_skipped(session, account, stream, ref, reason, now)
        report.unreadable += 1
    else:
        savepoint.commit()


def _ids(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v for v in (storable_id(value) for value in values) if v)


def _address(value: str | None) -> str | None:
    """An address to look up or store; None when no column could hold it."""
    if value is None or "\x00" in value or len(value) > EMAIL_LENGTH:
        return None
    return value


def storable_change(change: MailChange) -> MailChange:
    """``change`` with every identifier in a form both databases store and compare."""
    return replace(
        change,
        provider_id=storable_id(change.provider_id) or change.provider_id,
        message_id=storable_id(change.message_id),
        thread_id=storable_id(change.thread_id, THREAD_LENGTH),
        in_reply_to=storable_id(change.in_reply_to),
        references=_ids(change.references),
        key=storable_id(change.key, KEY_LENGTH),
        at=plausible_time(change.at),
        reason=storable_text(change.reason, REASON_LENGTH),
    )


def storable_event_change(change: EventChange) -> EventChange:
    """``change`` with its UIDs in a storable form (the same long UID maps to the same
    stored one, so a later move or cancellation still finds its meeting)."""
    event = change.event
    if event is not None:
        event = replace(
            event,
            uid=storable_id(event.uid) or event.uid,
            summary=storable_text(event.summary) or "",
            description=storable_text(event.description) or "",
            location=storable_text(event.location),
        )
    return replace(
        change,
        uid=storable_id(change.uid) or change.uid,
        event=event,
        reason=storable_text(change.reason, REASON_LENGTH),
    )


def storable_inbound(result: Inbound) -> Inbound:
    """What was understood of a message, in a form both databases store and compare:
    identifiers digested when too long, NULs dropped from text, addresses that no column
    could hold left out, names cut to their column."""
    referrals = tuple(
        Referral(name=storable_text(r.name, NAME_LENGTH), email=r.email)
        for r in result.referrals
        if _address(r.email)
    )
    bounce = result.bounce
    if bounce is not None:
        bounce = replace(
            bounce,
            recipients=tuple(a for a in bounce.recipients if _address(a)),
            original_message_id=storable_id(bounce.original_message_id),
        )
    meeting = result.meeting
    if meeting is not None:
        meeting = replace(
            meeting,
            uid=storable_id(meeting.uid, ID_LENGTH) or "",
            organizer=_address(meeting.organizer),
            attendees=tuple(a for a in meeting.attendees if _address(a.email)),
            summary=storable_text(meeting.summary),
            location=storable_text(meeting.location),
        )
    return replace(
        result,
        reason=storable_text(result.reason, REASON_LENGTH) or "",
        reply_text=storable_text(result.reply_text),
        subject=storable_text(result.subject) or "",
        from_address=_address(result.from_address),
        from_name=storable_text(result.from_name, NAME_LENGTH),
        message_id=storable_id(result.message_id),
        in_reply_to=storable_id(result.in_reply_to),
        references=_ids(result.references),
        referrals=referrals,
        bounce=bounce,
        meeting=meeting,
        date=plausible_time(result.date),
        return_date=plausible_date(result.return_date),
    )
