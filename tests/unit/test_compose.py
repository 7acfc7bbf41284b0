"""pipeline.compose: templates rendered into standards-correct, header-safe messages."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from pipeline.compose import MAX_LINE_OCTETS, TemplateSet, message_id_for
from pipeline.errors import TemplateError
from tests.unit.composing import (
    MEETING_START,
    envelope,
    full_context,
    parse,
    text_of,
)


def header_block(message: EmailMessage) -> bytes:
    return message.as_bytes().split(b"\r\n\r\n", 1)[0]


@pytest.fixture
def templates() -> TemplateSet:
    return TemplateSet()


# --------------------------------------------------------------------------- Message-ID


def test_message_id_is_the_same_for_the_same_key() -> None:
    assert message_id_for("acct1/contact42/nudge/1", "ana@example.edu") == message_id_for(
        "acct1/contact42/nudge/1", "ana@example.edu"
    )


def test_message_id_differs_between_keys_and_does_not_reveal_the_key() -> None:
    first = message_id_for("acct1/contact42/nudge/1", "ana@example.edu")
    second = message_id_for("acct1/contact42/nudge/2", "ana@example.edu")
    assert first != second
    assert "contact42" not in first


def test_message_id_is_an_angle_bracketed_id_on_the_sender_domain() -> None:
    value = message_id_for("k", "Ana@Example.EDU")
    assert value.startswith("<") and value.endswith("@example.edu>")


def test_message_id_falls_back_to_a_reserved_domain_for_a_bad_address() -> None:
    assert message_id_for("k", "not an address").endswith("@outreach.invalid>")


# --------------------------------------------------------------------------- headers


def test_rendered_message_has_the_standard_headers(templates: TemplateSet) -> None:
    message = parse(templates.render_message("first_cold", full_context(), envelope()))

    assert message["Message-ID"] == message_id_for("acct1/contact42/first/0", "ana@example.edu")
    assert message["X-Outreach-Key"] == "acct1/contact42/first/0"
    assert message["MIME-Version"] == "1.0"
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message["Date"].datetime == MEETING_START
    assert message["To"].addresses[0].addr_spec == "jordan@city.example"
    assert message["From"].addresses[0].addr_spec == "ana@example.edu"
    assert message["In-Reply-To"] is None
    assert message["References"] is None


def test_lines_end_in_crlf(templates: TemplateSet) -> None:
    raw = templates.render_message("first_cold", full_context(), envelope()).as_bytes()
    assert b"\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_non_ascii_names_and_subject_are_encoded_and_round_trip(
    templates: TemplateSet,
) -> None:
    context = full_context()
    context["contact"]["field"] = "Stadtplanung in München"
    context["contact"]["first_name"] = "Zoë"
    message = templates.render_message(
        "first_cold", context, envelope(to=("Zoë Müller-Łukasiewicz", "zoe@example.de"))
    )

    headers = header_block(message)
    assert headers.isascii()
    assert b"=?utf-8?" in headers
    parsed = parse(message)
    assert parsed["Subject"] == "Could I ask you about your work in Stadtplanung in München?"
    assert parsed["To"].addresses[0].display_name == "Zoë Müller-Łukasiewicz"
    assert parsed["From"].addresses[0].display_name == "Ana Pérez"
    assert "Hi Zoë," in text_of(message)


def test_cc_addresses_are_set_from_the_envelope(templates: TemplateSet) -> None:
    message = parse(
        templates.render_message(
            "referrer_note",
            full_context(),
            envelope(cc=(("Maria Lopez", "maria@example.org"),)),
        )
    )
    assert [a.addr_spec for a in message["Cc"].addresses] == ["maria@example.org"]


def test_a_naive_date_is_refused(templates: TemplateSet) -> None:
    with pytest.raises(TemplateError, match="timezone-aware"):
        templates.render_message(
            "first_cold", full_context(), envelope(date=datetime(2026, 12, 1, 9, 0))
        )


def test_an_invalid_recipient_address_is_refused(templates: TemplateSet) -> None:
    with pytest.raises(TemplateError, match="invalid To address"):
        templates.render_message(
            "first_cold",
            full_context(),
            envelope(to=("Jordan", "jordan@city.example\r\nBcc: x@y")),
        )


# --------------------------------------------------------------------------- header injection

INJECTION = "Jordan\r\nBcc: attacker@evil.example\r\n\r\nInjected body"
EXPECTED_HEADERS = {
    "from",
    "to",
    "date",
    "message-id",
    "subject",
    "x-outreach-key",
    "content-type",
    "content-transfer-encoding",
    "mime-version",
}


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("first_cold", "first_name"),
        ("first_cold", "field"),  # printed in the Subject line
        ("first_referred", "referred_by"),  # printed in the Subject line
        ("thank_you", "first_name"),  # printed in the Subject line
        ("referrer_note", "name"),
    ],
)
def test_a_contact_field_with_line_breaks_never_adds_a_header(
    templates: TemplateSet, kind: str, field: str
) -> None:
    context = full_context()
    context["contact"][field] = INJECTION
    context["referred"]["name"] = INJECTION
    message = templates.render_message(
        kind, context, envelope(to=(INJECTION, "jordan@city.example"))
    )

    parsed = parse(message)
    assert {name.lower() for name in parsed} == EXPECTED_HEADERS
    assert parsed["Bcc"] is None
    assert b"\r\nBcc:" not in header_block(message)
    assert parsed["To"].addresses[0].addr_spec == "jordan@city.example"


def test_a_subject_value_with_line_breaks_stays_on_the_subject(templates: TemplateSet) -> None:
    context = full_context()
    context["contact"]["field"] = "planning\r\nBcc: x@y\n\nbody"
    parsed = parse(templates.render_message("first_cold", context, envelope()))
    assert parsed["Subject"] == "Could I ask you about your work in planning Bcc: x@y body?"


def test_line_breaks_in_body_values_are_kept(tmp_path: Path) -> None:
    (tmp_path / "thank_you.txt.j2").write_text("Subject: Thanks\n\n{{ notes }}\n")
    context = full_context()
    context["notes"] = "First point.\r\nSecond point."
    body = text_of(TemplateSet(tmp_path).render_message("thank_you", context, envelope()))
    assert "First point.\nSecond point." in body


def test_the_thank_you_quotes_the_advice_noted_as_advice(templates: TemplateSet) -> None:
    """A note the person wrote to themselves is quoted as the contact's advice, not
    pasted under a heading."""
    context = full_context()
    context["notes"] = "Learn SQL before the fall\nAsk Lee about the fellowship"
    body = " ".join(text_of(templates.render_message("thank_you", context, envelope())).split())
    assert 'I wrote down your advice ("Learn SQL before the fall")' in body
    assert "Ask Lee" not in body


def test_a_template_cannot_set_a_header_the_pipeline_owns(tmp_path: Path) -> None:
    (tmp_path / "first_cold.txt.j2").write_text("Subject: hi\nBcc: x@y\n\nbody\n")
    with pytest.raises(TemplateError, match="Bcc"):
        TemplateSet(tmp_path).render_message("first_cold", full_context(), envelope())


def test_a_template_without_subject_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "first_cold.txt.j2").write_text("X-Note: hi\n\nbody\n")
    with pytest.raises(TemplateError, match="no Subject"):
        TemplateSet(tmp_path).render_message("first_cold", full_context(), envelope())


# --------------------------------------------------------------------------- threading


def test_a_reply_carries_in_reply_to_references_and_re_subject(templates: TemplateSet) -> None:
    message = parse(
        templates.render_message(
            "nudge_1",
            full_context(),
            envelope(
                key="acct1/contact42/nudge/1",
                in_reply_to="<first@example.edu>",
                references=("<root@example.edu>",),
            ),
        )
    )
    assert message["Subject"] == "Re: Could I ask you about your work?"
    assert message["In-Reply-To"] == "<first@example.edu>"
    assert str(message["References"]).split() == ["<root@example.edu>", "<first@example.edu>"]


def test_a_subject_that_already_starts_with_re_gets_no_second_prefix(
    templates: TemplateSet,
) -> None:
    context = full_context()
    context["thread"]["original_subject"] = "RE: Coffee chat?"
    message = templates.render_message("nudge_2", context, envelope(in_reply_to="<a@b.c>"))
    assert message["Subject"] == "RE: Coffee chat?"


def test_long_message_ids_are_folded_but_never_encoded(templates: TemplateSet) -> None:
    ids = tuple(f"<{'x' * 60}.{n}@mail.example-university.edu>" for n in range(4))
    message = templates.render_message(
        "nudge_1", full_context(), envelope(in_reply_to=ids[-1], references=ids)
    )
    for line in header_block(message).split(b"\r\n"):
        if line.startswith((b"References:", b"In-Reply-To:", b" ")):
            assert b"=?" not in line
    parsed = parse(message)
    assert str(parsed["References"]).split() == list(ids)
    assert parsed["In-Reply-To"] == ids[-1]


def test_bare_message_ids_are_bracketed_and_garbage_is_dropped(templates: TemplateSet) -> None:
    message = parse(
        templates.render_message(
            "nudge_1",
            full_context(),
            envelope(in_reply_to="parent@example.edu", references=("not an id", "<r@x.y>")),
        )
    )
    assert message["In-Reply-To"] == "<parent@example.edu>"
    assert str(message["References"]).split() == ["<r@x.y>", "<parent@example.edu>"]


# --------------------------------------------------------------------------- strictness


def test_a_missing_field_is_an_error_naming_the_field_file_and_line(
    templates: TemplateSet,
) -> None:
    context = full_context()
    del context["contact"]["role"]
    with pytest.raises(TemplateError) as caught:
        templates.render_message("first_cold", context, envelope())
    source = (templates.path_of("first_cold")).read_text().splitlines()
    line = next(n for n, text in enumerate(source, 1) if "{{ contact.role }}" in text)
    assert "missing field contact.role" in str(caught.value)
    assert f"first_cold.txt.j2:{line}:" in str(caught.value)


def test_a_none_or_blank_field_counts_as_missing(templates: TemplateSet) -> None:
    context = full_context()
    context["contact"]["role"] = None
    context["contact"]["how_found"] = "   "
    assert templates.missing_fields("first_cold", context) == [
        "contact.how_found",
        "contact.role",
    ]


def test_a_fallback_the_template_names_is_used_for_a_missing_field(
    templates: TemplateSet,
) -> None:
    context = full_context()
    context["contact"]["organization"] = None
    context["me"]["signature"] = ""
    body = text_of(templates.render_message("first_cold", context, envelope()))
    assert "your organization" not in body  # no stand-in that reads like a form letter
    assert "None" not in body
    assert body.rstrip().endswith("Ana Pérez")


def test_missing_fields_lists_every_missing_field_not_just_the_first(
    templates: TemplateSet,
) -> None:
    context = full_context()
    del context["me"]["intro"]
    del context["contact"]["name"]
    del context["meeting"]["minutes"]
    assert templates.missing_fields("prep_notes", context) == [
        "contact.name",
        "meeting.minutes",
        "me.intro",
    ]


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "nudge_1.txt.j2").write_text("Subject: hi\n\nline two\n{% if %}\n")
    with pytest.raises(TemplateError, match=r"nudge_1\.txt\.j2:4:"):
        TemplateSet(tmp_path).render_message("nudge_1", full_context(), envelope())


def test_an_unknown_template_is_an_error(templates: TemplateSet) -> None:
    with pytest.raises(TemplateError, match=r"no template cover_letter\.txt\.j2"):
        templates.render_message("cover_letter", full_context(), envelope())


# --------------------------------------------------------------------------- overrides


def test_a_file_in_the_override_directory_wins(tmp_path: Path) -> None:
    (tmp_path / "nudge_1.txt.j2").write_text(
        "Subject: {{ thread.original_subject | reply_subject }}\n"
        "\n"
        "Mine, {{ contact.first_name }}.\n"
    )
    templates = TemplateSet(tmp_path)
    message = templates.render_message("nudge_1", full_context(), envelope())
    assert text_of(message) == "Mine, Jordan.\n"
    assert templates.path_of("nudge_1") == tmp_path / "nudge_1.txt.j2"
    assert TemplateSet(tmp_path).path_of("nudge_2") == TemplateSet().path_of("nudge_2")


def test_a_new_kind_in_the_override_directory_is_listed(tmp_path: Path) -> None:
    (tmp_path / "congratulations.txt.j2").write_text("Subject: Congrats\n\nWell done.\n")
    assert "congratulations" in TemplateSet(tmp_path).kinds()


# --------------------------------------------------------------------------- digest


def test_the_digest_is_text_and_html_alternatives_to_the_person(templates: TemplateSet) -> None:
    me = ("Ana Pérez", "ana@example.edu")
    message = parse(
        templates.render_digest(
            full_context(), envelope(sender=me, to=me, key="acct1/digest/2026-12-01")
        )
    )
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert message["Subject"].startswith("Outreach for Tuesday, December 1")
    assert message["Message-ID"] == message_id_for("acct1/digest/2026-12-01", "ana@example.edu")


def test_the_html_digest_escapes_what_contacts_wrote(templates: TemplateSet) -> None:
    context = full_context()
    context["replies"][0]["excerpt"] = "<script>alert(1)</script>"
    context["drafts"][0]["contact"] = {"name": "<b>Jordan</b> & co"}
    html = templates.render_text("digest.html.j2", context)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "&lt;b&gt;Jordan&lt;/b&gt; &amp; co" in html


def test_an_empty_digest_still_reads_well(templates: TemplateSet) -> None:
    context = full_context()
    for name in (
        "drafts",
        "replies",
        "meetings_today",
        "meetings_week",
        "thank_yous",
        "bounces",
        "returning",
        "accounts_needing_auth",
    ):
        context[name] = []
    context["funnel"] = {}
    me = ("Ana", "ana@example.edu")
    message = templates.render_digest(context, envelope(sender=me, to=me, key="d"))
    content = text_of(message)
    assert "Nothing to approve." in content
    assert "No meetings today." in content
    assert message["Subject"].endswith("nothing needs you today")


def test_an_internationalized_domain_is_sent_in_ascii_form(templates: TemplateSet) -> None:
    message = templates.render_message(
        "nudge_1", full_context(), envelope(to=("Jo", "jo@münchen.de"))
    )
    assert parse(message)["To"].addresses[0].addr_spec == "jo@xn--mnchen-3ya.de"


@pytest.mark.parametrize("address", ["", "a@b@c", "x@", "Jordan <j@x.y>"])
def test_a_malformed_address_is_a_template_error(templates: TemplateSet, address: str) -> None:
    with pytest.raises(TemplateError, match="invalid To address"):
        templates.render_message("nudge_1", full_context(), envelope(to=("Jo", address)))


def test_missing_fields_survives_a_missing_value_used_in_arithmetic(tmp_path: Path) -> None:
    (tmp_path / "x.txt.j2").write_text("{{ contact.name }} {{ meeting.minutes + 5 }} {{ me.a }}")
    found = TemplateSet(tmp_path).missing_fields("x", {})
    assert found[:2] == ["contact.name", "meeting.minutes"]


def test_an_unknown_time_zone_is_an_error_with_the_template_line(
    templates: TemplateSet,
) -> None:
    context = full_context()
    context["contact"]["timezone"] = "Mars/Olympus_Mons"
    with pytest.raises(TemplateError, match=r"scheduling_reply\.txt\.j2:\d+: unknown time zone"):
        templates.render_message("scheduling_reply", context, envelope())


# --------------------------------------------------------------------------- header lines

LONG_NAMES = [
    "A" * 200,
    "Zoë Müller-Łukasiewicz " * 8,
    "Lee, Ann " + "x" * 80,  # quoted; folded unquoted by the standard library, two addresses
    "a, evil@example.net, " + "padding " * 20,
    "Ö" * 199,
]


@pytest.mark.parametrize("name", LONG_NAMES)
@pytest.mark.parametrize("kind", ["first_cold", "nudge_1", "thank_you"])
def test_every_line_of_a_message_fits_and_the_recipients_stay_ours(kind: str, name: str) -> None:
    """Given names as long as contacts may have, with commas and quotes, as recipient, copy
    and sender, when a message renders, then every line is at most 998 octets and a reader
    finds exactly our addresses in To, Cc and From."""
    context = full_context()
    context["contact"]["organization"] = "O" * 300
    message = TemplateSet().render_message(
        kind,
        context,
        envelope(
            to=(name, "jo@example.org"), cc=((name, "cc@example.org"),), sender=(name, "a@b.edu")
        ),
    )
    raw = message.as_bytes()
    assert max(len(line) for line in raw.split(b"\r\n")) <= MAX_LINE_OCTETS
    parsed = parse(message)
    assert [a.addr_spec for a in parsed["To"].addresses] == ["jo@example.org"]
    assert [a.addr_spec for a in parsed["Cc"].addresses] == ["cc@example.org"]
    assert [a.addr_spec for a in parsed["From"].addresses] == ["a@b.edu"]


@pytest.mark.parametrize(("field", "header"), [("sender", "From"), ("to", "To")])
def test_a_name_with_a_word_longer_than_a_line_is_refused(field: str, header: str) -> None:
    """Given a name of 3000 letters without a space (a profile name has no length limit),
    when a message renders, then a TemplateError names the header rather than a line that
    mail servers cut."""
    pair = ("N" * 3000, "x@example.org")
    with pytest.raises(TemplateError, match=rf"the {header} header would have a line of 30\d\d"):
        TemplateSet().render_message("first_cold", full_context(), envelope(**{field: pair}))


def test_a_subject_with_a_word_longer_than_a_line_folds_as_encoded_words(tmp_path: Path) -> None:
    """Given a workspace template that puts a 1200-letter custom field in the Subject, when
    the message renders, then the Subject is folded into lines mail allows and reads back
    whole."""
    (tmp_path / "first_cold.txt.j2").write_text("Subject: {{ contact.custom.school }}\n\nHi\n")
    context = full_context()
    context["contact"]["custom"]["school"] = "S" * 1200
    message = TemplateSet(tmp_path).render_message("first_cold", context, envelope())
    assert max(len(line) for line in message.as_bytes().split(b"\r\n")) <= MAX_LINE_OCTETS
    assert parse(message)["Subject"] == "S" * 1200


TRICKY_NAMES = [
    *LONG_NAMES,
    "Lee, Ann",
    'Ann "the boss" Lee',
    "back\\slash",
    "a@b.example",
    "<evil@example.net>",
    "Zoë",
    "",
]


@pytest.mark.parametrize("name", TRICKY_NAMES)
def test_the_recipients_check_sees_what_a_reader_of_the_header_finds(name: str) -> None:
    """Given a display name of any shape, when the check of an address header takes a
    reader's view of it without reading the header back (it is written as its text, on
    one line), then that view is what a reader of the written header finds."""
    from email import message_from_bytes

    from pipeline.compose.envelope import POLICY, READER
    from pipeline.compose.messages import _address_header, _as_read

    header = _address_header("To", (name, "jo@example.org"), "test")
    folded = POLICY.fold_binary("To", header)
    read = message_from_bytes(folded + b"\r\n", policy=READER)["To"]
    assert _as_read("To", str(header), folded, header) == [a.addr_spec for a in read.addresses]


def test_messages_of_a_batch_share_their_sender_header_and_stay_apart() -> None:
    """Given two messages from one sender to two people, when both render, then each has
    its own To and the same From, and changing one leaves the other as it was."""
    templates = TemplateSet()
    first = templates.render_message(
        "first_cold", full_context(), envelope(to=("Jo", "jo@example.org"))
    )
    second = templates.render_message(
        "first_cold", full_context(), envelope(to=("Al", "al@example.org"))
    )
    assert str(first["From"]) == str(second["From"])
    assert (str(first["To"]), str(second["To"])) == ("Jo <jo@example.org>", "Al <al@example.org>")
    del first["From"]
    first["From"] = "Someone Else <else@example.org>"
    assert str(second["From"]) != str(first["From"])
    assert [a.addr_spec for a in second["From"].addresses] == [
        a.addr_spec for a in parse(second)["From"].addresses
    ]


def test_the_policy_makes_a_header_from_a_text_once_and_each_text_its_own() -> None:
    """Given the policy every message is made with, when it makes headers from texts, then
    the same name and text give the same (immutable) header, another text its own, and
    a Date, Subject or address header reads as its text says."""
    from pipeline.compose.envelope import POLICY

    made = POLICY.header_factory("Subject", "Hello there")
    assert POLICY.header_factory("Subject", "Hello there") is made
    other = POLICY.header_factory("Subject", "Hello again")
    assert (str(made), str(other)) == ("Hello there", "Hello again")
    date = POLICY.header_factory("Date", "Mon, 02 Mar 2026 09:00:00 -0600")
    assert date.datetime.isoformat() == "2026-03-02T09:00:00-06:00"
    to = POLICY.header_factory("To", '"Lee, Ann" <ann@example.org>')
    assert [a.addr_spec for a in to.addresses] == ["ann@example.org"]
    assert POLICY.header_factory("To", "bo@example.org").addresses[0].addr_spec == "bo@example.org"


def test_a_composed_message_pickles_and_copies_as_it_was() -> None:
    """Given a rendered message, when it is pickled or deep-copied (as a queue or a copy
    before changing headers would), then it comes back with the same bytes, and new
    headers can be set on the copy."""
    import copy
    import pickle

    message = TemplateSet().render_message("first_cold", full_context(), envelope())
    for again in (pickle.loads(pickle.dumps(message)), copy.deepcopy(message)):
        assert again.as_bytes() == message.as_bytes()
        again["X-Note"] = "copied"
        assert str(again["X-Note"]) == "copied"
        assert "X-Note" not in message
