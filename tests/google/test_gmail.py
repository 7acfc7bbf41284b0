"""The Gmail mailbox on the emulator: what the contract suite does not pin down (batches,
resyncs, retries, authorization, idempotency under lost answers)."""

from __future__ import annotations

import json
import re
import stat
import time
import types
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from connectors._google_http import RetryPolicy
from connectors._ledger import FileLedger
from connectors.base import MailChangeKind, ThreadRef
from connectors.gmail import GmailMailbox
from connectors.google_auth import (
    SCOPES,
    FileTokenStore,
    KeyringTokenStore,
    authorize,
    load_credentials,
    token_store,
    working_keyring,
)
from connectors.google_open import google_http, open_gmail_mailbox, open_google_calendar
from connectors.quota import TokenBucket, Unlimited
from pipeline.errors import AuthError, PermanentError, TransientError
from pipeline.settings import AccountSettings
from tests.emulators.google import GoogleEmulator, authorized_http
from tests.fakes import DictKeyring
from tests.google.conftest import ME, Sleeps
from tests.google.messages import CONTACT, inbound, outreach


def mailbox(emulator: GoogleEmulator, sleeps: Sleeps, **kwargs: object) -> GmailMailbox:
    kwargs.setdefault("quota", Unlimited())
    return GmailMailbox(ME, authorized_http(emulator, timeout=2.0), sleep=sleeps, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def box(emulator: GoogleEmulator, sleeps: Sleeps) -> Iterator[GmailMailbox]:
    mb = mailbox(emulator, sleeps)
    yield mb
    mb.close()


def batch_sizes(emulator: GoogleEmulator) -> list[int]:
    sizes: dict[int, int] = {}
    for call in emulator.calls():
        if call.batch is not None:
            sizes[call.batch] = sizes.get(call.batch, 0) + 1
    return list(sizes.values())


# -- reading changes --------------------------------------------------------------------------


def test_an_idle_mailbox_costs_one_history_request(
    emulator: GoogleEmulator, box: GmailMailbox
) -> None:
    _, cursor = box.changes(None)
    emulator.clear_log()
    changes, _ = box.changes(cursor)
    assert changes == []
    assert [r.method_name for r in emulator.api_requests()] == ["gmail.users.history.list"]
    assert emulator.units() == 2


def test_new_messages_are_fetched_in_batches_of_at_most_50(
    emulator: GoogleEmulator, box: GmailMailbox
) -> None:
    _, cursor = box.changes(None)
    for n in range(120):
        emulator.receive(inbound(n))
    emulator.clear_log()
    changes, _ = box.changes(cursor)
    assert [c.message_id for c in changes] == [f"<in-{n}@example.com>" for n in range(120)]
    assert sorted(batch_sizes(emulator)) == [20, 50, 50]
    assert len(emulator.api_requests()) == 1 + 3


def test_history_pages_are_all_read(emulator: GoogleEmulator, sleeps: Sleeps) -> None:
    box = mailbox(emulator, sleeps, history_page_size=7)
    _, cursor = box.changes(None)
    for n in range(20):
        emulator.receive(inbound(n))
    changes, cursor = box.changes(cursor)
    assert len(changes) == 20
    assert box.changes(cursor)[0] == []
    box.close()


def test_an_expired_history_id_resyncs_without_repeating_anything(
    emulator: GoogleEmulator, sleeps: Sleeps
) -> None:
    """Given a cursor whose history id Gmail no longer keeps, what came after the last
    sync is reported once, and nothing reported before comes again."""
    base = datetime.now(UTC) - timedelta(minutes=10)
    box = mailbox(emulator, sleeps, clock=lambda: base - timedelta(minutes=1))
    _, cursor = box.changes(None)
    emulator.receive(inbound(1), at=base + timedelta(minutes=1))
    first, cursor = box.changes(cursor)
    box.create_draft(outreach(), "k1", None)
    emulator.receive(inbound(2), at=base + timedelta(minutes=1, milliseconds=5))
    emulator.send_draft("k1")
    emulator.expire_history()
    emulator.search_lag = 0  # Gmail's search has caught up with these messages
    emulator.clear_log()
    again, cursor = box.changes(cursor)
    assert [c.message_id for c in first] == ["<in-1@example.com>"]
    assert [(c.kind, c.message_id or c.key) for c in again] == [
        (MailChangeKind.INBOUND, "<in-2@example.com>"),
        (MailChangeKind.SENT, again[1].message_id),
    ]
    assert again[1].key == "k1"
    assert "gmail.users.getProfile" in [r.method_name for r in emulator.api_requests()]
    emulator.receive(inbound(3))
    later, _ = box.changes(cursor)
    assert [c.message_id for c in later] == ["<in-3@example.com>"]
    box.close()


def test_the_digest_delivered_to_self_is_not_reported_but_self_mail_from_others_is(
    emulator: GoogleEmulator, box: GmailMailbox
) -> None:
    _, cursor = box.changes(None)
    digest = EmailMessage()
    digest["From"] = ME
    digest["To"] = ME
    digest["Subject"] = "Your outreach today"
    digest.set_content("...")
    box.deliver_to_self(digest)
    forged = (
        f"From: someone@example.com\r\nTo: {ME}\r\nSubject: x\r\nX-Outreach-Digest: 1\r\n"
        "Message-ID: <forged@example.com>\r\n\r\nhi\r\n"
    ).encode()
    emulator.receive(forged)
    changes, _ = box.changes(cursor)
    assert [c.message_id for c in changes] == ["<forged@example.com>"]


# -- drafts: sent or deleted ------------------------------------------------------------------


def test_a_draft_created_and_deleted_between_two_syncs_is_reported_deleted(
    emulator: GoogleEmulator, box: GmailMailbox
) -> None:
    _, cursor = box.changes(None)
    ref = box.create_draft(outreach(), "k1", None)
    emulator.delete_draft("k1")
    changes, cursor = box.changes(cursor)
    assert [(c.kind, c.key, c.provider_id) for c in changes] == [
        (MailChangeKind.DRAFT_DELETED, "k1", ref.draft_id)
    ]
    emulator.receive(inbound(1, ref.message_id, "Re: Informational interview?"))
    assert [c.kind for c in box.changes(cursor)[0]] == [MailChangeKind.INBOUND]


def test_an_edited_draft_is_neither_sent_nor_deleted_until_it_is(
    emulator: GoogleEmulator, box: GmailMailbox
) -> None:
    _, cursor = box.changes(None)
    box.create_draft(outreach(), "k1", None)

    def rewrite(message: EmailMessage) -> None:
        message.set_content("A warmer opening line.")

    emulator.edit_draft("k1", rewrite)
    edited, cursor = box.changes(cursor)
    emulator.delete_draft("k1")
    deleted, _ = box.changes(cursor)
    assert edited == []
    assert [(c.kind, c.key) for c in deleted] == [(MailChangeKind.DRAFT_DELETED, "k1")]


def test_a_sent_draft_stripped_of_key_and_message_id_is_matched_by_its_thread(
    emulator: GoogleEmulator, box: GmailMailbox
) -> None:
    """Gmail's interface may drop our headers: the thread still links the sent copy."""
    _, cursor = box.changes(None)
    ref = box.create_draft(outreach(), "k1", None)

    def strip(message: EmailMessage) -> None:
        del message["X-Outreach-Key"]
        del message["Message-ID"]
        message["Message-ID"] = "<CAGmail-rewritten@mail.gmail.com>"

    emulator.send_draft("k1", edit=strip)
    changes, _ = box.changes(cursor)
    assert [(c.kind, c.key, c.thread_id) for c in changes] == [
        (MailChangeKind.SENT, "k1", ref.thread_id)
    ]


def test_the_ledger_in_a_file_lets_another_process_see_our_drafts(
    emulator: GoogleEmulator, sleeps: Sleeps, tmp_path: Path
) -> None:
    ledger = tmp_path / "state" / "gmail-drafts.json"
    worker = mailbox(emulator, sleeps, ledger=FileLedger(ledger))
    tick = mailbox(emulator, sleeps, ledger=FileLedger(ledger))
    _, cursor = tick.changes(None)
    worker.create_draft(outreach(), "k1", None)
    emulator.delete_draft("k1")
    changes, _ = tick.changes(cursor)
    assert [(c.kind, c.key) for c in changes] == [(MailChangeKind.DRAFT_DELETED, "k1")]
    worker.close()
    tick.close()


def test_a_reply_draft_joins_the_thread_of_the_message_it_answers(
    emulator: GoogleEmulator, box: GmailMailbox
) -> None:
    first = box.create_draft(outreach(), "k1", None)
    emulator.send_draft("k1")
    emulator.receive(inbound(1, first.message_id, "Re: Informational interview?"))
    emulator.search_lag = 0  # the answer is found by search once Gmail indexed it
    thread = ThreadRef(None, "<in-1@example.com>", (first.message_id,))
    reply = box.create_draft(outreach("Re: Informational interview?"), "k2", thread)
    assert reply.thread_id == first.thread_id
    thread_id, labels, _ = emulator.message(emulator.draft_ids()[reply.draft_id])
    assert (thread_id, labels) == (first.thread_id, ["DRAFT"])


# -- failures ---------------------------------------------------------------------------------


def test_create_draft_after_a_lost_answer_leaves_one_draft(
    emulator: GoogleEmulator, box: GmailMailbox, sleeps: Sleeps
) -> None:
    """Given drafts.create succeeds but the connection drops before the answer, the
    connector looks before it tries again, and finds the draft it made (Gmail's search
    shows it at once here; tests/google/test_gmail_real.py has the lag)."""
    emulator.search_lag = 0
    emulator.drop_next(match="drafts.create", after=True)
    ref = box.create_draft(outreach(), "k1", None)
    assert len(emulator.drafts()) == 1
    assert box.find_draft("k1") == ref
    creates = [c for c in emulator.calls() if c.method_name == "gmail.users.drafts.create"]
    assert len(creates) == 1
    assert len(sleeps) == 1


def test_a_429_is_retried_after_its_retry_after(
    emulator: GoogleEmulator, box: GmailMailbox, sleeps: Sleeps
) -> None:
    _, cursor = box.changes(None)
    emulator.fail_next(429, match="history", retry_after=3)
    emulator.receive(inbound(1))
    changes, _ = box.changes(cursor)
    assert len(changes) == 1
    assert sleeps == [3.0]


def test_a_429_inside_a_batch_retries_only_that_part(
    emulator: GoogleEmulator, box: GmailMailbox, sleeps: Sleeps
) -> None:
    _, cursor = box.changes(None)
    for n in range(3):
        emulator.receive(inbound(n))
    emulator.fail_next(429, match="messages.get", retry_after=2)
    changes, _ = box.changes(cursor)
    assert len(changes) == 3
    assert sleeps == [2.0]
    assert sorted(batch_sizes(emulator)) == [1, 3]


def test_the_emulators_quota_answers_429_and_the_connector_waits(
    emulator: GoogleEmulator, sleeps: Sleeps
) -> None:
    emulator.set_quota("gmail", 20)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    box = GmailMailbox(ME, authorized_http(emulator), sleep=sleep, quota=Unlimited())
    box.changes(None)
    box.create_draft(outreach(), "k1", None)  # 5 + 10 units
    box.create_draft(outreach(), "k2", None)  # over 20 units in the second: 429
    assert len(emulator.drafts()) == 2
    assert waits and all(s >= 1 for s in waits)
    assert any(r.status == 429 for r in emulator.requests)
    box.close()


def test_a_server_error_that_persists_becomes_a_transient_error(
    emulator: GoogleEmulator, box: GmailMailbox, sleeps: Sleeps
) -> None:
    emulator.fail_next(503, times=10, match="profile")
    with pytest.raises(TransientError):
        box.changes(None)
    assert len(sleeps) == RetryPolicy().attempts - 1
    assert all(s >= RetryPolicy().base for s in sleeps)


def test_a_long_retry_after_goes_back_to_the_queue(
    emulator: GoogleEmulator, box: GmailMailbox, sleeps: Sleeps
) -> None:
    emulator.fail_next(429, retry_after=120, match="profile")
    with pytest.raises(TransientError) as caught:
        box.changes(None)
    assert caught.value.retry_after == 120
    assert sleeps == []


def test_a_time_out_is_retried(emulator: GoogleEmulator, sleeps: Sleeps) -> None:
    box = GmailMailbox(ME, authorized_http(emulator, timeout=0.3), sleep=sleeps, quota=Unlimited())
    box.changes(None)  # the token is fetched
    emulator.stall_next(1.0, match="profile")
    _, cursor = box.changes(None)
    assert cursor
    assert len(sleeps) == 1
    box.close()


def test_an_expired_access_token_is_refreshed(emulator: GoogleEmulator, box: GmailMailbox) -> None:
    box.changes(None)
    emulator.expire_access_tokens()
    box.changes(None)
    assert emulator.token_requests == 2


def test_an_expired_access_token_inside_a_batch_is_refreshed(
    emulator: GoogleEmulator, box: GmailMailbox, sleeps: Sleeps
) -> None:
    _, cursor = box.changes(None)
    emulator.receive(inbound(1))
    emulator.fail_next(401, match="messages.get")
    changes, _ = box.changes(cursor)
    assert len(changes) == 1
    assert emulator.token_requests == 2  # refreshed through the emulator, not retried
    assert sleeps == []


def test_a_revoked_grant_is_an_auth_error_without_retries(
    emulator: GoogleEmulator, box: GmailMailbox, sleeps: Sleeps
) -> None:
    emulator.revoke_refresh_token()
    with pytest.raises(AuthError, match="authorize"):
        box.changes(None)
    with pytest.raises(AuthError):
        box.create_draft(outreach(), "k1", None)
    assert sleeps == []
    assert emulator.token_requests == 2


def test_a_bad_request_is_permanent(emulator: GoogleEmulator, box: GmailMailbox) -> None:
    emulator.fail_next(400, match="drafts.create")
    with pytest.raises(PermanentError):
        box.create_draft(outreach(), "k1", None)


def test_deliver_to_self_after_a_lost_answer_delivers_once(
    emulator: GoogleEmulator, box: GmailMailbox
) -> None:
    digest = EmailMessage()
    digest["From"] = ME
    digest["To"] = ME
    digest["Subject"] = "Your outreach today"
    digest.set_content("...")
    emulator.search_lag = 0
    emulator.drop_next(match="messages.insert", after=True)
    provider_id = box.deliver_to_self(digest)
    assert len(emulator.labelled("INBOX")) == 1
    assert list(box.fetch_raw([provider_id])) == [provider_id]


def test_the_in_process_quota_paces_requests(emulator: GoogleEmulator, sleeps: Sleeps) -> None:
    clock = [0.0]
    bucket = TokenBucket(
        10, clock=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s)
    )
    box = mailbox(emulator, sleeps, quota=bucket)
    box.changes(None)  # 1 unit
    box.create_draft(outreach(), "k1", None)  # 10 units, no look-up: waits for the bucket
    assert bucket.waited == pytest.approx(0.1)
    box.close()


# -- authorization and opening an account -----------------------------------------------------


class FakeFlow:
    """InstalledAppFlow's stand-in: the person clicked "Allow"."""

    def __init__(self, refresh_token: str | None = "1//refresh") -> None:
        self.refresh_token = refresh_token
        self.kwargs: dict[str, object] = {}

    def __call__(self, client_secrets: str, scopes: object) -> FakeFlow:
        self.scopes = scopes
        return self

    def run_local_server(self, **kwargs: object) -> object:
        self.kwargs = kwargs
        return types.SimpleNamespace(refresh_token=self.refresh_token, granted_scopes=list(SCOPES))


def client_secrets(tmp_path: Path) -> Path:
    path = tmp_path / "client.json"
    path.write_text(json.dumps({"installed": {"client_id": "cid", "client_secret": "csecret"}}))
    return path


def test_authorize_stores_the_refresh_token_in_a_private_file(tmp_path: Path) -> None:
    flow = FakeFlow()
    store = FileTokenStore(tmp_path)
    authorize("work", tmp_path, client_secrets(tmp_path), store=store, flow_factory=flow)
    assert flow.kwargs["port"] == 0
    assert flow.scopes == SCOPES
    path = tmp_path / "secrets" / "work.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    creds = load_credentials("work", tmp_path, store=store)
    assert (creds.refresh_token, creds.client_id, creds.token) == ("1//refresh", "cid", None)


def test_authorize_without_a_refresh_token_is_an_auth_error(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="refresh token"):
        authorize(
            "work",
            tmp_path,
            client_secrets(tmp_path),
            store=FileTokenStore(tmp_path),
            flow_factory=FakeFlow(None),
        )


def test_a_missing_token_says_how_to_authorize(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="outreach accounts add gmail"):
        load_credentials("work", tmp_path, store=FileTokenStore(tmp_path))


def test_the_keyring_holds_the_token_when_there_is_one(tmp_path: Path) -> None:
    backend = DictKeyring()
    store = KeyringTokenStore(backend)
    authorize("work", tmp_path, client_secrets(tmp_path), store=store, flow_factory=FakeFlow())
    assert load_credentials("work", tmp_path, store=store).refresh_token == "1//refresh"
    assert not (tmp_path / "secrets").exists()


def test_without_a_working_keyring_tokens_go_to_the_workspace(tmp_path: Path) -> None:
    if working_keyring() is not None:
        pytest.skip("this machine has a working keyring")
    assert isinstance(token_store(tmp_path), FileTokenStore)


def test_open_gmail_mailbox_and_calendar_for_an_account(
    emulator: GoogleEmulator, tmp_path: Path
) -> None:
    account = AccountSettings(name="work", kind="gmail", address=ME)
    box = open_gmail_mailbox(account, tmp_path, http=authorized_http(emulator))
    calendar = open_google_calendar(account, tmp_path, http=authorized_http(emulator))
    box.create_draft(outreach(), "k1", None)
    assert (tmp_path / "state" / "gmail-work-drafts.json").exists()
    assert calendar.changes(None)[0] == []
    box.close()
    calendar.close()
    FileTokenStore(tmp_path).save("work", {"refresh_token": "1//x", "client_id": "c"})
    assert (
        google_http(account, tmp_path, store=FileTokenStore(tmp_path)).credentials.refresh_token
        == "1//x"
    )


def test_a_reported_draft_is_no_longer_looked_at_once_settled(
    emulator: GoogleEmulator, sleeps: Sleeps
) -> None:
    """Given a sent draft reported days ago and forgotten by the cursor, activity in its
    thread does not make it look deleted."""
    now = [datetime.now(UTC)]
    box = mailbox(emulator, sleeps, clock=lambda: now[0])
    _, cursor = box.changes(None)
    ref = box.create_draft(outreach(), "k1", None)
    emulator.send_draft("k1")
    (sent,), cursor = box.changes(cursor)
    reply = emulator.receive(inbound(1, ref.message_id, "Re: Informational interview?"))
    _, cursor = box.changes(cursor)
    now[0] += timedelta(days=3)
    emulator.delete_message(reply)
    emulator.clear_log()
    forgotten = re.sub(r'"done":\[[^\]]*\]', '"done":[]', cursor)
    assert forgotten != cursor
    assert box.changes(forgotten)[0] == []
    assert (sent.kind, sent.key) == (MailChangeKind.SENT, "k1")
    assert "gmail.users.drafts.get" not in [c.method_name for c in emulator.calls()]
    box.close()


# -- the benchmarks, small, so that their code cannot rot --------------------------------------


def test_benchmarks_run_small() -> None:
    from tests.bench import google as bench

    idle = bench.gmail_idle()
    assert (idle["requests"], idle["units"]) == (1, 2)
    incremental = bench.gmail_incremental(messages=120)
    assert incremental["changes"] == 120
    assert incremental["requests"] <= incremental["target_requests"]
    assert incremental["largest_batch"] == 50
    drafts = bench.gmail_drafts(count=20)
    assert (drafts["drafts_in_mailbox"], drafts["failures"]) == (20, 0)


def test_a_draft_sent_without_our_headers_is_still_found_and_not_drafted_again(
    emulator: GoogleEmulator, sleeps: Sleeps
) -> None:
    """Given the person sent our draft from Gmail, which dropped our key and rewrote the
    Message-ID, the sent copy stands for the step; a later draft in the same thread that
    the person deleted is not mistaken for it."""
    now = [datetime.now(UTC)]
    box = mailbox(emulator, sleeps, clock=lambda: now[0])
    first = box.create_draft(outreach(), "k1", None)

    def strip(message: EmailMessage) -> None:
        del message["X-Outreach-Key"]
        del message["Message-ID"]
        message["Message-ID"] = "<CAGmail-rewritten@mail.gmail.com>"

    sent_id = emulator.send_draft("k1", edit=strip)
    found = box.find_draft("k1")
    assert found == box.create_draft(outreach(), "k1", None)
    assert found is not None
    assert (found.draft_id, found.message_id) == (sent_id, "<CAGmail-rewritten@mail.gmail.com>")
    assert emulator.drafts() == []
    now[0] += timedelta(days=5)
    thread = ThreadRef(first.thread_id, first.message_id, (first.message_id,))
    box.create_draft(outreach("Re: Informational interview?"), "k2", thread)
    emulator.delete_draft("k2")
    assert box.find_draft("k2") is None
    box.close()


def test_mail_the_person_writes_and_sends_is_sent_without_a_key(
    emulator: GoogleEmulator, box: GmailMailbox
) -> None:
    _, cursor = box.changes(None)
    emulator.person_sends(
        f"From: {ME}\r\nTo: {CONTACT}\r\nSubject: Quick question\r\n"
        "Message-ID: <own-1@example.org>\r\n\r\nHi Ada\r\n".encode()
    )
    changes, _ = box.changes(cursor)
    assert [(c.kind, c.message_id, c.key) for c in changes] == [
        (MailChangeKind.SENT, "<own-1@example.org>", None)
    ]
