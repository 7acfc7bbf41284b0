"""Gmail as it really answers (the emulator's default): history records with only id and
threadId, a search that lags behind a create, schedule send, undo send, a draft sent in
place, the per-minute quota and 429s inside large batches."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from connectors._ledger import FileLedger, MemoryLedger
from connectors.base import MailChangeKind
from connectors.gmail import GmailMailbox
from connectors.quota import Unlimited
from pipeline.errors import PermanentError, TransientError
from tests.emulators.google import GoogleEmulator, authorized_http
from tests.google.conftest import ME, Sleeps
from tests.google.messages import inbound, outreach
from tests.harness import Clock

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def real(clock: Clock) -> Iterator[GoogleEmulator]:
    with GoogleEmulator(ME, clock=clock) as emu:
        yield emu


def open_box(emulator: GoogleEmulator, clock: Clock, **kwargs: object) -> GmailMailbox:
    kwargs.setdefault("quota", Unlimited())
    kwargs.setdefault("sleep", Sleeps())
    return GmailMailbox(ME, authorized_http(emulator), clock=clock, **kwargs)  # type: ignore[arg-type]


def kinds(changes: list) -> list[tuple[MailChangeKind, str | None]]:  # type: ignore[type-arg]
    return [(c.kind, c.key) for c in changes]


def test_history_records_carry_no_labels_and_changes_are_still_read(
    real: GoogleEmulator, clock: Clock
) -> None:
    """Given history messages with only id and threadId, an inbound reply and a sent
    draft are reported from the labels of the messages fetched."""
    box = open_box(real, clock)
    _, cursor = box.changes(None)
    ref = box.create_draft(outreach(), "k1", None)
    real.send_draft("k1")
    real.receive(inbound(1, ref.message_id, "Re: Informational interview?"))
    page = real.calls()
    changes, _ = box.changes(cursor)
    assert kinds(changes) == [(MailChangeKind.SENT, "k1"), (MailChangeKind.INBOUND, None)]
    history = [r for r in real.calls()[len(page) :] if r.method_name.endswith("history.list")]
    assert history  # the records the connector read came without labelIds
    box.close()


def test_a_tick_fetches_each_new_message_once(real: GoogleEmulator, clock: Clock) -> None:
    """Given 120 new messages, changes() and fetch_raw() together cost one history page
    and three batches: the bytes fetched by changes() serve fetch_raw()."""
    box = open_box(real, clock)
    _, cursor = box.changes(None)
    for n in range(120):
        real.receive(inbound(n))
    real.clear_log()
    changes, _ = box.changes(cursor)
    raw = box.fetch_raw([c.provider_id for c in changes])
    assert len(raw) == 120 and raw[changes[0].provider_id].startswith(b"From: Sender 0")
    assert len(real.api_requests()) == 1 + 3
    assert real.units() == 2 + 120 * 5
    box.close()


def test_a_draft_sent_in_place_is_sent(real: GoogleEmulator, clock: Clock) -> None:
    """Gmail may turn the draft's own message into the sent one (labels change, the id
    stays): reported SENT with its key, never deleted."""
    box = open_box(real, clock)
    _, cursor = box.changes(None)
    box.create_draft(outreach(), "k1", None)
    first, cursor = box.changes(cursor)
    real.send_draft("k1", in_place=True)
    changes, cursor = box.changes(cursor)
    assert first == []
    assert kinds(changes) == [(MailChangeKind.SENT, "k1")]
    assert box.changes(cursor)[0] == []
    box.close()


def test_drafts_with_long_keys_are_checked_in_one_batch_and_reported_sent(
    real: GoogleEmulator, clock: Clock
) -> None:
    """A long account name makes long keys, whose batch Content-IDs arrive folded over
    two lines: the batch that checks which drafts remain still answers each of them."""
    box = open_box(real, clock)
    _, cursor = box.changes(None)
    keys = [f"a-very-long-account-name-for-a-career-office/3/first_outreach/{n}" for n in range(3)]
    for key in keys:
        box.create_draft(outreach(), key, None)
        real.send_draft(key)
    changes, _ = box.changes(cursor)
    assert sorted(kinds(changes)) == [(MailChangeKind.SENT, key) for key in keys]
    box.close()


@pytest.mark.parametrize("strip", [False, True])
def test_a_scheduled_draft_is_neither_sent_nor_deleted_until_it_goes(
    real: GoogleEmulator, clock: Clock, strip: bool
) -> None:
    """Given the person schedules our draft (with or without our headers kept), no change
    is reported while it waits; an hour later it is SENT with its key."""
    box = open_box(real, clock)
    _, cursor = box.changes(None)
    box.create_draft(outreach(), "k1", None)

    def drop_ours(message: EmailMessage) -> None:
        if strip:
            del message["X-Outreach-Key"]
            del message["Message-ID"]
            message["Message-ID"] = "<CAGmail-scheduled@mail.gmail.com>"

    waiting = real.schedule_draft("k1", edit=drop_ours)
    before, cursor = box.changes(cursor)
    clock.advance(hours=1)
    assert box.changes(cursor)[0] == []
    real.send_scheduled(waiting)
    after, cursor = box.changes(cursor)
    assert before == []
    assert kinds(after) == [(MailChangeKind.SENT, "k1")]
    assert box.changes(cursor)[0] == []
    box.close()


def test_undo_send_brings_the_draft_back_and_nothing_is_reported(
    real: GoogleEmulator, clock: Clock
) -> None:
    """Given the person sends and at once undoes it, nothing is reported; when they send
    it for good, it is SENT."""
    box = open_box(real, clock)
    _, cursor = box.changes(None)
    box.create_draft(outreach(), "k1", None)
    sent = real.send_draft("k1")
    real.undo_send(sent)
    undone, cursor = box.changes(cursor)
    real.send_draft("k1")
    sent_for_good, _ = box.changes(cursor)
    assert undone == []
    assert kinds(sent_for_good) == [(MailChangeKind.SENT, "k1")]
    box.close()


def test_a_deleted_draft_whose_sent_copy_syncs_late_is_never_declined(
    real: GoogleEmulator, clock: Clock
) -> None:
    """Given a grace period, a draft that vanished is not reported while its sent copy may
    still arrive; when it arrives (our Message-ID, key dropped), it is SENT."""
    box = open_box(real, clock, deleted_after=timedelta(hours=2))
    _, cursor = box.changes(None)
    ref = box.create_draft(outreach(), "k1", None)
    raw = real.drafts()[0]
    real.delete_draft("k1")
    missed, cursor = box.changes(cursor)
    clock.advance(minutes=40)
    real.person_sends(raw.replace(b"X-Outreach-Key: k1\r\n", b""))
    late, cursor = box.changes(cursor)
    clock.advance(hours=3)
    assert missed == []
    assert [(c.kind, c.key, c.message_id) for c in late] == [
        (MailChangeKind.SENT, "k1", ref.message_id)
    ]
    assert box.changes(cursor)[0] == []
    box.close()


def test_a_deleted_draft_never_sent_is_declined_once_the_grace_period_has_passed(
    real: GoogleEmulator, clock: Clock
) -> None:
    box = open_box(real, clock, deleted_after=timedelta(hours=2))
    _, cursor = box.changes(None)
    box.create_draft(outreach(), "k1", None)
    real.delete_draft("k1")
    within, cursor = box.changes(cursor)
    clock.advance(hours=1)
    still_within, cursor = box.changes(cursor)
    clock.advance(hours=1, minutes=1)
    after, cursor = box.changes(cursor)
    assert (within, still_within) == ([], [])
    assert kinds(after) == [(MailChangeKind.DRAFT_DELETED, "k1")]
    clock.advance(hours=1)
    assert box.changes(cursor)[0] == []
    box.close()


def test_without_a_grace_period_a_late_sent_copy_still_names_its_key(
    real: GoogleEmulator, clock: Clock
) -> None:
    """Deleted (reported at once), then its copy sent: SENT with the key, so the
    pipeline revives the step."""
    box = open_box(real, clock)
    _, cursor = box.changes(None)
    box.create_draft(outreach(), "k1", None)
    raw = real.drafts()[0]
    real.delete_draft("k1")
    deleted, cursor = box.changes(cursor)
    real.person_sends(raw.replace(b"X-Outreach-Key: k1\r\n", b""))
    sent, _ = box.changes(cursor)
    assert kinds(deleted) == [(MailChangeKind.DRAFT_DELETED, "k1")]
    assert kinds(sent) == [(MailChangeKind.SENT, "k1")]
    box.close()


# -- drafts at the quota: one request per draft, and never two drafts ------------------------


def test_a_new_draft_costs_one_drafts_create(real: GoogleEmulator, clock: Clock) -> None:
    box = open_box(real, clock)
    for n in range(3):
        box.create_draft(outreach(f"Hello {n}"), f"k{n}", None)
    assert [c.method_name for c in real.calls()] == ["gmail.users.drafts.create"] * 3
    assert real.units() == 30
    box.close()


def test_a_lost_answer_is_not_taken_for_no_draft_while_search_lags(
    real: GoogleEmulator, clock: Clock
) -> None:
    """Given drafts.create landed but its answer was lost, and Gmail's search does not
    show the draft yet, the connector does not create another: it asks to be retried
    later; retried after the lag, it finds the draft."""
    box = open_box(real, clock)
    real.drop_next(match="drafts.create", after=True)
    with pytest.raises(TransientError) as caught:
        box.create_draft(outreach(), "k1", None)
    assert caught.value.retry_after is not None and caught.value.retry_after > 0
    assert len(real.drafts()) == 1
    clock.advance(minutes=3)
    ref = box.create_draft(outreach(), "k1", None)
    assert len(real.drafts()) == 1
    assert real.draft_ids()[ref.draft_id]
    creates = [c for c in real.calls() if c.method_name == "gmail.users.drafts.create"]
    assert len(creates) == 1
    box.close()


def test_after_the_lag_a_search_that_finds_nothing_means_no_draft(
    real: GoogleEmulator, clock: Clock
) -> None:
    """Given an attempt whose request never reached Gmail (dropped before), once the lag
    has passed the connector creates the draft: one draft in the end."""
    box = open_box(real, clock)
    real.drop_next(match="drafts.create", after=False)
    with pytest.raises(TransientError):
        box.create_draft(outreach(), "k1", None)
    assert real.drafts() == []
    clock.advance(minutes=3)
    box.create_draft(outreach(), "k1", None)
    assert len(real.drafts()) == 1
    box.close()


def test_a_refused_attempt_is_not_in_doubt(real: GoogleEmulator, clock: Clock) -> None:
    """A 429 answer proves nothing was made: the retry creates without a look-up."""
    box = open_box(real, clock)
    real.fail_next(429, retry_after=1, match="drafts.create")
    box.create_draft(outreach(), "k1", None)
    assert len(real.drafts()) == 1
    assert "gmail.users.messages.list" not in [c.method_name for c in real.calls()]
    box.close()


def test_two_workers_racing_on_one_key_make_one_draft(
    real: GoogleEmulator, clock: Clock, tmp_path: Path
) -> None:
    """Given worker A's drafts.create in flight (slow), worker B taking over the same step
    sees A's write-ahead record, does not create, and is told to retry; retried after A
    finished, B gets A's draft."""
    ledger = tmp_path / "gmail-drafts.json"
    a = open_box(real, clock, ledger=FileLedger(ledger))
    b = open_box(real, clock, ledger=FileLedger(ledger))
    a.changes(None)
    b.changes(None)  # both have their tokens
    real.stall_next(0.5, match="drafts.create")  # made at once, answered half a second later
    made: list[object] = []
    worker_a = threading.Thread(target=lambda: made.append(a.create_draft(outreach(), "k1", None)))
    worker_a.start()
    while not FileLedger(ledger).get("k1"):
        threading.Event().wait(0.01)
    with pytest.raises(TransientError):
        b.create_draft(outreach(), "k1", None)
    worker_a.join()
    assert b.create_draft(outreach(), "k1", None) == made[0]
    assert len(real.drafts()) == 1
    a.close()
    b.close()


def test_an_unknown_key_with_a_new_ledger_file_is_looked_up_first(
    real: GoogleEmulator, clock: Clock, tmp_path: Path
) -> None:
    """Given the ledger file was lost (a new file), a draft made earlier for the key is
    found by search (long indexed) and not made again."""
    old = open_box(real, clock, ledger=MemoryLedger())
    ref = old.create_draft(outreach(), "k1", None)
    clock.advance(hours=1)
    new = open_box(real, clock, ledger=FileLedger(tmp_path / "new.json"))
    assert new.create_draft(outreach(), "k1", None) == ref
    assert len(real.drafts()) == 1
    old.close()
    new.close()


# -- the quota ---------------------------------------------------------------------------------


def test_the_per_minute_window_answers_429(clock: Clock) -> None:
    with GoogleEmulator(ME, clock=clock, units_per_minute=12) as emulator:
        box = open_box(emulator, clock)
        box.changes(None)  # 1 unit
        box.create_draft(outreach(), "k1", None)  # 10 units
        with pytest.raises(TransientError):
            box.create_draft(outreach(), "k2", None)  # 10 more within the minute: 429
        assert any(r.status == 429 for r in emulator.requests)
        box.close()


def test_parts_of_a_batch_beyond_gmails_concurrency_are_retried_in_smaller_batches(
    real: GoogleEmulator, clock: Clock
) -> None:
    box = open_box(real, clock)
    _, cursor = box.changes(None)
    for n in range(50):
        real.receive(inbound(n))
    real.batch_concurrency = 20
    changes, _ = box.changes(cursor)
    assert len(changes) == 50
    assert sum(1 for r in real.requests if r.status == 429) == 30
    box.close()


def test_a_resync_does_not_lose_mail_that_search_has_not_indexed_yet(
    real: GoogleEmulator, clock: Clock
) -> None:
    """Given an expired history id and a message that arrived seconds before the resync
    (not yet in Gmail's search), the resync reports what search shows, and the message
    comes with the next sync, once."""
    box = open_box(real, clock)
    _, cursor = box.changes(None)
    clock.advance(minutes=1)
    kept_from = real.history_id + 1  # Gmail keeps recent history (a week at least)
    real.receive(inbound(1))
    clock.advance(minutes=1)
    real.receive(inbound(2))  # within the search lag at the resync
    real.expire_history(upto=kept_from)
    resynced, cursor = box.changes(cursor)
    later, cursor = box.changes(cursor)
    assert [c.message_id for c in resynced] == ["<in-1@example.com>"]
    assert [c.message_id for c in later] == ["<in-2@example.com>"]
    assert box.changes(cursor)[0] == []
    box.close()


def test_a_new_ledger_file_stops_looking_up_unknown_keys_once_one_is_not_found(
    real: GoogleEmulator, clock: Clock, tmp_path: Path
) -> None:
    """A new workspace: its first draft pays one look-up that finds nothing; the next
    ones cost one drafts.create each."""
    box = open_box(real, clock, ledger=FileLedger(tmp_path / "new.json"))
    for n in range(3):
        box.create_draft(outreach(f"Hello {n}"), f"k{n}", None)
    assert [c.method_name for c in real.calls()] == [
        "gmail.users.messages.list",
        "gmail.users.drafts.create",
        "gmail.users.drafts.create",
        "gmail.users.drafts.create",
    ]
    box.close()


def test_the_ledger_forgets_what_settled_a_month_ago_but_never_an_attempt_in_doubt(
    real: GoogleEmulator, clock: Clock, tmp_path: Path
) -> None:
    """Given a draft sent and reported, one deleted and reported, one withdrawn, an attempt
    refused, a digest delivered, a draft still open and an attempt in doubt: a month on,
    the ledger keeps only the open draft and the attempt in doubt, and that attempt, tried
    again, still finds the draft it made instead of making another."""
    path = tmp_path / "gmail-drafts.json"
    box = open_box(real, clock, ledger=FileLedger(path))
    _, cursor = box.changes(None)
    for key in ("sent", "deleted", "withdrawn", "open"):
        box.create_draft(outreach(f"Hello {key}"), key, None)
    real.send_draft("sent")
    real.delete_draft("deleted")
    box.discard_draft("withdrawn")
    real.fail_next(400, match="drafts.create")
    with pytest.raises(PermanentError):
        box.create_draft(outreach("Hello refused"), "refused", None)
    real.drop_next(match="drafts.create", after=True)
    with pytest.raises(TransientError):
        box.create_draft(outreach("Hello doubt"), "doubt", None)
    digest = EmailMessage()
    digest["From"] = digest["To"] = ME
    digest["Subject"] = "Your outreach today"
    digest.set_content("...")
    box.deliver_to_self(digest)
    reported, cursor = box.changes(cursor)
    assert set(kinds(reported)) == {
        (MailChangeKind.SENT, "sent"),
        (MailChangeKind.DRAFT_DELETED, "deleted"),
    }
    everything = set(json.loads(path.read_text()))
    clock.advance(days=29)
    box.changes(cursor)
    assert set(json.loads(path.read_text())) == everything
    clock.advance(days=2)
    box.changes(cursor)
    assert set(json.loads(path.read_text())) == {"open", "doubt"}
    again = open_box(real, clock, ledger=FileLedger(path))
    ref = again.create_draft(outreach("Hello doubt"), "doubt", None)
    assert real.draft_ids()[ref.draft_id]
    assert len(real.drafts()) == 2  # "open" and "doubt", each once
    creates = [c for c in real.calls() if c.method_name == "gmail.users.drafts.create"]
    assert len(creates) == 6  # four drafts, the refused attempt and the one in doubt
    box.close()
    again.close()
