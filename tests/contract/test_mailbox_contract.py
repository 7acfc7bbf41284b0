"""What every Mailbox does, whatever stands behind it."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

import pytest

from connectors.base import Mailbox, MailChange, MailChangeKind, ThreadRef
from pipeline.errors import PermanentError
from tests.contract.clients import CONTACT, MailWorld, outreach
from tests.contract.conftest import GRACE, ME, MovableClock


def reply_from_contact(parent_id: str, message_id: str = "<reply-1@example.com>") -> bytes:
    return (
        f"From: Ada <{CONTACT}>\r\nTo: {ME}\r\nSubject: Re: Informational interview?\r\n"
        f"Date: Tue, 24 Nov 2026 10:00:00 +0100\r\nMessage-ID: {message_id}\r\n"
        f"In-Reply-To: {parent_id}\r\nReferences: {parent_id}\r\n\r\nHappy to! Thursday?\r\n"
    ).encode()


def sync(box: Mailbox, cursor: str) -> tuple[list[MailChange], str]:
    return box.changes(cursor)


@pytest.fixture
def cursor(mail: MailWorld) -> str:
    _, start = mail.box.changes(None)
    return start


def test_implementation_satisfies_the_port(mail: MailWorld) -> None:
    assert isinstance(mail.box, Mailbox)
    assert mail.box.address == ME


def test_first_sync_reports_nothing_historic(mail: MailWorld) -> None:
    """Given mail already in the inbox, a sync without a cursor starts from now."""
    mail.receive(reply_from_contact("<old@example.org>", "<old-reply@example.com>"))
    changes, cursor = mail.box.changes(None)
    assert changes == []
    assert mail.box.changes(cursor)[0] == []


def test_create_draft_is_idempotent_by_key(mail: MailWorld) -> None:
    first = mail.box.create_draft(outreach(), "k1", None)
    second = mail.box.create_draft(outreach("a different subject"), "k1", None)
    assert first == second
    assert len(mail.drafts()) == 1
    assert mail.drafts()[0]["X-Outreach-Key"] == "k1"
    assert mail.drafts()[0]["Message-ID"] == first.message_id


def test_create_draft_leaves_the_callers_message_alone(mail: MailWorld) -> None:
    message = outreach()
    mail.box.create_draft(message, "k1", None)
    assert "X-Outreach-Key" not in message
    assert "Message-ID" not in message


def test_create_draft_keeps_a_message_id_the_pipeline_set(mail: MailWorld) -> None:
    message = outreach()
    message["Message-ID"] = "<step-7@outreach.example.org>"
    ref = mail.box.create_draft(message, "k7", None)
    assert ref.message_id == "<step-7@outreach.example.org>"


def test_derived_message_ids_are_stable_and_distinct(mail: MailWorld) -> None:
    one = mail.box.create_draft(outreach(), "k1", None)
    two = mail.box.create_draft(outreach(), "k2", None)
    assert one.message_id != two.message_id
    assert one.message_id.startswith("<") and one.message_id.endswith(">")


def test_find_draft(mail: MailWorld) -> None:
    assert mail.box.find_draft("k1") is None
    ref = mail.box.create_draft(outreach(), "k1", None)
    assert mail.box.find_draft("k1") == ref
    assert mail.box.find_draft("other") is None


def test_a_sent_draft_is_reported_sent_with_its_key(mail: MailWorld, cursor: str) -> None:
    ref = mail.box.create_draft(outreach(), "k1", None)
    mail.send_draft("k1")
    changes, cursor = mail.box.changes(cursor)
    assert [(c.kind, c.key, c.message_id) for c in changes] == [
        (MailChangeKind.SENT, "k1", ref.message_id)
    ]
    assert changes[0].at is not None and changes[0].at.tzinfo is not None
    assert mail.box.changes(cursor)[0] == []
    assert mail.drafts() == []


def test_a_sent_draft_is_never_reported_deleted(mail: MailWorld, cursor: str) -> None:
    mail.box.create_draft(outreach(), "k1", None)
    first, cursor = mail.box.changes(cursor)
    mail.send_draft("k1")
    seen: list[MailChange] = []
    for _ in range(3):
        changes, cursor = mail.box.changes(cursor)
        seen.extend(changes)
    assert first == []
    assert [c.kind for c in seen] == [MailChangeKind.SENT]


def test_a_sent_draft_whose_key_header_was_dropped_is_matched_by_message_id(
    mail: MailWorld, cursor: str
) -> None:
    """Some clients drop unknown headers on send; the Message-ID still links it."""
    ref = mail.box.create_draft(outreach(), "k1", None)

    def drop_key(message: EmailMessage) -> None:
        del message["X-Outreach-Key"]

    mail.send_draft("k1", edit=drop_key)
    changes, _ = mail.box.changes(cursor)
    assert [(c.kind, c.key, c.message_id) for c in changes] == [
        (MailChangeKind.SENT, "k1", ref.message_id)
    ]


def test_a_draft_edited_beyond_recognition_and_sent_carries_its_recipients(
    mail: MailWorld, cursor: str
) -> None:
    """Given a draft whose key header, Message-ID, subject and body the person changed
    before sending, then one SENT change names the contact among its recipients (what
    the pipeline matches it by); it may also report the original draft as deleted."""
    mail.box.create_draft(outreach(), "k1", None)

    def rewrite(message: EmailMessage) -> None:
        del message["X-Outreach-Key"]
        del message["Message-ID"]
        message["Message-ID"] = "<rewritten-1@mail.client.example>"
        del message["Subject"]
        message["Subject"] = "Twenty minutes of your time?"
        message["Cc"] = "Mentor <mentor@example.edu>"
        message.set_content("Rewritten from scratch in my own mail client.")

    mail.send_draft("k1", edit=rewrite)
    changes, _ = mail.box.changes(cursor)
    sent = [c for c in changes if c.kind is MailChangeKind.SENT]
    assert len(sent) == 1
    assert sent[0].recipients == (CONTACT, "mentor@example.edu")
    assert {c.kind for c in changes} <= {MailChangeKind.SENT, MailChangeKind.DRAFT_DELETED}


def test_a_draft_deleted_then_sent_later_is_reported_sent_under_its_message_id(
    mail: MailWorld, cursor: str
) -> None:
    """Given a draft that left Drafts and was reported deleted (a scheduled send, an undo
    send, a Sent folder synced late), when its copy turns up in Sent later without our
    key header, then it is reported SENT with the draft's Message-ID: what the pipeline
    matches to revive the step, so it never stays declined."""
    ref = mail.box.create_draft(outreach(), "k1", None)
    (draft,) = mail.drafts()
    mail.delete_draft("k1")
    gone, cursor = mail.box.changes(cursor)
    assert [(c.kind, c.key) for c in gone] == [(MailChangeKind.DRAFT_DELETED, "k1")]
    del draft["X-Outreach-Key"]
    draft["Date"] = "Tue, 24 Nov 2026 18:00:00 +0000"
    mail.send_own(draft.as_bytes())
    changes, _ = mail.box.changes(cursor)
    assert [(c.kind, c.message_id) for c in changes] == [(MailChangeKind.SENT, ref.message_id)]
    assert CONTACT in changes[0].recipients


def test_within_the_grace_period_a_draft_sent_late_is_sent_and_never_deleted(
    mail_with_grace: tuple[MailWorld, MovableClock],
) -> None:
    """Given a grace period, a draft that left Drafts is not called deleted while it
    lasts; when its copy reaches Sent within it (a Sent folder synced late), the one
    change is SENT with the draft's Message-ID, now and after the grace period."""
    mail, clock = mail_with_grace
    _, cursor = mail.box.changes(None)
    ref = mail.box.create_draft(outreach(), "k1", None)
    (draft,) = mail.drafts()
    mail.delete_draft("k1")
    waiting, cursor = mail.box.changes(cursor)
    assert waiting == []
    clock.now += GRACE / 2
    mail.send_own(draft.as_bytes())
    seen, cursor = mail.box.changes(cursor)
    clock.now += GRACE * 2
    later, _ = mail.box.changes(cursor)
    assert [(c.kind, c.message_id) for c in seen + later] == [(MailChangeKind.SENT, ref.message_id)]


def test_a_draft_deleted_and_never_sent_is_deleted_once_the_grace_period_ends(
    mail_with_grace: tuple[MailWorld, MovableClock],
) -> None:
    """Given a grace period that the person set, a draft deleted and never sent is
    reported deleted, once, when the grace period has passed, and not before."""
    mail, clock = mail_with_grace
    _, cursor = mail.box.changes(None)
    ref = mail.box.create_draft(outreach(), "k1", None)
    mail.delete_draft("k1")
    early, cursor = mail.box.changes(cursor)
    clock.now += GRACE - timedelta(minutes=1)
    still, cursor = mail.box.changes(cursor)
    clock.now += timedelta(minutes=2)
    gone, cursor = mail.box.changes(cursor)
    clock.now += GRACE
    after, _ = mail.box.changes(cursor)
    assert (early, still, after) == ([], [], [])
    assert [(c.kind, c.key, c.message_id) for c in gone] == [
        (MailChangeKind.DRAFT_DELETED, "k1", ref.message_id)
    ]


def test_a_sent_draft_is_found_by_key_and_not_created_again(mail: MailWorld, cursor: str) -> None:
    mail.box.create_draft(outreach(), "k1", None)
    mail.send_draft("k1")
    mail.box.changes(cursor)
    found = mail.box.find_draft("k1")
    again = mail.box.create_draft(outreach(), "k1", None)
    assert found is not None
    assert again == found
    assert mail.drafts() == []


def test_a_deleted_draft_is_reported_once(mail: MailWorld, cursor: str) -> None:
    ref = mail.box.create_draft(outreach(), "k1", None)
    mail.delete_draft("k1")
    changes, cursor = mail.box.changes(cursor)
    assert [(c.kind, c.key, c.message_id) for c in changes] == [
        (MailChangeKind.DRAFT_DELETED, "k1", ref.message_id)
    ]
    assert mail.box.changes(cursor)[0] == []
    assert mail.box.find_draft("k1") is None


def test_a_discarded_draft_is_gone_and_not_reported_as_deleted(
    mail: MailWorld, cursor: str
) -> None:
    """The pipeline withdraws a draft that became moot; the person did not decline it."""
    mail.box.create_draft(outreach(), "k1", None)
    mail.box.create_draft(outreach("Other"), "k2", None)
    assert mail.box.discard_draft("k1") is True
    assert [str(d["Subject"]) for d in mail.drafts()] == ["Other"]
    assert mail.box.find_draft("k1") is None
    assert mail.box.changes(cursor)[0] == []
    assert mail.box.discard_draft("k1") is False  # harmless a second time


def test_a_sent_draft_cannot_be_discarded(mail: MailWorld, cursor: str) -> None:
    mail.box.create_draft(outreach(), "k1", None)
    mail.send_draft("k1")
    assert mail.box.discard_draft("k1") is False
    assert len(mail.sent()) == 1
    assert mail.box.discard_draft("never-made") is False


def test_inbound_is_reported_once(mail: MailWorld, cursor: str) -> None:
    ref = mail.box.create_draft(outreach(), "k1", None)
    mail.send_draft("k1")
    _, cursor = mail.box.changes(cursor)
    mail.receive(reply_from_contact(ref.message_id))
    changes, cursor = mail.box.changes(cursor)
    assert [(c.kind, c.message_id, c.in_reply_to, c.references) for c in changes] == [
        (MailChangeKind.INBOUND, "<reply-1@example.com>", ref.message_id, (ref.message_id,))
    ]
    assert changes[0].at is not None and changes[0].at.utcoffset() == timedelta(0)
    assert mail.box.changes(cursor)[0] == []


def test_an_inbound_reply_shares_the_thread_of_our_message(mail: MailWorld, cursor: str) -> None:
    ref = mail.box.create_draft(outreach(), "k1", None)
    mail.send_draft("k1")
    mail.receive(reply_from_contact(ref.message_id))
    changes, _ = mail.box.changes(cursor)
    sent, inbound = changes
    assert sent.thread_id is not None
    assert inbound.thread_id == sent.thread_id == ref.thread_id


def test_an_old_cursor_reports_the_same_changes_again(mail: MailWorld, cursor: str) -> None:
    """A caller whose transaction failed retries with its old cursor and loses nothing."""
    mail.receive(reply_from_contact("<x@example.org>"))
    first, _ = mail.box.changes(cursor)
    again, _ = mail.box.changes(cursor)
    assert len(first) == 1
    assert again == first


def test_an_unknown_cursor_starts_from_now(mail: MailWorld) -> None:
    mail.receive(reply_from_contact("<x@example.org>"))
    changes, cursor = mail.box.changes("not-a-cursor-of-this-mailbox")
    assert changes == []
    assert mail.box.changes(cursor)[0] == []


def test_fetch_raw_returns_the_exact_bytes(mail: MailWorld, cursor: str) -> None:
    raw = reply_from_contact("<x@example.org>")
    mail.receive(raw)
    changes, _ = mail.box.changes(cursor)
    ids = [c.provider_id for c in changes]
    assert mail.box.fetch_raw(ids) == {ids[0]: raw}
    assert mail.box.fetch_raw(["no-such-message"]) == {}


def test_a_reply_draft_keeps_its_threading_headers(mail: MailWorld) -> None:
    thread = ThreadRef(None, "<reply-1@example.com>", ("<ours@example.org>",))
    message = outreach("Re: Informational interview?")
    ref = mail.box.create_draft(message, "k2", thread)
    (draft,) = mail.drafts()
    assert draft["In-Reply-To"] == "<reply-1@example.com>"
    assert draft["References"].split() == ["<ours@example.org>", "<reply-1@example.com>"]
    assert ref.message_id == draft["Message-ID"]


def test_a_sent_reply_keeps_its_threading_headers(mail: MailWorld, cursor: str) -> None:
    thread = ThreadRef(None, "<reply-1@example.com>", ("<ours@example.org>",))
    mail.box.create_draft(outreach("Re: Informational interview?"), "k2", thread)
    mail.send_draft("k2")
    (change,) = mail.box.changes(cursor)[0]
    assert change.in_reply_to == "<reply-1@example.com>"
    assert change.references == ("<ours@example.org>", "<reply-1@example.com>")


def test_deliver_to_self_lands_in_the_inbox_unreported(mail: MailWorld, cursor: str) -> None:
    digest = EmailMessage()
    digest["From"] = ME
    digest["To"] = f"Me <{ME}>"
    digest["Subject"] = "Your outreach today"
    digest.set_content("2 drafts wait for you.")
    provider_id = mail.box.deliver_to_self(digest)
    assert [m["Subject"] for m in mail.inbox()] == ["Your outreach today"]
    assert list(mail.box.fetch_raw([provider_id])) == [provider_id]
    assert mail.box.changes(cursor)[0] == []


@pytest.mark.parametrize(
    ("to", "cc"),
    [(CONTACT, None), (f"{ME}, {CONTACT}", None), (ME, CONTACT), (None, None)],
)
def test_deliver_to_self_refuses_other_recipients(
    mail: MailWorld, to: str | None, cc: str | None
) -> None:
    message = EmailMessage()
    message["From"] = ME
    if to:
        message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Subject"] = "not a digest"
    message.set_content("...")
    with pytest.raises(PermanentError):
        mail.box.deliver_to_self(message)
    assert mail.inbox() == []
