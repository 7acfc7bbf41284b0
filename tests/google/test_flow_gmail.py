"""The scripted lifecycle on Gmail and Google Calendar, through the real client libraries
and the local emulator: drafts appear in Gmail, the person sends them there, replies, an
out-of-office, a bounce and a booked meeting are understood, prep notes land on the
calendar, a thank-you is drafted, and the digest goes to the person's own inbox only."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.base import Attendee, CalendarEvent
from connectors.google_open import open_gmail_mailbox, open_google_calendar
from connectors.quota import Unlimited
from pipeline.app import App, bootstrap
from pipeline.contacts import import_records, parse_contacts
from pipeline.digest import deliver_digest
from pipeline.drafting import create_draft, discard_step, prep_meeting
from pipeline.models import Account, Step
from pipeline.models import Outreach as OutreachRow
from pipeline.outreach import start_outreach
from pipeline.settings import load_settings
from pipeline.tick import run_tick
from tests.contract.clients import google_event
from tests.emulators.google import GoogleEmulator, authorized_http, loopback_only
from tests.harness import Clock

ME = "ada@gmail.example.com"
MONDAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
CONTACTS = """name,email,organization,role,how_found
Dana Kim,dana.kim@example.org,County Health Department,epidemiologist,the staff page
Sam Ortiz,sam.ortiz@example.net,Global Health Partners,program manager,a career fair panel
Lee Chen,lee.chen@example.com,Acme Labs,data scientist,the alumni directory
"""
TOML = f"""
[profile]
name = "Ada Park"
email = "{ME}"
background = "a senior studying biology"
field = "public health"
intro = "I'm Ada, a biology senior curious about epidemiology."
timezone = "America/Chicago"

[[accounts]]
name = "gmail"
kind = "gmail"
address = "{ME}"
"""


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


@dataclasses.dataclass
class GmailWorld:
    app: App
    emulator: GoogleEmulator
    clock: Clock

    def tick(self) -> Any:
        def inline(jobs: list[tuple[str, Any]]) -> list[str]:
            run: dict[str, Callable[[Any, Any], Any]] = {
                "create_draft": create_draft,
                "discard_draft": discard_step,
            }
            for name, argument in jobs:
                run.get(name, prep_meeting)(self.app, argument)
            return []

        return run_tick(self.app, inline)

    def drafts_to(self, address: str) -> list[EmailMessage]:
        return [m for m in map(parse, self.emulator.drafts()) if address in str(m["To"])]

    def send_all(self) -> None:
        for message in map(parse, self.emulator.drafts()):
            self.emulator.send_draft(str(message["X-Outreach-Key"]))

    def sent_to(self, address: str) -> EmailMessage:
        found = [m for m in map(parse, self.emulator.labelled("SENT")) if address in str(m["To"])]
        return found[-1]

    def answer(self, name: str, address: str, body: str, **headers: str) -> None:
        original = self.sent_to(address)
        message = EmailMessage()
        message["From"] = f"{name} <{address}>"
        message["To"] = ME
        message["Subject"] = headers.pop("Subject", f"Re: {original['Subject']}")
        message["Date"] = format_datetime(self.clock())
        message["Message-ID"] = make_msgid(domain="example.org")
        message["In-Reply-To"] = original["Message-ID"]
        message["References"] = original["Message-ID"]
        for header, value in headers.items():
            message[header.replace("_", "-")] = value
        message.set_content(body)
        self.emulator.receive(bytes(message))

    def steps(self, address: str) -> list[tuple[str, int, str]]:
        with self.app.store.read() as session:
            rows = session.execute(
                select(Step.kind, Step.seq, Step.status)
                .join(OutreachRow)
                .where(OutreachRow.email == address)
                .order_by(Step.id)
            ).all()
            return [(kind, seq, status) for kind, seq, status in rows]

    def stage(self, address: str) -> str:
        with self.app.store.read() as session:
            return session.scalars(
                select(OutreachRow.stage).where(OutreachRow.email == address)
            ).one()


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[GmailWorld]:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "outreach.toml").write_text(TOML, encoding="utf-8")
    clock = Clock(MONDAY)
    with loopback_only(), GoogleEmulator(ME, clock=clock) as emulator:
        settings = dataclasses.replace(load_settings(workspace), database_url=database_url)
        app = bootstrap(
            settings,
            clock=clock,
            mailbox_factory=lambda account, home: open_gmail_mailbox(
                account, home, http=authorized_http(emulator)
            ),
            calendar_factory=lambda account, home: open_google_calendar(
                account, home, http=authorized_http(emulator)
            ),
        )
        app.mailbox(settings.account())._quota = Unlimited()  # type: ignore[attr-defined]
        contacts = tmp_path / "contacts.csv"
        contacts.write_text(CONTACTS, encoding="utf-8")
        with app.store.write() as session:
            import_records(
                session, parse_contacts(contacts), source="c", skip_invalid=False, now=clock()
            )
            account = session.scalars(select(Account)).one()
            start_outreach(
                session, account, [], all_contacts=True, now=clock(), policy=app.policy, per_day=10
            )
        yield GmailWorld(app, emulator, clock)
        app.close()


def test_a_month_of_outreach_on_gmail(world: GmailWorld) -> None:
    world.tick()
    assert len(world.emulator.drafts()) == 3
    assert world.emulator.labelled("SENT") == []  # nothing is ever sent for the person
    world.clock.advance(minutes=30)
    world.send_all()
    world.tick()
    assert world.stage("dana.kim@example.org") == "sent"

    world.clock.advance(days=1)
    world.answer(
        "Dana Kim",
        "dana.kim@example.org",
        "Happy to talk! I will put a call on your calendar for Thursday.",
    )
    world.tick()  # an answer about scheduling, in reply to her message
    (scheduling,) = world.drafts_to("dana.kim@example.org")
    inbox = [parse(raw) for raw in world.emulator.labelled("INBOX")]
    (hers,) = [m for m in inbox if "dana.kim@example.org" in str(m["From"])]
    assert scheduling["In-Reply-To"] == hers["Message-ID"]
    world.answer(
        "Sam Ortiz",
        "sam.ortiz@example.net",
        "I am out of the office until March 16, 2026, with no access to email.",
        Subject="Automatic reply: hello",
        Auto_Submitted="auto-replied",
    )
    start = MONDAY + timedelta(days=3, hours=1)
    world.emulator.add_event(
        google_event(
            CalendarEvent(
                uid="dana-call-1",
                summary="Ada / Dana",
                start=start,
                end=start + timedelta(minutes=30),
                organizer="dana.kim@example.org",
                attendees=(
                    Attendee("dana.kim@example.org", "Dana Kim", "ACCEPTED"),
                    Attendee(ME, "Ada Park", "ACCEPTED"),
                ),
            ),
            ME,
        )
    )
    world.tick()
    assert world.stage("dana.kim@example.org") == "booked"
    assert world.stage("sam.ortiz@example.net") == "paused_ooo"
    prep = [e for e in world.emulator.events() if "Prep" in e.get("summary", "")]
    assert len(prep) == 1
    assert world.drafts_to("dana.kim@example.org") == []  # booked: the answer is moot

    world.clock.now = start + timedelta(minutes=45)
    world.tick()
    assert world.stage("dana.kim@example.org") == "met"
    assert any("Thank you" in str(m["Subject"]) for m in world.drafts_to("dana.kim@example.org"))

    world.clock.advance(days=7)  # Lee never answered: a nudge in the thread
    world.tick()
    nudges = [
        m for m in world.drafts_to("lee.chen@example.com") if str(m["Subject"]).startswith("Re:")
    ]
    assert len(nudges) == 1
    assert world.drafts_to("sam.ortiz@example.net") == []  # still away

    result = deliver_digest(
        world.app, "gmail", world.clock().date(), destination="inbox", force=False
    )
    assert result.delivered
    inbox = [parse(raw) for raw in world.emulator.labelled("INBOX")]
    digests = [m for m in inbox if "Outreach for" in str(m["Subject"])]
    assert [str(m["To"]) for m in digests] == [f"Ada Park <{ME}>"]
    assert world.emulator.labelled("SENT") == [
        m for m in world.emulator.labelled("SENT") if b"X-Outreach-Key" in m
    ]


def test_a_draft_scheduled_in_gmail_and_sent_an_hour_later_is_sent(world: GmailWorld) -> None:
    """Given Dana's first outreach scheduled in Gmail (the draft is gone, a SCHEDULED
    message waits), when ticks run meanwhile, then nothing is declined; when it goes out
    an hour later, the outreach is sent and a nudge is planned."""
    world.tick()
    (draft,) = world.drafts_to("dana.kim@example.org")
    waiting = world.emulator.schedule_draft(str(draft["X-Outreach-Key"]))
    world.tick()
    assert world.stage("dana.kim@example.org") == "outreach_drafted"
    world.clock.advance(hours=1)
    world.tick()
    world.emulator.send_scheduled(waiting)
    world.tick()
    assert world.stage("dana.kim@example.org") == "sent"
    assert world.steps("dana.kim@example.org") == [
        ("first_outreach", 1, "sent"),
        ("nudge", 1, "planned"),
    ]
