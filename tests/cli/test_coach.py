"""The first-outreach coach: what a first message needs, checked on the text as read."""

from __future__ import annotations

from pathlib import Path

from pipeline.coach import review
from tests.clitools import Cli

GOOD = """Hi Jordan,

My name is Ada Park, and I'm a biology senior exploring public health. I came across your
name through the alumni directory.

I'm writing to you in particular because your work as a data analyst is close to what I
hope to do. Would you have 20 minutes for a conversation? I'm looking for advice, not a
job or an internship.

I'll follow up in about a week.

Ada
"""


def parts(findings: list) -> list[str]:  # type: ignore[type-arg]
    return [f.part for f in findings]


def test_a_message_with_every_part_passes() -> None:
    assert review("A question about your work in public health", GOOD) == []


def test_each_missing_part_is_named() -> None:
    bare = "Hi Jordan,\n\nCould we talk sometime?\n\nAda\n"
    assert parts(review("Hello", bare)) == [
        "who_you_are",
        "how_you_found_them",
        "why_them",
        "not_a_job_request",
        "the_ask",
        "follow_up",
        "subject",
    ]


def test_the_mutual_contact_belongs_in_the_first_sentences() -> None:
    late = GOOD.replace("I'll follow up", "Dana Kim suggested you. I'll follow up")
    assert parts(review("Dana Kim suggested I write", late, mutual_contact="Dana Kim")) == [
        "how_you_found_them"
    ]
    early = GOOD.replace("My name is", "Dana Kim suggested I write to you. My name is")
    assert review("Dana Kim suggested I write", early, mutual_contact="Dana Kim") == []


def test_wording_that_reads_as_a_job_request_is_pointed_at_by_line() -> None:
    asking = GOOD.replace("I'll follow up", "Are you hiring? I'll follow up")
    (finding,) = review("A question about your work", asking)
    assert (finding.part, finding.line) == ("job_request_wording", 10)
    assert finding.text is not None and "Are you hiring?" in finding.text


def test_a_long_message_is_too_long_for_a_phone() -> None:
    long = GOOD.replace("Ada\n", "Ada\n" + "More words here. " * 60, 1)
    assert parts(review("A question about your work", long)) == ["length"]


def test_the_shipped_templates_pass_their_own_review(cli: Cli, tmp_path: Path) -> None:
    cli.set_up_ada(tmp_path / "contacts.csv", "name,email\nDana Kim,dana@example.org\n")
    checked = cli("templates", "check", "--json").json()
    assert checked["coach"] == []


def test_a_workspace_template_that_asks_for_a_job_is_coached(cli: Cli, tmp_path: Path) -> None:
    """A career office's template that reads as a job request gets named advice, with the
    line, and `templates check` exits 1."""
    cli.set_up_ada(tmp_path / "contacts.csv", "name,email\nDana Kim,dana@example.org\n")
    (cli.workspace / "templates" / "first_cold.txt.j2").write_text(
        "Subject: Hello\n\nHi {{ contact.first_name }},\n\nAre you hiring? My resume is "
        "attached.\n\n{{ me.name }}\n",
        encoding="utf-8",
    )
    result = cli("templates", "check")
    assert result.code == 1
    out = " ".join(result.out.split())
    assert "first_cold (the first message's coach):" in out
    assert "say plainly that you want advice, not a job or an internship" in out
    assert "leave out what reads as asking for a job (line 3: 'Are you hiring?" in out
