"""One contract suite, every implementation: the fixtures below are parametrised over them.

A connector joins the suite by adding a parameter here and a world in ``clients.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.base import Calendar
from connectors.maildir import MaildirMailbox
from connectors.memory import InMemoryCalendar
from tests.contract.clients import (
    CalendarWorld,
    MaildirMailWorld,
    MailWorld,
    MemoryCalendarWorld,
    MemoryMailWorld,
    VdirCalendarWorld,
)

ME = "me@example.org"


@pytest.fixture(params=["memory", "maildir"])
def mail(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MailWorld]:
    """The person's mailbox under test, with the means to play the other side."""
    if request.param == "memory":
        yield MemoryMailWorld(ME)
    else:
        root = tmp_path / "Mail"
        yield MaildirMailWorld(root, MaildirMailbox(root, ME))


@pytest.fixture(params=["memory", "vdir"])
def calendar(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Calendar, CalendarWorld]]:
    """The person's calendar under test, with the means to play other organisers."""
    if request.param == "memory":
        memory = InMemoryCalendar()
        yield memory, MemoryCalendarWorld(memory)
    else:
        from connectors.vdir import VdirCalendar

        root = tmp_path / "calendar"
        root.mkdir()
        yield VdirCalendar(root), VdirCalendarWorld(root)
