"""Syncing a mailbox: batches, idempotence, and nothing lost when a batch fails."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pipeline.errors import TransientError
from pipeline.models import MessageSeen, SyncCursor
from pipeline.sync import INBOUND_BATCH, sync_mailbox
from tests.harness import ME, World, make_world

MONDAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def note(n: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"Someone {n} <someone{n}@example.com>"
    message["To"] = ME
    message["Subject"] = f"Hello {n}"
    message["Message-ID"] = f"<note-{n}@example.com>"
    message.set_content(f"Just a note, number {n}.")
    return bytes(message)


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    world = make_world(tmp_path, database_url, MONDAY)
    sync_mailbox(world.app, world.app.settings.account())  # the first sync takes the mailbox as is
    yield world
    world.app.close()


def recorded(world: World) -> int:
    with world.app.store.read() as session:
        return int(session.scalar(select(func.count(MessageSeen.id))) or 0)


def test_many_messages_are_applied_in_batches_and_once(world: World) -> None:
    count = INBOUND_BATCH * 2 + 50
    for n in range(count):
        world.mailbox.receive(note(n))
    report = sync_mailbox(world.app, world.app.settings.account())
    assert report.inbound == count
    assert recorded(world) == count
    again = sync_mailbox(world.app, world.app.settings.account())
    assert again.inbound == 0
    assert recorded(world) == count


class FailingSecondFetch:
    """The real in-memory mailbox, except that its second fetch_raw fails once."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.fetches = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def fetch_raw(self, provider_ids: Sequence[str]) -> dict[str, bytes]:
        self.fetches += 1
        if self.fetches == 2:
            raise TransientError("the server went away")
        return self.inner.fetch_raw(provider_ids)  # type: ignore[attr-defined,no-any-return]


def test_a_failed_batch_is_read_again_without_duplicating_the_others(world: World) -> None:
    count = INBOUND_BATCH * 2
    for n in range(count):
        world.mailbox.receive(note(n))
    account = world.app.settings.account()
    world.app._mailboxes[account.name] = FailingSecondFetch(world.mailbox)  # type: ignore[assignment]
    with pytest.raises(TransientError):
        sync_mailbox(world.app, account)
    assert recorded(world) == INBOUND_BATCH  # the first batch is kept
    report = sync_mailbox(world.app, account)  # the cursor did not move: all read again
    assert report.inbound == INBOUND_BATCH
    assert recorded(world) == count


def test_an_idle_sync_writes_nothing(world: World) -> None:
    """Given nothing new, the stored cursor is not even rewritten."""
    with world.app.store.read() as session:
        before = session.scalars(select(SyncCursor.updated_at)).all()
    world.clock.advance(minutes=15)
    report = sync_mailbox(world.app, world.app.settings.account())
    assert (report.inbound, report.sent, report.deleted) == (0, 0, 0)
    with world.app.store.read() as session:
        assert session.scalars(select(SyncCursor.updated_at)).all() == before
