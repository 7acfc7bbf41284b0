"""The first-outreach coach: does a first message have what makes people say yes?

Career offices agree on the parts of a good request for an informational interview
(../shared/DOMAIN.md): who you are; how you got their name (the mutual contact early);
why them in particular; that you want information and advice, not a job; a short ask
(15 to 30 minutes); when you will follow up. It should read on a phone, under a subject
that says what it is about. `review` checks a rendered message for each, pure text in,
findings out; `outreach templates check` runs it on every first-outreach template, and
the sync on a first outreach the person edited and sent.
"""

from __future__ import annotations

import email.policy
import re
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from typing import Literal

Part = Literal[
    "who_you_are",
    "how_you_found_them",
    "why_them",
    "not_a_job_request",
    "the_ask",
    "follow_up",
    "length",
    "subject",
    "job_request_wording",
]

PARTS_IN_WORDS: dict[Part, str] = {
    "who_you_are": "say who you are (your name and what you study or do)",
    "how_you_found_them": "say how you got their name (the person who suggested them, early)",
    "why_them": "say why them in particular (their role, organization or path)",
    "not_a_job_request": "say plainly that you want advice, not a job or an internship",
    "the_ask": "ask for a short conversation: 15 to 30 minutes",
    "follow_up": "say when you will follow up",
    "length": "keep it short enough to read on a phone",
    "subject": "give it a subject that says what it is about",
    "job_request_wording": "leave out what reads as asking for a job",
}
MOST_WORDS = 220
_MIN_SUBJECT_WORDS = 3
_GENERIC_SUBJECTS = {"hello", "hi", "question", "quick question", "request", "hey", "introduction"}

_WHO = re.compile(r"\b(my name is|i['’]m|i am)\b", re.IGNORECASE)
_FOUND = re.compile(
    r"\b(suggested|recommended|referred|introduced|came across|found your|saw your|"
    r"read your|heard|through|pointed me|gave me your name|mentioned you)\b",
    re.IGNORECASE,
)
_WHY = re.compile(
    r"\b(you in particular|your (work|experience|path|role|move|career|research|team)|"
    r"writing to you)\b",
    re.IGNORECASE,
)
_NOT_A_JOB = re.compile(
    r"\bnot\b[^.?!]{0,40}\b(jobs?|internships?|positions?|employment|openings?)\b",
    re.IGNORECASE,
)
_MINUTES = re.compile(
    r"\b(1[5-9]|2\d|30)\s*(to|-|–|or)?\s*(\d{2}\s*)?(minutes?|mins?)\b|half an hour",
    re.IGNORECASE,
)
_FOLLOW_UP = re.compile(
    r"\b(follow up|follow-up|check back|check in|get back to you|write again)\b",
    re.IGNORECASE,
)
_JOB_WORDING = re.compile(
    r"\b(are you hiring|any (job )?openings?|open positions?|job openings?|"
    r"apply(ing)? for|my (resume|cv) (is )?attached|attached (my|is my) (resume|cv)|"
    r"refer me|hire me|looking for a job|job opportunit(y|ies))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Finding:
    """One thing a first message lacks or should lose; ``line`` (1-based, in the body)
    and ``text`` point at the wording to change, when there is one."""

    part: Part
    advice: str
    line: int | None = None
    text: str | None = None


def review(subject: str, body: str, *, mutual_contact: str | None = None) -> list[Finding]:
    """What the first message (``subject``, ``body`` as the person reads them) lacks.

    ``mutual_contact``: the name of whoever suggested this person; it should come in the
    first two sentences."""
    findings: list[Finding] = []
    text = _without_signature(body)

    def lacks(part: Part) -> None:
        findings.append(Finding(part, PARTS_IN_WORDS[part]))

    if not _WHO.search(text):
        lacks("who_you_are")
    if mutual_contact:
        opening = " ".join(_sentences(text)[:3])
        if mutual_contact.split()[0].lower() not in opening.lower():
            lacks("how_you_found_them")
    elif not _FOUND.search(text):
        lacks("how_you_found_them")
    if not _WHY.search(text):
        lacks("why_them")
    if not _NOT_A_JOB.search(text):
        lacks("not_a_job_request")
    if not _MINUTES.search(text):
        lacks("the_ask")
    if not _FOLLOW_UP.search(text):
        lacks("follow_up")
    words = len(text.split())
    if words > MOST_WORDS:
        findings.append(
            Finding("length", f"{PARTS_IN_WORDS['length']} ({words} words; aim for {MOST_WORDS})")
        )
    cleaned = subject.strip().rstrip("?!.").strip().lower()
    if len(cleaned.split()) < _MIN_SUBJECT_WORDS or cleaned in _GENERIC_SUBJECTS:
        findings.append(Finding("subject", PARTS_IN_WORDS["subject"], text=subject.strip()))
    for number, line in enumerate(body.splitlines(), start=1):
        if _JOB_WORDING.search(line) and not _NOT_A_JOB.search(line):
            findings.append(
                Finding(
                    "job_request_wording",
                    PARTS_IN_WORDS["job_request_wording"],
                    line=number,
                    text=line.strip()[:160],
                )
            )
    return findings


def _without_signature(body: str) -> str:
    return re.split(r"\n-- ?\n", body, maxsplit=1)[0]


def _sentences(text: str) -> list[str]:
    greeting = re.compile(r"^\s*(hi|hello|dear|hey)\b[^\n]*\n", re.IGNORECASE)
    return [s for s in re.split(r"(?<=[.!?])\s+", greeting.sub("", text, count=1)) if s.strip()]


FIRST_KINDS = ("first_cold", "first_alumni", "first_referred", "referral_outreach")
"""The templates of a first message, which the coach reviews."""


def review_message(message: EmailMessage, *, mutual_contact: str | None = None) -> list[Finding]:
    """`review` of a composed (or sent) message."""
    part = message.get_body(preferencelist=("plain",))
    body = str(part.get_content()) if part is not None else ""
    return review(
        str(message.get("Subject", "")), body.replace("\r\n", "\n"), mutual_contact=mutual_contact
    )


def coach_sent(raw: bytes, *, mutual_contact: str | None = None) -> list[str]:
    """The parts a first message the person sent lacks (never raises: mail is odd)."""
    try:
        message = message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return [finding.part for finding in review_message(message, mutual_contact=mutual_contact)]
    except Exception:  # an unreadable copy of our own message: nothing to coach
        return []
