"""The scripted month (tests/month.py) on Gmail and Google Calendar, through the real
client libraries and the local emulator: drafts appear in Gmail, the person sends them
there, a reply, an out-of-office and a booked and moved meeting are understood, prep
notes land on the calendar, a thank-you and a nudge are drafted, and the digest goes to
the person's own inbox only. And what only Gmail does: schedule send."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from connectors.base import CalendarEvent
from connectors.google_open import open_gmail_mailbox, open_google_calendar
from connectors.quota import Unlimited
from pipeline.app import bootstrap
from pipeline.settings import load_settings
from tests.contract.clients import google_event
from tests.emulators.google import GoogleEmulator, authorized_http, loopback_only
from tests.harness import Clock
from tests.month import DANA, MONDAY, MonthWorld, play_a_month, start_everyone, workspace_toml

ME = "ada@gmail.example.com"


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


@dataclasses.dataclass
class GmailWorld(MonthWorld):
    """The person in Gmail's own interface and Google Calendar, on the emulator."""

    emulator: GoogleEmulator

    def drafts(self) -> list[EmailMessage]:
        return [parse(raw) for raw in self.emulator.drafts()]

    def sent(self) -> list[EmailMessage]:
        return [parse(raw) for raw in self.emulator.labelled("SENT")]

    def inbox(self) -> list[EmailMessage]:
        return [parse(raw) for raw in self.emulator.labelled("INBOX")]

    def send(self, key: str) -> None:
        self.emulator.send_draft(key)

    def receive(self, raw: bytes) -> None:
        self.emulator.receive(raw)

    def book(self, event: CalendarEvent) -> None:
        self.emulator.add_event(google_event(event, self.me))

    def move(self, uid: str, start: datetime, end: datetime) -> None:
        self.emulator.move_event(uid, start, end)

    def prep_starts(self) -> list[datetime]:
        return [
            datetime.fromisoformat(e["start"]["dateTime"])
            for e in self.emulator.events()
            if "Prep" in e.get("summary", "")
        ]


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[GmailWorld]:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "outreach.toml").write_text(workspace_toml(ME, "gmail", "gmail"), encoding="utf-8")
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
        start_everyone(app, tmp_path, clock())
        yield GmailWorld(app, clock, ME, "gmail", emulator)
        app.close()


def test_a_month_of_outreach_on_gmail(world: GmailWorld) -> None:
    play_a_month(world)
    digests = [m for m in world.inbox() if "Outreach for" in str(m["Subject"])]
    assert [str(m["To"]) for m in digests] == [f"Ada Park <{ME}>"] * 2  # the day's, and again


def test_a_draft_scheduled_in_gmail_and_sent_an_hour_later_is_sent(world: GmailWorld) -> None:
    """Given Dana's first outreach scheduled in Gmail (the draft is gone, a SCHEDULED
    message waits), when ticks run meanwhile, then nothing is declined; when it goes out
    an hour later, the outreach is sent and a nudge is planned."""
    world.tick()
    (draft,) = world.drafts_to(DANA)
    waiting = world.emulator.schedule_draft(str(draft["X-Outreach-Key"]))
    world.tick()
    assert world.stage(DANA) == "outreach_drafted"
    world.clock.advance(hours=1)
    world.tick()
    world.emulator.send_scheduled(waiting)
    world.tick()
    assert world.stage(DANA) == "sent"
    assert world.steps(DANA) == [
        ("first_outreach", 1, "sent"),
        ("nudge", 1, "planned"),
    ]
