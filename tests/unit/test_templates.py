"""The shipped templates: every kind renders, says what DOMAIN.md asks, and needs what it says."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from pipeline.compose import (
    FILTERS,
    REPLY_KINDS,
    Envelope,
    TemplateSet,
    first_outreach_kind,
    kinds_for_contact,
)
from pipeline.errors import TemplateError
from tests.unit.composing import envelope, full_context, text_of

MESSAGE_KINDS = [
    "first_alumni",
    "first_cold",
    "first_referred",
    "keep_in_touch",
    "nudge_1",
    "nudge_2",
    "referral_outreach",
    "referrer_note",
    "scheduling_reply",
    "thank_you",
    "thanks_anyway",
]
FIRST_OUTREACH = ["first_cold", "first_referred", "first_alumni", "referral_outreach"]
TEXT_TEMPLATES = ["prep_notes.txt.j2", "digest.txt.j2", "digest.html.j2"]


@pytest.fixture(scope="module")
def templates() -> TemplateSet:
    return TemplateSet()


def body(templates: TemplateSet, kind: str, context: dict[str, Any] | None = None) -> str:
    return text_of(templates.render_message(kind, context or full_context(), envelope()))


def sentences(text: str) -> list[str]:
    """The sentences after the greeting line, in order."""
    after_greeting = text.split("\n", 1)[1]
    return [s for s in re.split(r"(?<=[.!?])\s+", after_greeting.strip()) if s]


# --------------------------------------------------------------------------- every template


def test_the_shipped_kinds_are_the_message_kinds(templates: TemplateSet) -> None:
    assert templates.kinds() == MESSAGE_KINDS


@pytest.mark.parametrize("kind", MESSAGE_KINDS)
def test_every_kind_renders_with_a_full_context(templates: TemplateSet, kind: str) -> None:
    message = templates.render_message(kind, full_context(), envelope())
    text = text_of(message)

    assert message["Subject"]
    assert text.startswith("Hi ")
    assert "Ana Pérez" in text
    for leftover in ("{{", "{%", "None", "\ue000"):
        assert leftover not in text
    assert len(text.split()) < 230, "messages stay short"


@pytest.mark.parametrize("name", MESSAGE_KINDS + TEXT_TEMPLATES)
def test_a_full_context_leaves_nothing_missing(templates: TemplateSet, name: str) -> None:
    assert templates.missing_fields(name, full_context()) == []


@pytest.mark.parametrize(
    ("name", "required"),
    [
        (
            "first_cold",
            [
                "me.field",
                "contact.first_name",
                "me.name",
                "me.background",
                "contact.how_found",
                "contact.role",
            ],
        ),
        ("nudge_1", ["thread.original_subject", "contact.first_name", "me.field", "me.name"]),
        ("thank_you", ["contact.first_name", "meeting.start", "me.field", "me.name"]),
        ("referrer_note", ["referred.name", "contact.first_name", "me.name"]),
        (
            "prep_notes.txt.j2",
            ["contact.name", "meeting.start", "meeting.end", "meeting.minutes", "me.intro"],
        ),
    ],
)
def test_an_empty_context_lists_every_required_field(
    templates: TemplateSet, name: str, required: list[str]
) -> None:
    assert templates.missing_fields(name, {}) == required


@pytest.mark.parametrize("kind", sorted(REPLY_KINDS))
def test_replies_keep_the_original_subject(templates: TemplateSet, kind: str) -> None:
    message = templates.render_message(kind, full_context(), envelope(in_reply_to="<a@b.c>"))
    assert message["Subject"] == "Re: Could I ask you about your work?"


# --------------------------------------------------------------------------- first outreach


@pytest.mark.parametrize("kind", FIRST_OUTREACH)
def test_a_first_outreach_says_who_the_person_is(templates: TemplateSet, kind: str) -> None:
    text = " ".join(sentences(body(templates, kind))[:3])
    assert "Ana Pérez" in text
    assert "a third-year economics student at Lakeside University" in text


@pytest.mark.parametrize("kind", ["first_cold", "first_alumni"])
def test_a_cold_or_alumni_outreach_says_how_it_found_them(
    templates: TemplateSet, kind: str
) -> None:
    text = " ".join(sentences(body(templates, kind))[:3])
    assert "the Lakeside alumni directory" in text


def test_a_referred_outreach_names_the_mutual_contact_in_the_first_two_sentences(
    templates: TemplateSet,
) -> None:
    first_two = " ".join(sentences(body(templates, "first_referred"))[:2])
    assert "Maria Lopez" in first_two


def test_a_referred_outreach_falls_back_to_how_found(templates: TemplateSet) -> None:
    context = full_context()
    context["contact"]["referred_by"] = None
    context["contact"]["how_found"] = "My former manager, Sam Okafor,"
    first = sentences(body(templates, "first_referred", context))[0]
    assert first.startswith("My former manager, Sam Okafor, suggested")


def test_a_referral_outreach_names_the_referrer_in_the_first_sentence(
    templates: TemplateSet,
) -> None:
    first = sentences(body(templates, "referral_outreach"))[0]
    assert first.startswith("Maria Lopez suggested")


@pytest.mark.parametrize("kind", FIRST_OUTREACH)
def test_a_first_outreach_says_why_this_person(templates: TemplateSet, kind: str) -> None:
    text = body(templates, kind)
    assert "senior planner" in text
    assert "Metro Transit Authority" in text


@pytest.mark.parametrize("kind", FIRST_OUTREACH)
def test_a_first_outreach_asks_for_20_to_30_minutes_of_advice_not_a_job(
    templates: TemplateSet, kind: str
) -> None:
    text = body(templates, kind)
    assert re.search(r"20 (to|-) 30 minute", text)
    assert "advice" in text
    assert re.search(r"not (asking about )?a job or an internship", text)


@pytest.mark.parametrize("kind", FIRST_OUTREACH)
def test_a_first_outreach_says_when_the_person_will_follow_up(
    templates: TemplateSet, kind: str
) -> None:
    text = body(templates, kind)
    assert re.search(
        r"I'll (follow up|check back|send a short follow-up) in about a week", text
    ) or ("if I haven't heard from you" in text and "about a week" in text)


def test_the_alumni_outreach_names_the_shared_school_when_known(templates: TemplateSet) -> None:
    message = templates.render_message("first_alumni", full_context(), envelope())
    assert message["Subject"].startswith("A fellow Lakeside alum")
    context = full_context()
    context["contact"]["custom"] = {}
    message = templates.render_message("first_alumni", context, envelope())
    assert message["Subject"].startswith("A fellow alum")
    assert "someone from my own school" in text_of(message)


# --------------------------------------------------------------------------- later messages


def test_the_last_nudge_promises_not_to_write_again(templates: TemplateSet) -> None:
    assert "I won't write again" in body(templates, "nudge_2")


def test_the_thank_you_cites_the_recorded_notes(templates: TemplateSet) -> None:
    text = body(templates, "thank_you")
    assert "Take the GIS course next term and join the neighborhood board." in text
    assert "Tuesday, December 1" in text


def test_the_thank_you_without_notes_still_reads_well(templates: TemplateSet) -> None:
    context = full_context()
    context["notes"] = None
    text = body(templates, "thank_you", context)
    assert "What stayed with me" not in text
    assert "I'll let you know how my next steps go." in text


def test_the_scheduling_reply_confirms_a_booked_meeting_in_their_time_zone(
    templates: TemplateSet,
) -> None:
    text = body(templates, "scheduling_reply")
    assert "Tuesday, December 1 at 3:00 PM CST works perfectly" in text
    assert "Zoom, link in the invitation" in text


def test_the_scheduling_reply_offers_the_proposed_times(templates: TemplateSet) -> None:
    context = full_context()
    del context["meeting"]
    text = body(templates, "scheduling_reply", context)
    assert "- Tuesday, December 1 at 3:00 PM CST" in text
    assert "- Wednesday, December 2 at 3:00 PM CST" in text


def test_the_scheduling_reply_without_times_lets_them_choose(templates: TemplateSet) -> None:
    context = full_context()
    del context["meeting"]
    del context["proposed_times"]
    assert "please pick whatever day and time" in body(templates, "scheduling_reply", context)


def test_the_referrer_note_names_the_new_person(templates: TemplateSet) -> None:
    context = full_context()
    context["contact"] = context["referrer"]
    message = templates.render_message("referrer_note", context, envelope())
    assert "Hi Maria," in text_of(message)
    assert "Jordan Lee" in text_of(message)


def test_thanks_anyway_asks_for_nothing(templates: TemplateSet) -> None:
    text = body(templates, "thanks_anyway")
    assert "?" not in text
    assert len(text.split()) < 60


# --------------------------------------------------------------------------- prep notes


def numbered_questions(notes: str) -> list[str]:
    return re.findall(r"^\d+\. (.+)$", notes, flags=re.MULTILINE)


@pytest.mark.parametrize("stage", ["exploring", "focusing", "applying"])
def test_prep_notes_hold_10_to_15_questions_ending_with_the_two_that_matter_most(
    templates: TemplateSet, stage: str
) -> None:
    context = full_context()
    context["stage"] = stage
    questions = numbered_questions(templates.render_text("prep_notes", context))
    assert 10 <= len(questions) <= 15
    assert len(set(questions)) == len(questions)
    assert "what would you do next" in questions[-2]
    assert "Who else" in questions[-1]
    assert "mention your name" in questions[-1]


def test_prep_notes_choose_questions_by_stage(templates: TemplateSet) -> None:
    def questions(stage: str) -> list[str]:
        return numbered_questions(
            templates.render_text("prep_notes", {**full_context(), "stage": stage})
        )

    assert questions("exploring") != questions("applying")
    assert any("Metro Transit Authority" in q for q in questions("applying"))
    assert not any("Metro Transit Authority" in q for q in questions("exploring"))


def test_prep_notes_cover_who_how_intro_and_logistics(templates: TemplateSet) -> None:
    notes = templates.render_text("prep_notes", full_context())
    assert "Jordan Lee, senior planner at Metro Transit Authority" in notes
    assert "How you found them: the Lakeside alumni directory" in notes
    assert "Introduced by: Maria Lopez" in notes
    assert full_context()["me"]["intro"] in notes
    assert "Tuesday, December 1 at 4:00 PM EST to 4:30 PM (30 minutes)" in notes
    assert "Zoom, link in the invitation" in notes
    assert "not a job" in notes
    assert "only if they ask" in notes
    assert "within 24 hours" in notes


def test_prep_notes_with_only_the_required_fields(templates: TemplateSet) -> None:
    context = full_context()
    context["contact"] = {"name": "Jordan Lee"}
    context["meeting"]["location"] = None
    del context["stage"]
    notes = templates.render_text("prep_notes", context)
    assert "Jordan Lee\n" in notes
    assert "the place or link is in the invitation" in notes
    assert 10 <= len(numbered_questions(notes)) <= 15


# --------------------------------------------------------------------------- digest


def test_the_text_digest_lists_what_needs_the_person(templates: TemplateSet) -> None:
    me = ("Ana", "ana@example.edu")
    digest = templates.render_digest(
        full_context(),
        Envelope(sender=me, to=me, key="d", date=full_context()["replies"][0]["received_at"]),
    )
    text = text_of(digest)
    assert "nudge 1 to Jordan Lee, waiting 2 days" in text
    assert 'Jordan Lee (positive): "Happy to talk next week."' in text
    assert "4:00 PM to 4:30 PM with Jordan Lee" in text
    assert "old@city.example did not work" in text
    assert "returns Monday, December 7" in text
    assert "- sent: 4" in text
    assert digest["Subject"] == "Outreach for Tuesday, December 1: 5 things need you"


# --------------------------------------------------------------------------- choosing a kind


@pytest.mark.parametrize(
    ("contact", "referrer_is_contact", "expected"),
    [
        ({"referred_by": "Maria Lopez"}, True, "referral_outreach"),
        ({"referred_by": "Maria Lopez", "tags": ["alumni"]}, False, "first_referred"),
        ({"referred_by": None, "tags": ["Alumni"]}, False, "first_alumni"),
        ({"how_found": "the Lakeside alumni directory"}, False, "first_alumni"),
        ({"how_found": "LinkedIn", "referred_by": "  "}, False, "first_cold"),
    ],
)
def test_the_first_outreach_kind_follows_how_the_contact_was_found(
    contact: dict[str, Any], referrer_is_contact: bool, expected: str
) -> None:
    assert first_outreach_kind(contact, referrer_is_contact=referrer_is_contact) == expected


def test_every_kind_a_contact_could_receive_exists(templates: TemplateSet) -> None:
    kinds = kinds_for_contact({"how_found": "LinkedIn"}, is_referrer=True)
    assert kinds[0] == "first_cold"
    assert "referrer_note" in kinds and kinds[-1] == "prep_notes"
    for kind in kinds:
        assert templates.path_of(kind).is_file()
    assert "referrer_note" not in kinds_for_contact({})


# --------------------------------------------------------------------------- templates from others

ESCAPES = [
    "{{ cycler.__init__.__globals__.os.getcwd() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace() }}",
    "{{ range(10 ** 9) | length }}",
    "{{ lipsum() }}",
    "{{ me.name.__class__.__mro__ }}",
    "{{ contact.tags.__class__ }}",
    "{{ ().__class__.__base__.__subclasses__() }}",
    "{{ '{0.__class__}'.format(me.name) }}",
    "{{ contact.tags.append('x') }}",
    "{{ contact.tags.pop() }}",
    "{{ self.__init__ }}",
    "{{ me.name | attr('__class__') }}",
    "{{ me.name | map('upper') | list }}",
    "{% for x in contact.tags.__iter__() %}{% endfor %}",
    "{{ me.name.encode('utf-8').decode.__self__ }}",
]


@pytest.mark.parametrize("escape", ESCAPES)
def test_a_workspace_template_cannot_reach_past_its_fields(tmp_path: Path, escape: str) -> None:
    """Given a workspace template that reaches for Python internals, a global function or a
    filter the shipped templates do not use, when it renders (or is checked), then a
    TemplateError names the file and the line, and nothing of it runs."""
    path = tmp_path / "first_cold.txt.j2"
    path.write_text(f"Subject: Hello\n\nHi {{{{ contact.first_name }}}},\n{escape}\n")
    templates = TemplateSet(tmp_path)
    with pytest.raises(TemplateError) as rendered:
        templates.render_message("first_cold", full_context(), envelope())
    assert f"{path}:4:" in str(rendered.value)
    assert os.getcwd() not in str(rendered.value)
    try:
        missing = templates.missing_fields("first_cold", full_context())
    except TemplateError as checked:
        assert f"{path}:4:" in str(checked)
    else:  # a global that is gone reads as a missing field, never as a value
        assert missing and missing[0].split(".")[0] in escape


def test_an_attribute_refused_says_what_templates_may_do(tmp_path: Path) -> None:
    (tmp_path / "x.txt.j2").write_text("{{ me.name.__class__ }}\n")
    with pytest.raises(TemplateError, match=r"x\.txt\.j2:1: a template may not use '__class__'"):
        TemplateSet(tmp_path).render_text("x.txt.j2", full_context())


def test_an_unknown_filter_lists_the_filters_templates_may_use(tmp_path: Path) -> None:
    (tmp_path / "x.txt.j2").write_text("line one\n{{ me.name | upper }}\n")
    with pytest.raises(TemplateError) as caught:
        TemplateSet(tmp_path).render_text("x.txt.j2", full_context())
    assert f"{tmp_path / 'x.txt.j2'}:2: No filter named 'upper'" in str(caught.value)
    assert ", ".join(FILTERS) in str(caught.value)


def test_the_shipped_templates_use_only_the_allowed_filters() -> None:
    """Every filter a shipped template names is allowed, and every allowed one is used by
    some shipped template: the list is what the shipped templates need, no more."""
    used: set[str] = set()
    for path in TemplateSet().search_path[0].glob("*.j2"):
        used |= set(re.findall(r"\|\s*([a-z_]+)", path.read_text(encoding="utf-8")))
    assert used == set(FILTERS)


@pytest.mark.parametrize("name", ["first_cold.txt.j2", "prep_notes.txt.j2"])
def test_a_template_saved_as_latin_1_names_the_file_and_line(tmp_path: Path, name: str) -> None:
    """Given a workspace template saved as Latin-1, when it renders or is checked, then a
    TemplateError names the file and line and says to save it as UTF-8."""
    path = tmp_path / name
    path.write_bytes("Subject: Hallo\n\nGrüße, {{ me.name }}\n".encode("latin-1"))
    templates = TemplateSet(tmp_path)
    for attempt in (
        lambda: templates.render_text(name, full_context()),
        lambda: templates.missing_fields(name, full_context()),
    ):
        with pytest.raises(TemplateError) as caught:
            attempt()
        assert f"{path}:3: not UTF-8 text" in str(caught.value)
        assert "save it as UTF-8" in str(caught.value)
