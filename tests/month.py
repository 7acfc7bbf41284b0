"""A month of outreach, scripted once and played on every provider (tests/google,
tests/outlook): the first drafts appear, the person sends them, Dana answers and books a
conversation that she then moves, Sam is away, Lee stays silent, the conversation
happens, and the digest reaches the person's own inbox. A provider's test supplies a
``MonthWorld`` (the person's side of its mailbox and calendar, played on its emulator)
and checks what only it promises.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from connectors.base import Attendee, CalendarEvent
from pipeline.app import App
from pipeline.contacts import import_records, parse_contacts
from pipeline.digest import deliver_digest
from pipeline.drafting import create_draft, discard_step, prep_meeting
from pipeline.models import Account
from pipeline.outreach import start_outreach
from pipeline.tick import run_tick
from tests.harness import Clock, stage_of, steps_of

MONDAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
DANA, SAM, LEE = "dana.kim@example.org", "sam.ortiz@example.net", "lee.chen@example.com"
CONTACTS = f"""name,email,organization,role,how_found
Dana Kim,{DANA},County Health Department,epidemiologist,the staff page
Sam Ortiz,{SAM},Global Health Partners,program manager,a career fair panel
Lee Chen,{LEE},Acme Labs,data scientist,the alumni directory
"""


def workspace_toml(me: str, account: str, kind: str) -> str:
    """Ada's outreach.toml with one account of ``kind``."""
    return f"""
[profile]
name = "Ada Park"
email = "{me}"
background = "a senior studying biology"
field = "public health"
intro = "I'm Ada, a biology senior curious about epidemiology."
timezone = "America/Chicago"

[[accounts]]
name = "{account}"
kind = "{kind}"
address = "{me}"
"""


def start_everyone(app: App, tmp_path: Path, now: datetime) -> None:
    """Import the three contacts and plan their first outreach."""
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CONTACTS, encoding="utf-8")
    with app.store.write() as session:
        import_records(session, parse_contacts(contacts), source="c", skip_invalid=False, now=now)
        account = session.scalars(select(Account)).one()
        start_outreach(
            session, account, [], all_contacts=True, now=now, policy=app.policy, per_day=10
        )


@dataclasses.dataclass
class MonthWorld:
    """The pipeline, its clock, and the person's side of one provider."""

    app: App
    clock: Clock
    me: str
    account: str

    # -- the provider's side (each provider's world fills these in) ------------------------

    def drafts(self) -> list[EmailMessage]:
        raise NotImplementedError

    def sent(self) -> list[EmailMessage]:
        raise NotImplementedError

    def inbox(self) -> list[EmailMessage]:
        raise NotImplementedError

    def send(self, key: str) -> None:
        raise NotImplementedError

    def receive(self, raw: bytes) -> None:
        raise NotImplementedError

    def book(self, event: CalendarEvent) -> None:
        raise NotImplementedError

    def move(self, uid: str, start: datetime, end: datetime) -> None:
        raise NotImplementedError

    def prep_starts(self) -> list[datetime]:
        """When each prep-notes event on the calendar starts."""
        raise NotImplementedError

    # -- the same everywhere -------------------------------------------------------------------

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
        return [m for m in self.drafts() if address in str(m["To"])]

    def send_all(self) -> None:
        for message in self.drafts():
            self.send(str(message["X-Outreach-Key"]))

    def answer(self, name: str, address: str, body: str, **headers: str) -> None:
        """``address`` answers the last message sent to them."""
        original = [m for m in self.sent() if address in str(m["To"])][-1]
        message = EmailMessage()
        message["From"] = f"{name} <{address}>"
        message["To"] = self.me
        message["Subject"] = headers.pop("Subject", f"Re: {original['Subject']}")
        message["Date"] = format_datetime(self.clock())
        message["Message-ID"] = make_msgid(domain="example.org")
        message["In-Reply-To"] = original["Message-ID"]
        message["References"] = original["Message-ID"]
        for header, value in headers.items():
            message[header.replace("_", "-")] = value
        message.set_content(body)
        self.receive(bytes(message))

    def steps(self, address: str) -> list[tuple[str, int, str]]:
        return steps_of(self.app, address)

    def stage(self, address: str) -> str:
        return stage_of(self.app, address)


def play_a_month(world: MonthWorld) -> None:
    """The month, with what every provider must show along the way."""
    world.tick()
    assert len(world.drafts()) == 3
    assert world.sent() == []  # nothing is ever sent for the person
    world.clock.advance(minutes=30)
    world.send_all()
    world.tick()
    assert world.stage(DANA) == "sent"

    world.clock.advance(days=1)
    world.answer(
        "Dana Kim", DANA, "Happy to talk! I will put a call on your calendar for Thursday."
    )
    world.tick()  # an answer about scheduling, in reply to her message
    (scheduling,) = world.drafts_to(DANA)
    (hers,) = [m for m in world.inbox() if DANA in str(m["From"])]
    assert scheduling["In-Reply-To"] == hers["Message-ID"]
    world.answer(
        "Sam Ortiz",
        SAM,
        "I am out of the office until March 16, 2026, with no access to email.",
        Subject="Automatic reply: hello",
        Auto_Submitted="auto-replied",
    )
    start = MONDAY + timedelta(days=3, hours=1)
    world.book(
        CalendarEvent(
            uid="dana-call-1",
            summary="Ada / Dana",
            start=start,
            end=start + timedelta(minutes=30),
            organizer=DANA,
            attendees=(
                Attendee(DANA, "Dana Kim", "ACCEPTED"),
                Attendee(world.me, "Ada Park", "ACCEPTED"),
            ),
        )
    )
    world.tick()
    assert world.stage(DANA) == "booked"
    assert world.stage(SAM) == "paused_ooo"
    assert len(world.prep_starts()) == 1
    assert world.drafts_to(DANA) == []  # booked: the answer is moot

    later = start + timedelta(hours=2)
    world.move("dana-call-1", later, later + timedelta(minutes=30))
    world.tick()
    (moved,) = world.prep_starts()
    assert start < moved < later  # the prep notes moved with the meeting, before it

    world.clock.now = later + timedelta(minutes=45)
    world.tick()
    assert world.stage(DANA) == "met"
    assert any("Thank you" in str(m["Subject"]) for m in world.drafts_to(DANA))

    world.clock.advance(days=7)  # Lee never answered: a nudge in the thread
    world.tick()
    assert len([m for m in world.drafts_to(LEE) if str(m["Subject"]).startswith("Re:")]) == 1
    assert world.drafts_to(SAM) == []  # still away

    result = deliver_digest(
        world.app, world.account, world.clock().date(), destination="inbox", force=False
    )
    assert result.delivered
    digests = [m for m in world.inbox() if "Outreach for" in str(m["Subject"])]
    assert [world.me in str(m["To"]) for m in digests] == [True]
    again = deliver_digest(
        world.app, world.account, world.clock().date(), destination="inbox", force=True
    )
    assert again.delivered  # asked for again: a second copy, not the first one found again
    digests = [m for m in world.inbox() if "Outreach for" in str(m["Subject"])]
    assert len(digests) == 2 and len({str(m["Message-ID"]) for m in digests}) == 2
    assert all("X-Outreach-Key" in m for m in world.sent())  # only what the person sent
