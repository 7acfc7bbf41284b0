"""The scripted lifecycle on Outlook and its calendar, through msal, requests and the
Graph emulator (the counterpart of tests/google/test_flow_gmail.py): drafts appear in Outlook's
Drafts, the person sends them there, a reply, an out-of-office and a booked meeting are
understood, prep notes land on the calendar, a thank-you and a nudge are drafted, and the
digest goes to the person's own Inbox as a received message, never sent."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.base import Attendee, CalendarEvent
from connectors.outlook_open import open_outlook_calendar, open_outlook_mailbox
from pipeline.app import bootstrap
from pipeline.contacts import import_records, parse_contacts
from pipeline.digest import deliver_digest
from pipeline.models import Account
from pipeline.outreach import start_outreach
from pipeline.settings import load_settings
from tests.contract.clients import graph_event
from tests.emulators.graph import GraphEmulator, MemoryTokenStore, graph_client, loopback_only
from tests.google.test_flow_gmail import CONTACTS, MONDAY, GmailWorld
from tests.harness import Clock

ME = "ada@uni.example.edu"
TOML = f"""
[profile]
name = "Ada Park"
email = "{ME}"
background = "a senior studying biology"
field = "public health"
intro = "I'm Ada, a biology senior curious about epidemiology."
timezone = "America/Chicago"

[[accounts]]
name = "uni"
kind = "outlook"
address = "{ME}"
"""


@dataclasses.dataclass
class OutlookWorld(GmailWorld):
    """The Gmail flow's world, with the person in Outlook instead (``emulator`` is the
    Graph emulator; ticking, answering and reading stages are the same)."""

    emulator: GraphEmulator  # type: ignore[assignment]

    def drafts_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.emulator.folder("drafts") if address in str(m["To"])]

    def send_all(self) -> None:
        for message in self.emulator.folder("drafts"):
            self.emulator.send_draft(str(message["X-Outreach-Key"]))

    def sent_to(self, address: str) -> EmailMessage:
        return [m for m in self.emulator.folder("sentitems") if address in str(m["To"])][-1]


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[OutlookWorld]:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "outreach.toml").write_text(TOML, encoding="utf-8")
    clock = Clock(MONDAY)
    with loopback_only(), GraphEmulator(ME, clock=clock) as graph:
        store = MemoryTokenStore()
        settings = dataclasses.replace(load_settings(workspace), database_url=database_url)
        app = bootstrap(
            settings,
            clock=clock,
            mailbox_factory=lambda account, home: open_outlook_mailbox(
                account, home, clock=clock, client=graph_client(graph, store=store)
            ),
            calendar_factory=lambda account, home: open_outlook_calendar(
                account, home, clock=clock, client=graph_client(graph, store=store)
            ),
        )
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
        yield OutlookWorld(app, graph, clock)
        app.close()


def test_a_month_of_outreach_on_outlook(world: OutlookWorld) -> None:
    world.tick()
    assert len(world.emulator.folder("drafts")) == 3
    assert world.emulator.folder("sentitems") == []  # nothing is ever sent for the person
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
    (hers,) = [m for m in world.emulator.folder("inbox") if "dana.kim" in str(m["From"])]
    assert scheduling["In-Reply-To"] == hers["Message-ID"]
    world.answer(
        "Sam Ortiz",
        "sam.ortiz@example.net",
        "I am out of the office until March 16, 2026, with no access to email.",
        Subject="Automatic reply: hello",
        Auto_Submitted="auto-replied",
    )
    start = MONDAY + timedelta(days=3, hours=1)
    meeting = CalendarEvent(
        uid="dana-call-1",
        summary="Ada / Dana",
        start=start,
        end=start + timedelta(minutes=30),
        organizer="dana.kim@example.org",
        attendees=(
            Attendee("dana.kim@example.org", "Dana Kim", "ACCEPTED"),
            Attendee(ME, "Ada Park", "ACCEPTED"),
        ),
    )
    world.emulator.add_event(graph_event(meeting))
    world.tick()
    assert world.stage("dana.kim@example.org") == "booked"
    assert world.stage("sam.ortiz@example.net") == "paused_ooo"
    prep = [e for e in world.emulator.events() if "Prep" in e.get("subject", "")]
    assert len(prep) == 1
    assert world.drafts_to("dana.kim@example.org") == []  # booked: the answer is moot

    later = start + timedelta(hours=2)
    world.emulator.move_event("dana-call-1", later, later + timedelta(minutes=30))
    world.tick()
    (moved,) = [e for e in world.emulator.events() if "Prep" in e.get("subject", "")]
    assert moved["start"]["dateTime"] < later.strftime("%Y-%m-%dT%H:%M:%S")
    assert moved["start"]["dateTime"] > start.strftime("%Y-%m-%dT%H:%M:%S")

    world.clock.now = later + timedelta(minutes=45)
    world.tick()
    assert world.stage("dana.kim@example.org") == "met"
    assert any("Thank you" in str(m["Subject"]) for m in world.drafts_to("dana.kim@example.org"))

    world.clock.advance(days=7)  # Lee never answered: a nudge in the thread
    world.tick()
    nudges = [
        m for m in world.drafts_to("lee.chen@example.com") if str(m["Subject"]).startswith("Re:")
    ]
    assert len(nudges) == 1
    # In Lee's conversation, made the way Graph documents for a reply (createReply from the
    # message answered, which the sync reported), not as a new message.
    assert "graph.messages.createReply" in [r.method_name for r in world.emulator.graph_requests()]
    assert world.drafts_to("sam.ortiz@example.net") == []  # still away

    result = deliver_digest(
        world.app, "uni", world.clock().date(), destination="inbox", force=False
    )
    assert result.delivered
    digests = [
        m for m in world.emulator._in("inbox") if "Outreach for" in str(m.parsed()["Subject"])
    ]
    assert [(m.is_draft, str(m.parsed()["To"])) for m in digests] == [(False, ME)]
    assert all("X-Outreach-Key" in m for m in world.emulator.folder("sentitems"))
