"""`outreach status`: the funnel by stage, and what waits on the person and on contacts.

Read with plain SQL (pipeline.quickread): on the embedded database, when opening the
workspace would change nothing, status reads the file without loading SQLAlchemy, and
starts about as fast as `outreach --help`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pipeline.contacts.records import full_name
from pipeline.quickread import Query, from_json, quick_sqlite, session_query, utc
from pipeline.settings import policy_from_settings
from pipeline.step_status import OPEN_STATUSES, StepStatus, writes_to_referrer

if TYPE_CHECKING:
    from pipeline.app import App
    from pipeline.settings import Settings

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
_EVER = datetime(1970, 1, 1, tzinfo=UTC)


def skipped_inputs(query: Query, since: datetime | None = None) -> list[dict[str, str]]:
    """Messages and calendar items skipped as unreadable (newest first), since ``since``
    when given: where they are, why, and when they were seen."""
    rows = query(
        "SELECT a.name, s.stream, s.ref, s.reason, s.at FROM skipped_inputs s "
        "JOIN accounts a ON a.id = s.account_id WHERE s.at >= :since "
        "ORDER BY s.at DESC, s.id DESC",
        since=since or _EVER,
    )
    return [
        {"account": account, "stream": stream, "item": ref, "reason": reason, "at": _iso(at)}
        for account, stream, ref, reason, at in rows
    ]


def current_status(settings: Settings, clock: Callable[[], datetime]) -> Status:
    """`outreach status` as of ``clock()``: read straight from the embedded database's
    file when opening the workspace would change nothing, else through the opened app."""
    with quick_sqlite(settings, policy_from_settings(settings)) as query:
        if query is not None:
            return build_status(query, clock())
    from pipeline.app import bootstrap

    app = bootstrap(settings, clock=clock)
    try:
        return read_status(app)
    finally:
        app.close()


def read_status(app: App) -> Status:
    """`outreach status`: what it shows, as of the app's clock."""
    with app.store.read() as session:
        return build_status(session_query(session), app.now())


def _iso(value: datetime | str | None) -> str:
    moment = utc(value)
    return moment.isoformat() if moment else ""


@dataclass(frozen=True)
class _Row:
    """An outreach as status shows it."""

    id: int
    stage: str
    email: str
    state: dict[str, Any]
    contact: str
    referrer: str | None
    referrer_email: str | None

    def addressee(self, kind: str) -> tuple[str, str]:
        """Whom a step of this outreach writes to: as pipeline.outreach.addressee says."""
        if writes_to_referrer(kind) and self.referrer is not None and self.referrer_email:
            return self.referrer, self.referrer_email
        return self.contact, self.email


_OUTREACHES = (
    "SELECT o.id, o.stage, o.email, o.state, c.first_name, c.last_name, "
    "r.first_name, r.last_name, "
    "(SELECT e.email FROM contact_emails e WHERE e.contact_id = r.id AND e.status = 'ok' "
    "ORDER BY e.position LIMIT 1) "
    "FROM outreaches o JOIN contacts c ON c.id = o.contact_id "
    "LEFT JOIN contacts r ON r.id = o.referrer_contact_id ORDER BY o.id"
)
_STEPS = (
    "SELECT id, outreach_id, kind, status, due_at, deadline, drafted_at, updated_at, "
    "last_error FROM steps WHERE status IN (:planned, :queued, :drafted, :failed) "
    "ORDER BY due_at, id"
)
_SHOWN_STEPS = (*OPEN_STATUSES, StepStatus.DRAFTED, StepStatus.FAILED)


def build_status(query: Query, now: datetime) -> Status:
    """Everything `outreach status` shows, read through ``query`` (in one transaction)."""
    status = Status()
    rows = [
        _Row(
            id=oid,
            stage=stage,
            email=email,
            state=from_json(state) or {},
            contact=full_name(first, last),
            referrer=full_name(r_first, r_last) if r_email else None,
            referrer_email=r_email,
        )
        for oid, stage, email, state, first, last, r_first, r_last, r_email in query(_OUTREACHES)
    ]
    counts = Counter(row.stage for row in rows)
    status.funnel = {stage: counts[stage] for stage in FUNNEL_ORDER if counts[stage]}
    by_id = {row.id: row for row in rows}
    steps = query(_STEPS, **{str(shown): str(shown) for shown in _SHOWN_STEPS})
    answering = {
        outreach for _, outreach, kind, *_ in steps if kind in ("scheduling_reply", "thanks_anyway")
    }
    for step_id, outreach_id, kind, step_status, due, deadline, drafted, updated, error in steps:
        row = by_id.get(outreach_id)
        if row is None:
            continue
        person, address = row.addressee(kind)
        what = STEP_LABELS.get(kind, kind)
        entry = {
            "contact": person,
            "email": address,
            "step": kind,
            "what": what,
            "due_at": _iso(due),
            "deadline": _iso(deadline) or None,
        }
        if step_status == StepStatus.DRAFTED:
            since = _iso(drafted or updated)
            status.waiting_on_you.append(
                {**entry, "why": "draft waiting for you to send", "since": since}
            )
        elif step_status == StepStatus.FAILED:
            status.waiting_on_you.append(
                {
                    **entry,
                    "why": f"{what} not drafted: {error or 'see deadletters'}",
                    "fix": FAILED_STEP_FIX,
                    "step_id": step_id,
                    "since": _iso(updated),
                }
            )
        else:
            status.upcoming.append({**entry, "why": f"{what} to be drafted"})
    for row in rows:
        who = {"contact": row.contact, "email": row.email, "stage": row.stage}
        unconfirmed = row.state.get("introductions_to_confirm") or []
        if unconfirmed:
            status.waiting_on_you.append(
                {
                    **who,
                    "why": (
                        f"named {len(unconfirmed)} more people in one message than are "
                        "contacted on their own; add the ones they meant with `outreach "
                        f'referral add --from "{row.contact}" --name NAME --email ADDRESS`'
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
    meetings = query(
        'SELECT outreach_id, start, "end" FROM meetings '
        "WHERE status = 'booked' AND \"end\" > :now ORDER BY start, id",
        now=now,
    )
    for outreach_id, start, end in meetings:
        met = by_id.get(outreach_id) if outreach_id else None
        status.upcoming.append(
            {
                "contact": met.contact if met else None,
                "step": "meeting",
                "what": "conversation",
                "due_at": _iso(start),
                "deadline": _iso(end),
            }
        )
    status.upcoming.sort(key=lambda item: str(item["due_at"]))
    status.skipped_inputs = skipped_inputs(query, now - timedelta(days=SKIPPED_RECENT_DAYS))
    for name, reason in query(
        "SELECT name, reauth_reason FROM accounts WHERE needs_reauth = :yes ORDER BY id", yes=True
    ):
        status.accounts_needing_auth.append(
            {"account": name, "reason": reason or "authorization expired"}
        )
    for name, reason, since in query(
        "SELECT name, unavailable_reason, unavailable_since FROM accounts "
        "WHERE unavailable_reason IS NOT NULL ORDER BY id"
    ):
        status.accounts_unavailable.append(
            {"account": name, "reason": reason or "", "since": _iso(since)}
        )
    return status
