"""When a message the person sent could have come from two of our drafts: both written
to the same person, and the person rewrote one in their own mail client (our key,
Message-ID and thread gone), the draft it reads most like is the one that was sent.

And the measure itself (pipeline.likeness): an edited message reads like its draft, not
like another message to the same person; quoted text does not count."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime

from pipeline.likeness import fingerprint, likeness, message_fingerprint
from tests.harness import DANA, LEE, ME, World

SCHEDULING = (
    "Thank you so much for getting back to me. Would Thursday or Friday afternoon work "
    "for a 20 minute call? I am happy to fit around your calendar."
)
NOTE = (
    "Thank you for introducing me to Lee Chen. I wrote to Lee this morning and will let "
    "you know how the conversation goes."
)


def test_an_edited_message_reads_like_its_draft_and_not_like_another() -> None:
    edited = SCHEDULING.replace("so much ", "").replace("happy", "glad")
    draft, other = fingerprint("Re: a chat", SCHEDULING), fingerprint("Lee Chen", NOTE)
    sent = fingerprint("Re: a chat", edited)
    assert likeness(sent, draft) > 0.4
    assert likeness(sent, other) < 0.1
    assert likeness(draft, draft) == 1.0
    assert likeness([], draft) == 0.0


def test_quoted_lines_do_not_make_two_messages_alike() -> None:
    quoted = "\n".join(f"> {line}" for line in NOTE.split(". "))
    assert likeness(fingerprint("Hi", f"Sounds good.\n{quoted}"), fingerprint("Hi", NOTE)) < 0.1


def test_a_rewritten_scheduling_answer_is_matched_to_it_not_to_the_newer_note(
    world: World,
) -> None:
    """Given Dana introduced Lee, the outreach to Lee sent, and two drafts to Dana waiting
    (the scheduling answer, then the note back to her about Lee), when the person deletes
    the scheduling answer and sends their own version of it as a new message, then the
    scheduling answer is the step sent, and the note to Dana is still waiting."""
    world.dana_introduces_lee()
    scheduling = world.draft_for(DANA, "scheduling_reply")
    note = world.draft_for(DANA, "referrer_note")
    ours = scheduling.message.get_body(("plain",)).get_content()
    assert message_fingerprint(scheduling.message) != message_fingerprint(note.message)

    own = EmailMessage()
    own["From"] = f"Ada Park <{ME}>"
    own["To"] = f"Dana Kim <{DANA}>"
    own["Subject"] = "Times for our chat"
    own["Date"] = format_datetime(world.clock())
    own["Message-ID"] = "<rewritten-2@mail.client.example>"
    own.set_content(ours.replace("Hi Dana", "Dear Dana", 1) + "\nAll the best, Ada")
    world.mailbox.delete_draft(scheduling.key)
    world.mailbox.send_message(bytes(own))
    world.tick()

    assert ("scheduling_reply", 1, "sent") in world.steps(DANA)
    assert ("referrer_note", 1, "drafted") in world.steps(LEE)
