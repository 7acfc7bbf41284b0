"""Inbound understanding: our own samples, and the rules one at a time."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from pipeline.inbound import Inbound, understand
from pipeline.inbound.dates import return_date
from pipeline.inbound.quotes import trim_reply
from tests import paths

SAMPLES = paths.SAMPLES / "inbound"
EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (SAMPLES / "expected.json").read_text(encoding="utf-8")
)
JSON_KEYS = {
    "kind",
    "intent",
    "reply_text",
    "return_date",
    "bounce",
    "meeting",
    "referrals",
    "reason",
}


def _actual(expected: dict[str, Any], result: Inbound) -> dict[str, Any]:
    got = result.to_json()
    actual: dict[str, Any] = {}
    for key, value in expected.items():
        if key == "own":
            continue
        actual[key] = got[key]
        if key == "bounce" and result.bounce is not None and "original_message_id" in value:
            actual[key] = {**got[key], "original_message_id": result.bounce.original_message_id}
    return actual


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_is_understood_as_expected(name: str) -> None:
    """Each of our samples gives the output written down for it in expected.json."""
    expected = EXPECTED[name]
    result = understand((SAMPLES / name).read_bytes(), own_addresses=expected.get("own", ()))
    wanted = {k: v for k, v in expected.items() if k != "own"}
    assert wanted == _actual(expected, result)


def test_there_are_at_least_forty_samples() -> None:
    """The samples cover out-of-office, booking tools, declines, opt-outs and referrals."""
    assert len(EXPECTED) >= 40
    kinds = {e["kind"] for e in EXPECTED.values()}
    assert kinds == {
        "auto_reply",
        "human_reply",
        "bounce",
        "meeting_invite",
        "meeting_reply",
        "meeting_cancel",
        "other",
    }


def test_to_json_has_exactly_the_cli_keys() -> None:
    """to_json() gives the keys of the CLI's JSON shape, minus "file"."""
    result = understand((SAMPLES / "invite_calendly.eml").read_bytes())
    assert set(result.to_json()) == JSON_KEYS


def test_meeting_times_are_aware_utc() -> None:
    """Meeting start and end are aware datetimes in UTC, written with a Z in JSON."""
    result = understand((SAMPLES / "invite_teams_windows_tz.eml").read_bytes())
    assert result.meeting is not None
    assert result.meeting.start == datetime(2025, 4, 8, 12, 0, tzinfo=UTC)
    assert result.meeting.sequence == 1
    assert result.meeting.summary == "Informationsgespräch"


def test_headers_are_read_for_matching_the_outreach() -> None:
    """Message-ID, In-Reply-To, References, sender and date come off the headers."""
    result = understand((SAMPLES / "ooo_en_outlook_back_monday.eml").read_bytes())
    assert (result.in_reply_to, result.references) == (
        "<outreach-42@example.edu>",
        ("<outreach-42@example.edu>",),
    )
    assert (result.from_address, result.from_name) == (
        "dana.whitfield@example.com",
        "Dana Whitfield",
    )
    assert result.date == datetime(2025, 3, 10, 14, 2, 11, tzinfo=UTC)
    assert result.message_id is not None


def test_received_at_is_the_reference_for_relative_dates() -> None:
    """A weekday alone is resolved from received_at when it is given."""
    raw = (
        b"From: a@example.com\r\nSubject: Automatic reply: hi\r\nAuto-Submitted: auto-replied"
        b"\r\n\r\nI am out of the office and back on Tuesday.\r\n"
    )
    result = understand(raw, received_at=datetime(2025, 3, 13, 9, 0, tzinfo=UTC))
    assert (result.kind, result.return_date) == ("auto_reply", date(2025, 3, 18))


def test_unparseable_input_is_other_with_a_reason() -> None:
    """Empty input and bytes that are not mail become kind other, with a reason."""
    for raw in (b"", b"\x00\xff" * 10, b"BEGIN:VCALENDAR\r\nnonsense"):
        result = understand(raw)
        assert result.kind == "other"
        assert result.reason


def test_bounce_finds_original_message_id() -> None:
    """A bounce gives the Message-ID of the outreach it returns."""
    result = understand((SAMPLES / "bounce_postfix_user_unknown.eml").read_bytes())
    assert result.bounce is not None
    assert result.bounce.original_message_id == "<outreach-42@example.edu>"


@pytest.mark.parametrize(
    ("text", "reference", "expected"),
    [
        ("I will be back in the office on Monday, March 17.", date(2025, 3, 10), date(2025, 3, 17)),
        ("I am out of the office until 10/27/2025.", date(2025, 10, 20), date(2025, 10, 27)),
        ("Ich bin bis einschliesslich 22.08.2025 abwesend.", date(2025, 8, 11), date(2025, 8, 23)),
        ("Returning on January 5.", date(2025, 12, 19), date(2026, 1, 5)),
        ("Je serai de retour le 3 novembre.", date(2025, 10, 20), date(2025, 11, 3)),
        ("Estaré de vuelta el 15 de septiembre.", date(2025, 9, 1), date(2025, 9, 15)),
        ("Ik ben terug op 4 maart.", date(2025, 2, 20), date(2025, 3, 4)),
        ("Sarò di ritorno il 12/05/2025.", date(2025, 5, 1), date(2025, 5, 12)),
        ("Estarei de volta em 2 de junho.", date(2025, 5, 20), date(2025, 6, 2)),
        ("Away from 3 to 14 March.", date(2025, 3, 1), date(2025, 3, 15)),
        ("I'll be back on the 15th.", date(2025, 3, 20), date(2025, 4, 15)),
        ("Ich bin am 17.03. wieder da.", date(2025, 3, 10), date(2025, 3, 17)),
        ("Ik ben afwezig t/m 5 mei.", date(2025, 4, 28), date(2025, 5, 6)),
        ("Je suis absent du 10 au 21 mars.", date(2025, 3, 7), date(2025, 3, 22)),
        ("I am out of the office with limited access to email.", date(2025, 3, 1), None),
    ],
)
def test_return_date(text: str, reference: date, expected: date | None) -> None:
    """The first day back, by language, inclusiveness and the year of the message."""
    assert expected == return_date(text, reference)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Yes!\n\nOn Mon, Mar 3, 2025 at 9:12 AM Sam <s@example.edu> wrote:\n> hi\n", "Yes!"),
        ("Ja.\n\nAm 03.03.2025 um 09:12 schrieb Sam <s@example.edu>:\n> hallo\n", "Ja."),
        ("Oui.\n\nLe 3 mars 2025 à 09:12, Sam <s@example.edu> a écrit :\n> salut\n", "Oui."),
        ("Sí.\n\nEl lun, 3 mar 2025 a las 9:12, Sam (<s@example.edu>) escribió:\n> hola\n", "Sí."),
        ("Ok.\n\n-----Original Message-----\nFrom: Sam\nSent: Monday\nTo: Lee\n\nhi\n", "Ok."),
        ("Ok.\n\nFrom: Sam <s@example.edu>\nSent: Monday\nTo: Lee\nSubject: hi\n\nhi\n", "Ok."),
        ("Sure.\n\n-- \nLee Park\nDirector\n", "Sure."),
        ("Sure.\n\nSent from my iPhone\n", "Sure."),
        ("Gern.\n\nGesendet von Outlook für Android\n\nHallo!\n", "Gern."),
        ("Ja.\n\n-------- Oprindelig besked --------\nFra: Sam\n\nhej\n", "Ja."),
        ("Od: Jan <j@example.pl>\nWysłano: środa\nTemat: Test\n\nCześć!\n", "Cześć!"),
        ("CAUTION: This email originated from outside of the company.\n\nHi Sam\n", "Hi Sam"),
        (
            "Kiitos!\n\npe 20. lokakuuta 2017 klo 17.50 Sam\n<s@example.edu> kirjoitti:\n> hei\n",
            "Kiitos!",
        ),
        (
            "> question?\nanswer.\n> other?\nsecond answer.\n",
            "> question?\nanswer.\n> other?\nsecond answer.",
        ),
    ],
)
def test_trim_reply(body: str, expected: str) -> None:
    """Quoted history and signatures go; inline answers between quotes stay."""
    assert expected == trim_reply(body)


def test_person_saying_auto_submitted_no_is_a_human() -> None:
    """Auto-Submitted: no wins over an out-of-office subject."""
    result = understand((SAMPLES / "human_auto_submitted_no.eml").read_bytes())
    assert result.kind == "human_reply"


def test_own_address_in_cc_is_not_a_referral() -> None:
    """New Cc addresses are referrals, but never the user's own nor the sender's."""
    raw = (SAMPLES / "human_referral_cc.eml").read_bytes()
    without_own = understand(raw)
    with_own = understand(raw, own_addresses=["Sam.Rivera@example.edu"])
    assert [r.email for r in without_own.referrals] == [
        "jordan.lee@example.com",
        "sam.rivera@example.edu",
    ]
    assert [r.email for r in with_own.referrals] == ["jordan.lee@example.com"]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("I'm not available Monday, but Tuesday works at 3pm.", "positive"),
        ("Sorry, I don't have the time for calls these days.", "decline"),
        ("Bitte kontaktieren Sie mich nicht mehr.", "opt_out"),
        ("Ne me contactez plus, merci.", "opt_out"),
        ("Non contattarmi più.", "opt_out"),
        ("Não me contate novamente.", "opt_out"),
        ("Volentieri, sono disponibile giovedì.", "positive"),
        ("Com prazer! Pode ser na quinta?", "positive"),
        ("Graag, schikt donderdag om 10:00?", "positive"),
        ("What is your background?", "neutral"),
    ],
)
def test_intent_of_a_reply(text: str, intent: str) -> None:
    """Agreeing or proposing a time, declining, opting out, or neither, in several languages."""
    raw = b"From: p@example.com\r\nSubject: Re: chat\r\nContent-Type: text/plain; charset=utf-8"
    raw += b"\r\n\r\n" + text.encode()
    assert intent == understand(raw).intent


def test_person_answering_in_thread_with_suppress_header_is_human() -> None:
    """X-Auto-Response-Suppress on an answer in our thread does not make it machine mail."""
    raw = (
        b"From: p@example.com\r\nSubject: RE: chat\r\nIn-Reply-To: <o-1@example.edu>\r\n"
        b"X-Auto-Response-Suppress: All\r\n\r\nHappy to talk on Friday.\r\n"
    )
    assert (understand(raw).kind, understand(raw).intent) == ("human_reply", "positive")


def test_newsletter_with_unsubscribe_footer_is_other() -> None:
    """List mail is other, not a human reply that opts out."""
    raw = (SAMPLES / "newsletter_list.eml").read_bytes()
    assert understand(raw).kind == "other"


@pytest.mark.parametrize(
    ("sentence", "name"),
    [
        ("You should talk to Jane Smith, she is at jane.smith@example.com.", "Jane Smith"),
        ("Contact Omar Haddad <omar@example.com> and mention me.", "Omar Haddad"),
        ("Schreiben Sie an Eva Braun (eva.braun@example.de).", "Eva Braun"),
        ("Try the team inbox, team@example.com.", None),
    ],
)
def test_referral_names_from_text(sentence: str, name: str | None) -> None:
    """A referral's name is taken from right before the address or from its sentence."""
    raw = b"From: p@example.com\r\nSubject: Re: chat\r\nContent-Type: text/plain; charset=utf-8"
    raw += b"\r\n\r\n" + sentence.encode()
    referrals = understand(raw).referrals
    assert [name] == [r.name for r in referrals]


def test_person_mentioning_absence_in_template_words_stays_human() -> None:
    """A person who is away but answers in person is a human reply, not an automatic one."""
    raw = (
        b"From: p@example.com\r\nSubject: Re: chat\r\n\r\nThanks for your email! I'm out of "
        b"the office until Monday, but happy to chat after that.\r\n"
    )
    result = understand(raw)
    assert (result.kind, result.intent) == ("human_reply", "positive")


def test_one_icalendar_reader_for_mail_and_the_calendar_directory() -> None:
    """An invitation by mail and the same .ics in a vdir are read alike: the same start,
    end and attendees, whatever zone name the writer used (Outlook's Windows zones here)."""
    from connectors.vdir import parse_event

    for name in ("invite_outlook_eastern.eml", "invite_teams_windows_tz.eml"):
        result = understand((SAMPLES / name).read_bytes())
        assert result.meeting is not None
        ics = _calendar_bytes((SAMPLES / name).read_bytes())
        event = parse_event(ics)
        assert (event.start, event.end) == (result.meeting.start, result.meeting.end)
        assert [a.email for a in event.attendees] == [a.email for a in result.meeting.attendees]


def _calendar_bytes(raw: bytes) -> bytes:
    from pipeline.inbound.mime import calendar_parts, parse

    return next(data for data, _ in calendar_parts(parse(raw)))
