"""A whole pipeline on in-memory connectors with a clock the test moves."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from connectors.base import Attendee, CalendarEvent
from connectors.memory import InMemoryCalendar, InMemoryMailbox
from pipeline.app import App, bootstrap
from pipeline.contacts import import_records, parse_contacts
from pipeline.drafting import create_draft, discard_step, prep_meeting
from pipeline.models import Account, Step
from pipeline.models import Outreach as OutreachRow
from pipeline.outreach import StartReport, start_outreach
from pipeline.settings import load_settings
from pipeline.tick import TickSummary, run_tick

ME = "ada@example.edu"
ME_NAME = "Ada Park"

MONDAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 09:00 in Chicago
DANA = "dana.kim@example.org"
SAM = "sam.ortiz@example.net"
LEE = "lee.chen@example.org"
TWO_CONTACTS = """name,email,organization,role,how_found
Dana Kim,dana.kim@example.org,County Health Department,epidemiologist,the department's staff page
Sam Ortiz,sam.ortiz@example.net,Global Health Partners,program manager,a panel at the career fair
"""

WORKSPACE_TOML = f"""
[profile]
name = "Ada Park"
email = "{ME}"
school = "State University, class of 2026"
background = "a senior studying biology at State University"
field = "public health"
intro = "I'm Ada, a biology senior curious about epidemiology careers."
timezone = "America/Chicago"
signature = "Ada Park"

[[accounts]]
name = "main"
kind = "memory"
address = "{ME}"
"""


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now = self.now + timedelta(**delta)


@dataclass
class World:
    """The pipeline plus the other side: the mailbox, the calendar and the clock."""

    app: App
    mailbox: InMemoryMailbox
    calendar: InMemoryCalendar
    clock: Clock
    ticks: list[TickSummary] = field(default_factory=list)

    def tick(self) -> TickSummary:
        def run_inline(jobs: list[tuple[str, Any]]) -> list[str]:
            for name, argument in jobs:
                if name == "create_draft":
                    create_draft(self.app, argument)
                elif name == "discard_draft":
                    discard_step(self.app, argument)
                else:
                    prep_meeting(self.app, argument)
            return []

        summary = run_tick(self.app, run_inline)
        self.ticks.append(summary)
        return summary

    def import_csv(self, path: Path) -> None:
        with self.app.store.write() as session:
            import_records(
                session,
                parse_contacts(path),
                source=path.name,
                skip_invalid=False,
                now=self.clock(),
            )

    def start(self, *refs: str) -> None:
        with self.app.store.write() as session:
            account = session.scalars(select(Account)).one()
            start_outreach(
                session,
                account,
                refs,
                all_contacts=not refs,
                now=self.clock(),
                policy=self.app.policy,
                per_day=50,
            )

    def start_named(self, *refs: str, again: bool = False, per_day: int = 50) -> StartReport:
        """`outreach start REF... [--again]`: the report of what was started or skipped."""
        with self.app.store.write() as session:
            account = session.scalars(select(Account)).one()
            return start_outreach(
                session,
                account,
                refs,
                all_contacts=False,
                now=self.clock(),
                policy=self.app.policy,
                per_day=per_day,
                again=again,
            )

    def stage(self, email: str) -> str:
        return stage_of(self.app, email)

    def steps(self, email: str) -> list[tuple[str, int, str]]:
        return steps_of(self.app, email)

    def draft_for(self, email: str, kind: str) -> Any:
        found = [
            d
            for d in self.mailbox.drafts()
            if email in str(d.message["To"]) and f"/{kind}/" in (d.key or "")
        ]
        assert len(found) == 1, f"expected one {kind} draft to {email}, found {len(found)}"
        return found[0]

    def send_first_outreach(self, email: str) -> Any:
        """Tick, the person sends the first draft to ``email``, tick: return that draft."""
        self.tick()
        first = self.draft_for(email, "first_outreach")
        self.mailbox.send_draft(first.key)
        self.tick()
        return first

    def book(
        self,
        contact: tuple[str, str],
        start: datetime,
        uid: str,
        *,
        location: str | None = None,
        description: str = "",
    ) -> None:
        """The contact books a 30-minute conversation with the person on the calendar."""
        name, email = contact
        self.calendar.add_external_event(
            CalendarEvent(
                uid=uid,
                summary=f"{ME_NAME} / {name}: career chat",
                start=start,
                end=start + timedelta(minutes=30),
                organizer=email,
                attendees=(Attendee(email, name, "ACCEPTED"), Attendee(ME, ME_NAME, "ACCEPTED")),
                location=location,
                description=description,
            )
        )

    def reply(
        self,
        sender: tuple[str, str],
        body: str,
        *,
        to_draft: Any,
        headers: dict[str, str] | None = None,
        subject: str | None = None,
    ) -> str:
        """The contact answers the message that was sent from ``to_draft``."""
        original = to_draft.message
        message = EmailMessage()
        message["From"] = f"{sender[0]} <{sender[1]}>"
        message["To"] = ME
        message["Subject"] = subject or f"Re: {original['Subject']}"
        message["Date"] = format_datetime(self.clock())
        message["Message-ID"] = make_msgid(domain=sender[1].split("@")[1])
        message["In-Reply-To"] = original["Message-ID"]
        message["References"] = original["Message-ID"]
        for name, value in (headers or {}).items():
            message[name] = value
        message.set_content(body)
        return self.mailbox.receive(bytes(message), at=self.clock())

    def dana_introduces_lee(self) -> None:
        """Dana is written to and answers a day later naming Lee Chen, whom the person
        then writes to: the note back to Dana about Lee is drafted."""
        first = self.send_first_outreach(DANA)
        self.clock.advance(days=1)
        self.reply(
            ("Dana Kim", DANA),
            f"Glad to help. You should also talk to Lee Chen ({LEE}).",
            to_draft=first,
        )
        self.tick()
        self.send_first_outreach(LEE)
        self.tick()


def stage_of(app: App, email: str) -> str:
    """The stage of the outreach to ``email``."""
    with app.store.read() as session:
        return session.scalars(select(OutreachRow.stage).where(OutreachRow.email == email)).one()


def steps_of(app: App, email: str) -> list[tuple[str, int, str]]:
    """(kind, seq, status) of each step of the outreach to ``email``, oldest first."""
    with app.store.read() as session:
        rows = session.execute(
            select(Step.kind, Step.seq, Step.status)
            .join(OutreachRow)
            .where(OutreachRow.email == email)
            .order_by(Step.id)
        ).all()
        return [(kind, seq, status) for kind, seq, status in rows]


def make_world(tmp_path: Path, database_url: str, start: datetime) -> World:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "outreach.toml").write_text(WORKSPACE_TOML, encoding="utf-8")
    clock = Clock(start)
    mailbox = InMemoryMailbox(ME, clock=clock)
    calendar = InMemoryCalendar()
    settings = load_settings(workspace)
    settings = dataclasses.replace(settings, database_url=database_url)
    app = bootstrap(
        settings,
        clock=clock,
        mailbox_factory=lambda _a, _w: mailbox,
        calendar_factory=lambda _a, _w: calendar,
    )
    return World(app, mailbox, calendar, clock)


@contextlib.contextmanager
def started_world(
    tmp_path: Path, database_url: str, start: datetime, contacts_csv: str
) -> Iterator[World]:
    """A world whose contacts (a CSV text) are imported and their outreach started."""
    world = make_world(tmp_path, database_url, start)
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(contacts_csv, encoding="utf-8")
    world.import_csv(contacts)
    world.start()
    try:
        yield world
    finally:
        world.app.close()
