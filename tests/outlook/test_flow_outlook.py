"""The scripted month (tests/month.py) on Outlook and its calendar, through msal,
requests and the Graph emulator: drafts appear in Outlook's Drafts, the person sends them
there, a reply, an out-of-office and a booked and moved meeting are understood, prep notes
land on the calendar, a thank-you and a nudge are drafted, and the digest goes to the
person's own Inbox as a received message, never sent. And what Graph asks of replies:
made with createReply from the message answered."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from connectors.base import CalendarEvent
from connectors.outlook_open import open_outlook_calendar, open_outlook_mailbox
from pipeline.app import bootstrap
from pipeline.settings import load_settings
from tests.contract.clients import graph_event
from tests.emulators.graph import GraphEmulator, MemoryTokenStore, graph_client, loopback_only
from tests.harness import Clock
from tests.month import MONDAY, MonthWorld, play_a_month, start_everyone, workspace_toml

ME = "ada@uni.example.edu"


@dataclasses.dataclass
class OutlookWorld(MonthWorld):
    """The person in Outlook (web or desktop) and its calendar, on the Graph emulator."""

    emulator: GraphEmulator

    def drafts(self) -> list[EmailMessage]:
        return self.emulator.folder("drafts")

    def sent(self) -> list[EmailMessage]:
        return self.emulator.folder("sentitems")

    def inbox(self) -> list[EmailMessage]:
        return self.emulator.folder("inbox")

    def send(self, key: str) -> None:
        self.emulator.send_draft(key)

    def receive(self, raw: bytes) -> None:
        self.emulator.receive(raw)

    def book(self, event: CalendarEvent) -> None:
        self.emulator.add_event(graph_event(event))

    def move(self, uid: str, start: datetime, end: datetime) -> None:
        self.emulator.move_event(uid, start, end)

    def prep_starts(self) -> list[datetime]:
        # Graph's dateTime is local to the event's timeZone (UTC here), without an offset
        return [
            datetime.fromisoformat(e["start"]["dateTime"][:19]).replace(tzinfo=UTC)
            for e in self.emulator.events()
            if "Prep" in e.get("subject", "")
        ]


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[OutlookWorld]:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "outreach.toml").write_text(workspace_toml(ME, "uni", "outlook"), encoding="utf-8")
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
        start_everyone(app, tmp_path, clock())
        yield OutlookWorld(app, clock, ME, "uni", graph)
        app.close()


def test_a_month_of_outreach_on_outlook(world: OutlookWorld) -> None:
    play_a_month(world)
    # Lee's nudge is in Lee's conversation, made the way Graph documents for a reply
    # (createReply from the message answered, which the sync reported), not a new message.
    assert "graph.messages.createReply" in [r.method_name for r in world.emulator.graph_requests()]
    digests = [
        m for m in world.emulator._in("inbox") if "Outreach for" in str(m.parsed()["Subject"])
    ]
    assert [(m.is_draft, str(m.parsed()["To"])) for m in digests] == [(False, ME)] * 2
