"""The Outlook connector on the Graph emulator, with the real msal and requests: signing
in, tokens, throttling and failures, delta paging and expiry, replies in their
conversation, the digest, and what a tick costs in requests."""

from __future__ import annotations

import base64
import html
import json
import logging
import re
import threading
import webbrowser
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import requests

from connectors._graph_http import GraphClient
from connectors.base import Attendee, CalendarEvent, MailChangeKind, ThreadRef
from connectors.outlook import KEY_PROPERTY_ID, OutlookCalendar, OutlookMailbox
from connectors.outlook_auth import MsalTokens, authorize_device_code, authorize_interactive
from connectors.outlook_open import graph_client as open_graph_client
from connectors.outlook_open import open_outlook_mailbox
from connectors.quota import RedisTokenBucket, TokenBucket
from connectors.tokens import FileTokenStore
from pipeline.errors import AuthError, PermanentError, TransientError
from pipeline.settings import AccountSettings
from tests.contract.clients import graph_event
from tests.emulators.graph import (
    GraphEmulator,
    MemoryTokenStore,
    RoutedSession,
    graph_client,
    loopback_only,
    sign_in,
)
from tests.harness import Clock

ME = "ada@uni.example.edu"
CONTACT = "dana.kim@example.org"
MEETING = CalendarEvent(
    uid="dana-call@booking.example.com",
    summary="Ada / Dana",
    start=datetime(2026, 12, 10, 15, 0, tzinfo=UTC),
    end=datetime(2026, 12, 10, 15, 30, tzinfo=UTC),
    organizer=CONTACT,
    attendees=(Attendee(CONTACT, "Dana Kim", "ACCEPTED"), Attendee(ME, None)),
)


@pytest.fixture
def graph() -> Iterator[GraphEmulator]:
    with loopback_only(), GraphEmulator(ME) as emulator:
        yield emulator


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def outreach(subject: str = "Informational interview?") -> EmailMessage:
    message = EmailMessage()
    message["From"] = ME
    message["To"] = f"Dana Kim <{CONTACT}>"
    message["Subject"] = subject
    message.set_content("Would you have 20 minutes for a chat?")
    return message


def reply(parent: str, number: int = 1) -> bytes:
    return (
        f"From: Dana Kim <{CONTACT}>\r\nTo: {ME}\r\nSubject: Re: Informational interview?\r\n"
        f"Message-ID: <reply-{number}@example.org>\r\nIn-Reply-To: {parent}\r\n"
        f"References: {parent}\r\n\r\nHappy to talk on Thursday.\r\n"
    ).encode()


def form_of(body: bytes) -> dict[str, str]:
    from urllib.parse import parse_qs

    return {k: v[0] for k, v in parse_qs(body.decode()).items()}


# -- signing in ------------------------------------------------------------------------------


def test_outlook_device_code_sign_in_asks_for_the_fewest_scopes_and_never_mail_send(
    graph: GraphEmulator,
) -> None:
    """Given the person approves the code after one poll, msal stores a cache with a
    refresh token; the scopes asked are the four delegated ones, never Mail.Send."""
    store = MemoryTokenStore()
    shown: list[str] = []
    graph.auto_approve = True  # the person approves while msal polls

    signed_in = authorize_device_code(
        "uni",
        store,
        client_id=graph.client_id,
        tenant="organizations",
        show=shown.append,
        http_client=RoutedSession(graph.url),
    )
    asked = form_of(next(r for r in graph.requests if r.method_name == "login.devicecode").body)
    polls = [r for r in graph.requests if r.method_name == "login.token"]
    assert signed_in == ME
    assert "microsoft.com/devicelogin" in shown[0]
    assert set(asked["scope"].split()) >= {
        "Mail.ReadWrite",
        "Calendars.ReadWrite",
        "User.Read",
        "offline_access",
    }
    assert "Mail.Send" not in asked["scope"]
    assert len(polls) == 2  # one authorization_pending, then the tokens
    saved = store.load("uni")
    assert saved is not None
    assert (saved["client_id"], saved["tenant"]) == (graph.client_id, "organizations")
    assert "RefreshToken" in json.loads(saved["msal_cache"])


def test_outlook_an_expired_access_token_is_refreshed_once_and_the_cache_saved(
    graph: GraphEmulator,
) -> None:
    store = MemoryTokenStore()
    client = graph_client(graph, store=store)
    box = OutlookMailbox(ME, client)
    box.changes(None)
    before = store.load("uni")
    graph.expire_access_tokens()
    box.changes(None)
    refreshes = [
        r
        for r in graph.requests
        if r.method_name == "login.token" and form_of(r.body)["grant_type"] == "refresh_token"
    ]
    assert len(refreshes) == 1
    assert store.load("uni") != before  # the new refresh token is kept


@pytest.mark.parametrize("error", ["invalid_grant", "interaction_required"])
def test_outlook_a_revoked_grant_means_the_account_needs_the_person(
    graph: GraphEmulator, error: str
) -> None:
    """Given consent was revoked (or conditional access wants MFA), the next request
    raises AuthError that says to run `outreach accounts add outlook`, once, no loop."""
    box = OutlookMailbox(ME, graph_client(graph))
    graph.revoke(error)
    with pytest.raises(AuthError, match="outreach accounts add outlook") as err:
        box.changes(None)
    assert error in str(err.value)
    assert len([r for r in graph.requests if r.method_name == "login.token"]) == 2


def test_outlook_without_a_stored_sign_in_says_how_to_authorize(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="not authorized yet"):
        MsalTokens("uni", FileTokenStore(tmp_path), address=ME)


def test_outlook_tokens_never_reach_the_log(
    graph: GraphEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = MemoryTokenStore()
    box = OutlookMailbox(ME, graph_client(graph, store=store))
    box.changes(None)
    saved = store.load("uni")
    assert saved is not None
    cache = json.loads(saved["msal_cache"])
    secrets = [
        e["secret"] for section in ("AccessToken", "RefreshToken") for e in cache[section].values()
    ]
    assert secrets
    assert not [s for s in secrets if s in caplog.text]


def test_outlook_a_workspace_sign_in_opens_the_account_mailbox(
    graph: GraphEmulator, tmp_path: Path
) -> None:
    """Given a sign-in stored in the workspace's 0600 file, the account's mailbox opens
    from its settings and keeps its ledger in the workspace."""
    store = FileTokenStore(tmp_path)
    sign_in(graph, store)  # type: ignore[arg-type]
    account = AccountSettings(name="uni", kind="outlook", address=ME)
    client = open_graph_client(account, tmp_path, session=RoutedSession(graph.url), store=store)
    box = open_outlook_mailbox(account, tmp_path, client=client)
    box.create_draft(outreach(), "k1", None)
    assert (tmp_path / "secrets" / "uni.json").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "state" / "outlook-uni-drafts.json").exists()


# -- failures and throttling -----------------------------------------------------------------


def test_outlook_a_429_is_retried_after_its_retry_after(graph: GraphEmulator) -> None:
    sleeps = Sleeps()
    box = OutlookMailbox(ME, graph_client(graph, sleep=sleeps))
    graph.fail_next(429, retry_after=3, match="graph.messages.list")
    assert box.find_draft("k1") is None
    assert sleeps == [3.0]


def test_outlook_a_long_retry_after_goes_back_to_the_queue(graph: GraphEmulator) -> None:
    """A wait longer than the client will sit through becomes TransientError carrying it."""
    sleeps = Sleeps()
    box = OutlookMailbox(ME, graph_client(graph, sleep=sleeps))
    graph.fail_next(503, retry_after=120, match="graph.messages.list")
    with pytest.raises(TransientError) as err:
        box.find_draft("k1")
    assert err.value.retry_after == 120
    assert sleeps == []


@pytest.mark.parametrize(
    ("status", "error"), [(500, TransientError), (502, TransientError), (400, PermanentError)]
)
def test_outlook_graph_errors_are_translated(
    graph: GraphEmulator, status: int, error: type[Exception]
) -> None:
    box = OutlookMailbox(ME, graph_client(graph))
    graph.fail_next(status, match="graph.messages.list")
    with pytest.raises(error, match=str(status)):
        box.find_draft("k1")


def test_outlook_a_dropped_connection_is_transient(graph: GraphEmulator) -> None:
    box = OutlookMailbox(ME, graph_client(graph))
    graph.drop_next(match="graph.messages.list", after=False)
    with pytest.raises(TransientError, match="could not be reached"):
        box.find_draft("k1")


def test_outlook_graph_throttles_over_its_request_limit_and_the_client_waits(
    graph: GraphEmulator,
) -> None:
    """Given the mailbox's request budget is spent, Graph answers 429 with Retry-After,
    which the connector honours before trying again."""
    sleeps = Sleeps()
    box = OutlookMailbox(ME, graph_client(graph, sleep=sleeps))
    box.changes(None)
    graph.requests_per_window = len(graph.graph_requests())
    graph.window_seconds = 2
    with pytest.raises(TransientError):
        box.find_draft("k1")  # the fake sleep waits no time: the budget stays spent
    throttled = [r for r in graph.graph_requests() if r.status == 429]
    assert len(throttled) == 4
    assert sleeps and all(0 < s <= 2 for s in sleeps)


def test_outlook_at_most_four_requests_run_at_once_per_mailbox(graph: GraphEmulator) -> None:
    """Eight threads fetching at once: the client holds the fifth request back, so Graph
    never has to answer MailboxConcurrency with a 429."""
    client = graph_client(graph)
    box = OutlookMailbox(ME, client)
    ids = [graph.receive(reply("<x@example.org>", n)) for n in range(16)]
    graph.latency = 0.02
    with ThreadPoolExecutor(8) as pool:
        fetched = list(pool.map(lambda i: box.fetch_raw([i]), ids))
    assert all(len(f) == 1 for f in fetched)
    assert [r for r in graph.graph_requests() if r.status == 429] == []


# -- mail ------------------------------------------------------------------------------------


def test_outlook_delta_pages_are_followed_to_the_delta_link(graph: GraphEmulator) -> None:
    box = OutlookMailbox(ME, graph_client(graph), page_size=2)
    _, cursor = box.changes(None)
    for number in range(5):
        graph.receive(reply("<x@example.org>", number))
    graph.clear_log()
    changes, cursor = box.changes(cursor)
    assert [c.message_id for c in changes] == [f"<reply-{n}@example.org>" for n in range(5)]
    inbox_pages = [r for r in graph.graph_calls() if "inbox" in r.path]
    assert len(inbox_pages) == 3  # 2 + 2 + 1, the first in the batch
    assert box.changes(cursor)[0] == []


def test_outlook_an_expired_delta_link_resyncs_without_losing_or_repeating() -> None:
    """Given delta links expired (410), the next sync reports what arrived since the last
    round, once, and nothing older."""
    clock = Clock(datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
    with loopback_only(), GraphEmulator(ME, clock=clock) as graph:
        graph.receive(reply("<old@example.org>", 0))
        clock.advance(minutes=1)
        box = OutlookMailbox(ME, graph_client(graph), clock=clock)
        _, cursor = box.changes(None)
        clock.advance(minutes=1)
        graph.receive(reply("<x@example.org>", 1))
        graph.expire_delta_links()
        check_resync(graph, box, cursor)


def check_resync(graph: GraphEmulator, box: OutlookMailbox, cursor: str) -> None:
    changes, cursor = box.changes(cursor)
    assert [c.message_id for c in changes] == ["<reply-1@example.org>"]
    assert any(r.status == 410 for r in graph.graph_calls())
    assert box.changes(cursor)[0] == []


def test_outlook_a_reply_with_the_parent_id_is_made_by_create_reply_in_its_conversation(
    graph: GraphEmulator,
) -> None:
    box = OutlookMailbox(ME, graph_client(graph))
    parent = graph.receive(reply("<ours@uni.example.edu>"))
    thread = ThreadRef(None, "<reply-1@example.org>", ("<ours@uni.example.edu>",), parent)
    ref = box.create_draft(outreach("Re: Informational interview?"), "nudge-1", thread)
    again = box.create_draft(outreach("Re: Informational interview?"), "nudge-1", thread)
    (draft,) = graph.folder("drafts")
    assert again == ref
    assert ref.thread_id == graph.message(parent).conversation_id
    assert draft["In-Reply-To"] == "<reply-1@example.org>"
    assert draft["X-Outreach-Key"] == "nudge-1"
    assert [r.method_name for r in graph.graph_requests()].count("graph.messages.createReply") == 1


def test_outlook_a_draft_created_before_a_crash_is_found_and_not_made_twice(
    graph: GraphEmulator,
) -> None:
    """Given Graph made the draft but the mark failed, the retry marks that draft."""
    box = OutlookMailbox(ME, graph_client(graph))
    graph.fail_next(500, match="graph.messages.update")
    with pytest.raises(TransientError):
        box.create_draft(outreach(), "k1", None)
    ref = box.create_draft(outreach(), "k1", None)
    (only,) = graph.folder("drafts")
    assert only["Message-ID"] == ref.message_id
    assert box.find_draft("k1") == ref
    assert graph.message(ref.draft_id).properties[KEY_PROPERTY_ID] == "k1"


def test_outlook_the_digest_is_a_received_message_in_the_inbox_never_sent(
    graph: GraphEmulator,
) -> None:
    box = OutlookMailbox(ME, graph_client(graph))
    digest = EmailMessage()
    digest["From"] = ME
    digest["To"] = ME
    digest["Subject"] = "Your outreach today"
    digest.set_content("2 drafts wait for you.")
    provider_id = box.deliver_to_self(digest)
    delivered = graph.message(provider_id)
    assert (delivered.folder, delivered.is_draft) == ("inbox", False)
    assert not [r for r in graph.graph_requests() if r.path.endswith("/send")]


def test_outlook_a_sent_draft_keeps_its_immutable_id(graph: GraphEmulator) -> None:
    box = OutlookMailbox(ME, graph_client(graph))
    _, cursor = box.changes(None)
    ref = box.create_draft(outreach(), "k1", None)
    graph.send_draft("k1")
    (change,) = box.changes(cursor)[0]
    assert (change.kind, change.provider_id, change.key) == (
        MailChangeKind.SENT,
        ref.draft_id,
        "k1",
    )


def test_outlook_every_graph_request_asks_for_immutable_ids(graph: GraphEmulator) -> None:
    seen: list[str] = []

    class Recording(RoutedSession):
        def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def]
            if "graph.microsoft.com" in str(url):
                seen.append(str((kwargs.get("headers") or {}).get("Prefer", "")))
            return super().request(method, url, *args, **kwargs)

    store = MemoryTokenStore()
    sign_in(graph, store)
    session = Recording(graph.url)
    client = GraphClient(session, MsalTokens("uni", store, address=ME, http_client=session))
    OutlookMailbox(ME, client).changes(None)
    assert seen and all('IdType="ImmutableId"' in prefer for prefer in seen)


# -- what a tick costs ----------------------------------------------------------------------


def test_outlook_an_idle_tick_costs_one_batch_for_mail_and_one_request_for_the_calendar(
    graph: GraphEmulator,
) -> None:
    """outlook-idle: with nothing new, the three mail folders are asked in one $batch."""
    client = graph_client(graph)
    box, calendar = OutlookMailbox(ME, client), OutlookCalendar(client)
    _, mail_cursor = box.changes(None)
    _, calendar_cursor = calendar.changes(None)
    graph.clear_log()
    assert box.changes(mail_cursor)[0] == []
    assert calendar.changes(calendar_cursor)[0] == []
    assert [r.method_name for r in graph.graph_requests()] == ["graph.batch", "graph.events.delta"]
    assert len(graph.graph_calls()) == 4


def test_outlook_mime_drafts_go_up_base64_encoded(graph: GraphEmulator) -> None:
    box = OutlookMailbox(ME, graph_client(graph))
    box.create_draft(outreach(), "k1", None)
    (create,) = [r for r in graph.graph_requests() if r.method_name == "graph.messages.create"]
    assert b"X-Outreach-Key: k1" in base64.b64decode(create.body)


def test_outlook_every_request_takes_from_the_mailbox_budget_first(graph: GraphEmulator) -> None:
    """Given a budget of 2 requests a second, a sync of 4 requests waits for the rest."""
    waits = Sleeps()
    ticks = Clock(datetime(2026, 12, 8, tzinfo=UTC))

    def sleep(seconds: float) -> None:
        waits(seconds)
        ticks.advance(seconds=seconds)

    bucket = TokenBucket(2, clock=lambda: ticks().timestamp(), sleep=sleep)
    client = graph_client(graph)
    client.quota = bucket
    OutlookMailbox(ME, client).changes(None)  # a delta round per folder: 3 requests
    OutlookCalendar(client).changes(None)
    assert len(graph.graph_requests()) == 4
    assert sum(waits) == pytest.approx(1.0)


def test_outlook_the_budget_is_shared_through_redis_when_the_broker_is_redis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTREACH_BROKER_URL", "redis://127.0.0.1:6379/0")
    store = FileTokenStore(tmp_path)
    store.save("uni", {"client_id": "c", "tenant": "common", "msal_cache": "{}"})
    account = AccountSettings(name="uni", kind="outlook", address="Ada@Uni.Example.edu")
    client = open_graph_client(account, tmp_path, store=store)
    assert isinstance(client.quota, RedisTokenBucket)
    assert client.quota.key == "outreach:quota:graph:ada@uni.example.edu"
    assert client.quota.rate == pytest.approx(15.0)


def test_outlook_what_the_person_did_is_read_from_outlook_by_any_machine(
    graph: GraphEmulator,
) -> None:
    """Given drafts made by one worker machine and the sync on another (no shared
    ledger), a deleted draft is reported with its key, a discarded one is not, and a
    sent one whose key header was dropped still carries its key."""
    worker = OutlookMailbox(ME, graph_client(graph))
    syncer = OutlookMailbox(ME, graph_client(graph))
    _, cursor = syncer.changes(None)
    worker.create_draft(outreach("one"), "k1", None)
    worker.create_draft(outreach("two"), "k2", None)
    worker.create_draft(outreach("three"), "k3", None)
    graph.delete_draft("k1")
    assert worker.discard_draft("k2") is True

    def drop_key(message: EmailMessage) -> None:
        del message["X-Outreach-Key"]

    graph.send_draft("k3", edit=drop_key)
    changes, _ = syncer.changes(cursor)
    assert sorted((c.kind, c.key) for c in changes) == [
        (MailChangeKind.DRAFT_DELETED, "k1"),
        (MailChangeKind.SENT, "k3"),
    ]


def test_outlook_a_throttled_or_expired_answer_inside_a_batch_is_handled_on_its_own(
    graph: GraphEmulator,
) -> None:
    """Given the batch's Inbox part throttled and its Sent Items part gone (410), the
    Inbox is asked again after Retry-After and Sent Items starts a new round; the reply
    that arrived is reported once."""
    sleeps = Sleeps()
    box = OutlookMailbox(ME, graph_client(graph, sleep=sleeps))
    _, cursor = box.changes(None)
    graph.receive(reply("<x@example.org>", 1))
    graph.fail_next(429, retry_after=2, match="inbox")
    graph.fail_next(410, match="sentitems", reason="SyncStateNotFound")
    changes, cursor = box.changes(cursor)
    assert [c.message_id for c in changes] == ["<reply-1@example.org>"]
    assert sleeps == [2.0]
    assert box.changes(cursor)[0] == []


def test_outlook_browser_sign_in_comes_back_to_a_loopback_address(
    graph: GraphEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given the person's browser (played here) signs in and consents, Entra's page posts
    the code back to msal's one-time local address; msal redeems it with PKCE."""
    visited: list[str] = []

    def browser(uri: str, *args: object, **kwargs: object) -> bool:
        visited.append(uri)

        def person() -> None:
            page = RoutedSession(graph.url).get(uri, timeout=5).text
            action = html.unescape(re.findall(r'action="([^"]+)"', page)[0])
            fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page))
            plain = requests.Session()
            plain.trust_env = False
            plain.post(action, data=fields, timeout=5)

        threading.Thread(target=person, daemon=True).start()
        return True

    monkeypatch.setattr(webbrowser, "open", browser)
    store = MemoryTokenStore()
    signed_in = authorize_interactive(
        "uni",
        store,
        client_id=graph.client_id,
        tenant="common",
        login_hint=ME,
        http_client=RoutedSession(graph.url),
    )
    assert signed_in == ME
    assert visited[0].startswith("https://login.microsoftonline.com/common/oauth2/v2.0/authorize")
    assert "Mail.Send" not in visited[0]
    assert "Mail.ReadWrite" in graph.granted_scopes
    assert OutlookMailbox(ME, graph_client(graph, store=store)).changes(None)[0] == []


def test_outlook_raw_messages_are_fetched_twenty_to_a_batch(graph: GraphEmulator) -> None:
    """45 raw messages cost 3 requests; the bytes are exact and a missing one is left
    out."""
    box = OutlookMailbox(ME, graph_client(graph))
    raws = {
        graph.receive(reply("<x@example.org>", n)): reply("<x@example.org>", n) for n in range(45)
    }
    graph.clear_log()
    fetched = box.fetch_raw([*raws, "AAkALgAAAAAAHYQDEapmEc2byACqAC-gone"])
    assert fetched == raws
    assert [r.method_name for r in graph.graph_requests()] == ["graph.batch"] * 3


def test_outlook_the_calendar_window_moves_on_with_time() -> None:
    """Given a meeting booked beyond the first window's end, it is reported once the
    window has moved on (half the horizon later)."""
    clock = Clock(datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
    with loopback_only(), GraphEmulator(ME, clock=clock) as graph:
        calendar = OutlookCalendar(graph_client(graph), clock=clock, horizon_days=60)
        _, cursor = calendar.changes(None)
        far = clock() + timedelta(days=75)
        graph.add_event(graph_event(replace(MEETING, start=far, end=far + timedelta(hours=1))))
        assert calendar.changes(cursor)[0] == []
        clock.advance(days=31)
        changes, cursor = calendar.changes(cursor)
        assert [c.uid for c in changes] == [MEETING.uid]
        assert calendar.changes(cursor)[0] == []


def test_outlook_a_graph_answer_slower_than_the_time_out_is_transient(
    graph: GraphEmulator,
) -> None:
    client = graph_client(graph)
    client.timeout = 0.2
    graph.stall_next(1.0, match="graph.messages.list")
    with pytest.raises(TransientError, match="did not answer in time"):
        OutlookMailbox(ME, client).find_draft("k1")


def test_outlook_a_worker_takes_a_new_sign_in_without_restarting(graph: GraphEmulator) -> None:
    """Given a long-running worker whose sign-in was revoked, when the person signs in
    again (`accounts add outlook` in another process), the worker's next request works."""
    store = MemoryTokenStore()
    box = OutlookMailbox(ME, graph_client(graph, store=store))
    graph.revoke("invalid_grant")
    with pytest.raises(AuthError):
        box.changes(None)
    sign_in(graph, store)
    assert box.changes(None)[0] == []


def test_outlook_one_mailbox_shares_its_four_slots_between_its_clients() -> None:
    """The mailbox and the calendar of one account, opened apart, hold at most four
    requests in flight together; another mailbox has slots of its own."""
    session = requests.Session()

    def client(mailbox: str) -> GraphClient:
        return GraphClient(session, lambda force_refresh=False: "t", mailbox=mailbox)

    mail, calendar, other = client(ME), client(ME.upper()), client("sam@uni.example.edu")
    assert mail._slots is calendar._slots
    assert other._slots is not mail._slots


def test_outlook_a_draft_deleted_while_the_drafts_link_expired_is_still_reported() -> None:
    """Given a draft deleted in the gap and Drafts' delta link expired (410), the new
    round reports that deletion once, and not one reported before the gap (nor one
    deleted for good, which cannot be dated)."""
    clock = Clock(datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
    with loopback_only(), GraphEmulator(ME, clock=clock) as graph:
        box = OutlookMailbox(ME, graph_client(graph), clock=clock)
        _, cursor = box.changes(None)
        box.create_draft(outreach("one"), "k1", None)
        box.create_draft(outreach("two"), "k2", None)
        box.create_draft(outreach("three"), "k3", None)
        graph.delete_draft("k1")
        clock.advance(minutes=5)
        first, cursor = box.changes(cursor)
        clock.advance(minutes=5)
        graph.delete_draft("k3")
        graph.empty_deleted_items()  # k1 and k3 gone for good: k3's deletion is lost
        graph.delete_draft("k2")
        graph.expire_delta_links()
        changes, cursor = box.changes(cursor)
        assert [(c.kind, c.key) for c in first] == [(MailChangeKind.DRAFT_DELETED, "k1")]
        assert [(c.kind, c.key) for c in changes] == [(MailChangeKind.DRAFT_DELETED, "k2")]
        assert box.changes(cursor)[0] == []


def test_outlook_a_draft_the_person_deleted_is_not_revived_by_a_new_create(
    graph: GraphEmulator,
) -> None:
    """Given the person deleted our draft, creating the step's draft again makes a new
    one in Drafts and leaves the deleted one in Deleted Items."""
    box = OutlookMailbox(ME, graph_client(graph))
    first = box.create_draft(outreach(), "k1", None)
    graph.delete_draft("k1")
    again = box.create_draft(outreach(), "k1", None)
    assert again.draft_id != first.draft_id
    assert len(graph.folder("drafts")) == 1
    assert len(graph.folder("deleteditems")) == 1


def test_outlook_our_events_are_known_by_a_machine_that_did_not_write_them(
    graph: GraphEmulator,
) -> None:
    """Given prep notes written by one worker, another machine's sync reports them with
    their key and our uid, and a later put keeps that uid."""
    writer = OutlookCalendar(graph_client(graph))
    reader = OutlookCalendar(graph_client(graph))
    _, cursor = reader.changes(None)
    prep = replace(MEETING, uid="prep-dana@outreach", summary="Prep", organizer=None, attendees=())
    uid = writer.put_event(prep, "prep-1")
    (change,) = reader.changes(cursor)[0]
    assert (change.uid, change.event and change.event.key) == ("prep-dana@outreach", "prep-1")
    later = prep.start + timedelta(hours=1)
    assert reader.put_event(replace(prep, uid="", start=later, end=later), "prep-1") == uid
