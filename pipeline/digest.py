"""The daily digest: what needs the person today, built from the store.

Delivered once per account and day (unless forced) to stdout, a file, or the person's
own inbox: the one message the pipeline delivers without a draft, and only to them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from pipeline.app import App
from pipeline.bounds import storable_id
from pipeline.coach import PARTS_IN_WORDS
from pipeline.compose import Envelope
from pipeline.context import contact_context, me_context
from pipeline.errors import InputError
from pipeline.models import Account, Digest, Meeting, MessageSeen, Step
from pipeline.models import Outreach as OutreachRow
from pipeline.outreach import addressee
from pipeline.quickread import session_query
from pipeline.settings import AccountSettings
from pipeline.status import FAILED_STEP_FIX, FUNNEL_ORDER, STEP_LABELS, skipped_inputs
from pipeline.steps import OPEN_STATUSES, StepStatus
from pipeline.tick import TICK_LOCK


def _contact(row: OutreachRow) -> dict[str, Any]:
    return contact_context(row.contact, row.email)


def _addressee(session: Session, row: OutreachRow, kind: str) -> dict[str, Any]:
    """Whom a step writes to, for the digest (the referrer, for the note back to them)."""
    return contact_context(*addressee(session, row, kind))


WEB_MAIL = {
    "gmail": {
        "drafts": "https://mail.google.com/mail/u/0/#drafts",
        "inbox": "https://mail.google.com/mail/u/0/#inbox",
    },
    "outlook": {
        "drafts": "https://outlook.office.com/mail/drafts",
        "inbox": "https://outlook.office.com/mail/inbox",
    },
}


def action_links(app: App, account: AccountSettings | None) -> dict[str, str]:
    """Where the person acts on the digest's items: their provider's Drafts and inbox on
    the web, or the local Maildir's folders."""
    if account is None:
        return {}
    if account.kind in WEB_MAIL:
        return dict(WEB_MAIL[account.kind])
    if account.kind == "local":
        from pipeline.connect import local_drafts_and_inbox

        drafts, inbox = local_drafts_and_inbox(account, app.settings.workspace)
        return {"drafts": drafts.as_uri(), "inbox": inbox.as_uri()}
    return {}


def command_parts(text: str) -> list[tuple[str, bool]]:
    """``text`` cut at its backticks: (piece, whether it is a command to type), so the HTML
    digest sets commands in code type and the plain one keeps the backticks."""
    return [(piece, index % 2 == 1) for index, piece in enumerate(text.split("`")) if piece]


def funnel_bars(funnel: dict[str, int]) -> list[dict[str, Any]]:
    """The funnel as bars for the HTML digest: each stage's share of the largest."""
    top = max(funnel.values(), default=0)
    return [
        {
            "stage": stage,
            "label": stage.replace("_", " "),
            "count": count,
            "percent": max(2, round(100 * count / top)) if top else 0,
        }
        for stage, count in funnel.items()
    ]


def digest_context(
    session: Session,
    app: App,
    day: date,
    now: datetime,
    account: AccountSettings | None = None,
) -> dict[str, Any]:
    """The digest template's context for ``day`` in the person's time zone."""
    zone = ZoneInfo(app.settings.timezone)
    day_start = datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
    day_end = day_start + timedelta(days=1)
    week_end = day_start + timedelta(days=7)
    rows = {
        row.id: row
        for row in session.scalars(
            select(OutreachRow).options(joinedload(OutreachRow.contact))
        ).unique()
    }
    drafts: list[dict[str, Any]] = []
    thank_yous: list[dict[str, Any]] = []
    for step in session.scalars(
        select(Step).where(Step.status == StepStatus.DRAFTED).order_by(Step.drafted_at)
    ):
        row = rows[step.outreach_id]
        since = step.drafted_at or step.updated_at
        drafts.append(
            {
                "contact": _addressee(session, row, step.kind),
                "kind": step.kind,
                "label": STEP_LABELS.get(step.kind, step.kind.replace("_", " ")),
                "created_at": since,
                "since_days": max((now - since).days, 0),
            }
        )
        if step.kind == "thank_you" and step.deadline:
            thank_yous.append({"contact": _contact(row), "deadline": step.deadline})
    for step in session.scalars(
        select(Step).where(Step.kind == "thank_you", Step.status.in_(OPEN_STATUSES))
    ):
        if step.deadline:
            thank_yous.append(
                {"contact": _contact(rows[step.outreach_id]), "deadline": step.deadline}
            )
    failed = [
        {
            "contact": _addressee(session, rows[step.outreach_id], step.kind),
            "label": STEP_LABELS.get(step.kind, step.kind.replace("_", " ")),
            "error": step.last_error or "",
        }
        for step in session.scalars(
            select(Step).where(Step.status == StepStatus.FAILED).order_by(Step.updated_at)
        )
    ]
    replies = []
    for row in rows.values():
        if row.stage != "replied":
            continue
        last = session.scalar(
            select(MessageSeen)
            .where(MessageSeen.outreach_id == row.id, MessageSeen.kind == "human_reply")
            .order_by(MessageSeen.at.desc())
            .limit(1)
        )
        entry: dict[str, Any] = {"contact": _contact(row)}
        if last is not None:
            entry["received_at"] = last.at
            if last.intent:
                entry["intent"] = last.intent
            if last.facts.get("excerpt"):
                entry["excerpt"] = last.facts["excerpt"]
        replies.append(entry)
    meetings_today: list[dict[str, Any]] = []
    meetings_week: list[dict[str, Any]] = []
    for meeting in session.scalars(
        select(Meeting)
        .where(Meeting.status == "booked", Meeting.start < week_end, Meeting.end > day_start)
        .order_by(Meeting.start)
    ):
        owner = rows.get(meeting.outreach_id) if meeting.outreach_id else None
        if owner is None:
            continue
        item = {
            "contact": _contact(owner),
            "start": meeting.start,
            "end": meeting.end,
            "prep_notes": bool(meeting.prep_event_id),
        }
        (meetings_today if meeting.start < day_end else meetings_week).append(item)
    bounces = [
        {"contact": _contact(row), "email": row.email}
        for row in rows.values()
        if row.stage == "bounced"
    ]
    returning = []
    for row in rows.values():
        until = row.state.get("paused_until")
        if row.stage == "paused_ooo" and until:
            back = date.fromisoformat(until)
            if back <= day + timedelta(days=7):
                returning.append({"contact": _contact(row), "return_date": back})
    counts: dict[str, int] = {}
    for row in rows.values():
        counts[row.stage] = counts.get(row.stage, 0) + 1
    funnel = {stage: counts[stage] for stage in FUNNEL_ORDER if counts.get(stage)}
    needing_auth = [
        a.name for a in session.scalars(select(Account).where(Account.needs_reauth.is_(True)))
    ]
    return {
        "me": me_context(app.settings),
        "day": day,
        "drafts": drafts,
        "failed": failed,
        "failed_fix": FAILED_STEP_FIX,
        "failed_fix_parts": command_parts(FAILED_STEP_FIX),
        "replies": replies,
        "meetings_today": meetings_today,
        "meetings_week": meetings_week,
        "thank_yous": sorted(thank_yous, key=lambda t: t["deadline"]),
        "bounces": bounces,
        "returning": returning,
        "funnel": funnel,
        "funnel_bars": funnel_bars(funnel),
        "links": action_links(app, account),
        "accounts_needing_auth": needing_auth,
        "accounts_unavailable": [
            {"name": a.name, "reason": a.unavailable_reason}
            for a in session.scalars(select(Account).where(Account.unavailable_reason.is_not(None)))
        ],
        "skipped": skipped_inputs(session_query(session), since=day_start - timedelta(days=1)),
        "coaching": _coaching(session, rows, day_start - timedelta(days=1), day_start),
    }


def _coaching(
    session: Session, rows: dict[int, OutreachRow], since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """First messages the person sent the day before that lost one of the parts that get
    a yes: each is mentioned once, in the next morning's digest."""
    sent = session.scalars(
        select(MessageSeen).where(
            MessageSeen.kind == "sent",
            MessageSeen.at >= since,
            MessageSeen.at < until,
            MessageSeen.outreach_id.is_not(None),
        )
    )
    return [
        {
            "contact": _contact(rows[seen.outreach_id]),
            "missing": [
                PARTS_IN_WORDS[part] for part in seen.facts["coach"] if part in PARTS_IN_WORDS
            ],
        }
        for seen in sent
        if seen.facts.get("coach") and seen.outreach_id in rows
    ]


@dataclass(frozen=True)
class DigestResult:
    day: date
    destination: str
    delivered: bool
    message: EmailMessage
    reason: str = ""


def build_digest(
    app: App, account_name: str, day: date, *, again: datetime | None = None
) -> EmailMessage:
    """The digest of ``day``. Its Message-ID is the same for every attempt at the day's
    delivery (a retry finds the first if it landed); a delivery forced ``again`` at a
    moment is another message, with an id of its own."""
    templates = app.templates
    now = app.now()
    account = app.settings.account(account_name)
    with app.store.read() as session:
        context = digest_context(session, app, day, now, account)
        secret = session.scalars(
            select(Account.message_id_secret).where(Account.name == account.name)
        ).one()
    envelope = Envelope(
        sender=(f"{app.settings.profile['name'] or 'You'} (outreach digest)", account.address),
        to=(app.settings.profile["name"], account.address),
        key=f"{account.name}/digest/{day.isoformat()}"
        + (f"/again/{again.astimezone(UTC):%Y%m%dT%H%M%S}" if again else ""),
        date=now,
        secret=secret,
    )
    return templates.render_digest(context, envelope)


def today(app: App) -> date:
    return app.now().astimezone(ZoneInfo(app.settings.timezone)).date()


def _destination_key(destination: str) -> str:
    """How a destination is recorded: "inbox", or the file's absolute path (a digest
    saved as ./d.eml and as its full path is one destination)."""
    if destination == "inbox":
        return destination
    path = str(Path(destination).expanduser().absolute())
    return storable_id(path, 300) or path


def deliver_digest(
    app: App, account_name: str, day: date, *, destination: str, force: bool
) -> DigestResult:
    """Build the digest and deliver it once per account, day and destination (unless
    ``force``).

    ``destination`` is "stdout" (the caller prints it), "inbox" or a file path.
    """
    account = app.settings.account(account_name)
    if destination == "stdout":  # a look, not a delivery: never counted
        message = build_digest(app, account.name, day)
        return DigestResult(day, destination, False, message, "shown, not delivered")
    # A tick still making the morning's drafts is waited for (its lock, for at most
    # TICK_WAIT), so that they are in Drafts, and in the digest, when it arrives.
    with app.store.exclusive(TICK_LOCK, wait=TICK_WAIT):
        return _deliver(app, account, day, destination=destination, force=force)


TICK_WAIT = 600.0
"""Seconds a digest delivery waits for a running tick before it goes out anyway."""


def _deliver(
    app: App, account: AccountSettings, day: date, *, destination: str, force: bool
) -> DigestResult:
    message = build_digest(app, account.name, day)
    where = _destination_key(destination)
    # One delivery at a time per account (cron and a hand-run command at once), so the
    # once-a-day check below cannot pass twice.
    with app.store.exclusive(f"digest-{account.name}") as alone:
        if not alone:
            return DigestResult(
                day, destination, False, message, "another digest delivery is running right now"
            )
        with app.store.read() as session:
            account_id = session.scalars(
                select(Account.id).where(Account.name == account.name)
            ).one()
            done = session.get(Digest, (account_id, day, where))
        # Once a day per destination: a copy saved to a file does not stop the inbox's.
        if done is not None and not force:
            return DigestResult(
                day,
                destination,
                False,
                message,
                f"already delivered at {done.delivered_at:%H:%M} UTC to "
                f"{destination}; use --force to deliver it again",
            )
        if done is not None:  # forced: another message, not a retry of the first
            message = build_digest(app, account.name, day, again=app.now())
        if destination == "inbox":
            app.mailbox(account).deliver_to_self(message)
        else:
            path = Path(destination).expanduser()
            if path.is_dir():
                raise InputError(f"--to {destination}: is a directory; give a file name")
            if not path.parent.is_dir():
                raise InputError(
                    f"--to {destination}: the folder {path.parent} does not exist; create it "
                    "or give another path"
                )
            temporary = path.with_name(path.name + ".tmp")
            try:
                temporary.write_bytes(bytes(message))
                temporary.replace(path)
            except OSError as err:
                with contextlib.suppress(OSError):
                    temporary.unlink()
                raise InputError(f"--to {destination}: cannot write it: {err.strerror}") from None
        with app.store.write() as session:
            row = session.get(Digest, (account_id, day, where))
            if row is None:
                session.add(
                    Digest(
                        account_id=account_id, day=day, destination=where, delivered_at=app.now()
                    )
                )
            else:
                row.delivered_at = app.now()
        return DigestResult(day, destination, True, message)
