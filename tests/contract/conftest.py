"""One contract suite, every implementation: the fixtures below are parametrised over them.

A connector joins the suite by adding a parameter here and a world in ``clients.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.base import Calendar
from connectors.maildir import MaildirMailbox
from connectors.memory import InMemoryCalendar
from tests.contract.clients import (
    CalendarWorld,
    GmailMailWorld,
    GoogleCalendarWorld,
    MaildirMailWorld,
    MailWorld,
    MemoryCalendarWorld,
    MemoryMailWorld,
    OutlookCalendarWorld,
    OutlookMailWorld,
    VdirCalendarWorld,
)

ME = "me@example.org"


@pytest.fixture(params=["memory", "maildir", "gmail", "outlook"])
def mail(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MailWorld]:
    """The person's mailbox under test, with the means to play the other side."""
    if request.param == "memory":
        yield MemoryMailWorld(ME)
    elif request.param == "gmail":
        from connectors.gmail import GmailMailbox
        from connectors.quota import Unlimited
        from tests.emulators.google import GoogleEmulator, authorized_http, loopback_only

        with loopback_only(), GoogleEmulator(ME) as emulator:
            box = GmailMailbox(ME, authorized_http(emulator), quota=Unlimited())
            try:
                yield GmailMailWorld(emulator, box)
            finally:
                box.close()
    elif request.param == "outlook":
        from connectors.outlook import OutlookMailbox
        from tests.emulators.graph import GraphEmulator, graph_client, loopback_only

        with loopback_only(), GraphEmulator(ME) as graph:
            yield OutlookMailWorld(graph, OutlookMailbox(ME, graph_client(graph)))
    else:
        root = tmp_path / "Mail"
        yield MaildirMailWorld(root, MaildirMailbox(root, ME))


class MovableClock:
    """The time a connector reads, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


GRACE = timedelta(minutes=30)


@pytest.fixture(params=["maildir", "gmail"])
def mail_with_grace(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[MailWorld, MovableClock]]:
    """A mailbox that waits ``GRACE`` before it calls a vanished draft deleted (the
    account's deleted_after_minutes), on a clock the test moves."""
    clock = MovableClock()
    if request.param == "gmail":
        from connectors.gmail import GmailMailbox
        from connectors.quota import Unlimited
        from tests.emulators.google import GoogleEmulator, authorized_http, loopback_only

        with loopback_only(), GoogleEmulator(ME) as emulator:
            box = GmailMailbox(
                ME, authorized_http(emulator), quota=Unlimited(), clock=clock, deleted_after=GRACE
            )
            try:
                yield GmailMailWorld(emulator, box), clock
            finally:
                box.close()
    else:
        root = tmp_path / "Mail"
        yield (
            MaildirMailWorld(root, MaildirMailbox(root, ME, clock=clock, deleted_after=GRACE)),
            clock,
        )


@pytest.fixture(params=["memory", "vdir", "google", "outlook"])
def calendar(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Calendar, CalendarWorld]]:
    """The person's calendar under test, with the means to play other organisers."""
    if request.param == "memory":
        memory = InMemoryCalendar()
        yield memory, MemoryCalendarWorld(memory)
    elif request.param == "google":
        from connectors.google_calendar import GoogleCalendar
        from tests.emulators.google import GoogleEmulator, authorized_http, loopback_only

        with loopback_only(), GoogleEmulator(ME) as emulator:
            google = GoogleCalendar(authorized_http(emulator))
            try:
                yield google, GoogleCalendarWorld(emulator)
            finally:
                google.close()
    elif request.param == "outlook":
        from connectors.outlook import OutlookCalendar
        from tests.emulators.graph import GraphEmulator, graph_client, loopback_only

        with loopback_only(), GraphEmulator(ME) as graph:
            yield OutlookCalendar(graph_client(graph)), OutlookCalendarWorld(graph)
    else:
        from connectors.vdir import VdirCalendar

        root = tmp_path / "calendar"
        root.mkdir()
        yield VdirCalendar(root), VdirCalendarWorld(root)
