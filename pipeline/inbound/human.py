"""A person's reply: its intent and the people it introduces (referrals)."""

from __future__ import annotations

import re

from pipeline.inbound.message import Mail
from pipeline.inbound.mime import addresses, header
from pipeline.inbound.result import Inbound, Intent, Referral

_OPT_OUT = re.compile(
    r"(?:remove me|take me off|unsubscribe|do not (?:contact|email|e-mail|write to|message) me|"
    r"don't (?:contact|email|e-mail|write to|message) me|stop (?:emailing|contacting|"
    r"writing to|messaging) me|no further (?:contact|emails?)|never contact me|"
    r"not to contact me|leave me alone|opt(?:ing)? out|"
    r"kontaktieren sie mich nicht|keine weiteren (?:e-?mails|nachrichten|kontakt)|"
    r"bitte (?:entfernen|löschen) sie mich|austragen|"
    r"ne (?:me|plus me) contactez plus|ne plus me contacter|désinscri|desinscri|retirez-moi|"
    r"no me (?:contacte|contactes|escriba|escribas)|dar(?:me)? de baja|elimíname|"
    r"neem geen contact|geen contact meer|verwijder mij|verwijder me|"
    r"non contattarmi|non mi contatti|cancellami|rimuovermi|"
    r"não me contate|nao me contate|remova-me|não entre em contato)",
    re.IGNORECASE,
)
_DECLINE = re.compile(
    r"(?:not (?:be )?able to|unable to|can't help|cannot help|can not help|won't be able|"
    r"will not be able|not interested|no time|too busy|have to decline|must decline|"
    r"(?:i'll|i will|going to|have to|need to|must) pass|not the right person|"
    r"not in a position|don't have (?:the )?(?:time|capacity|bandwidth)|"
    r"do not have (?:the )?(?:time|capacity|bandwidth)|not available|"
    r"i'm afraid (?:i|not)|i am afraid (?:i|not)|no,? thank|sorry,? (?:but )?(?:i|no)|"
    r"leider (?:nicht|keine|kann|muss|habe)|keine zeit|muss (?:leider )?absagen|"
    r"pas disponible|malheureusement|je ne (?:peux|pourrai) pas|"
    r"lamentablemente|desafortunadamente|no puedo|no podré|no podre|"
    r"helaas|geen tijd|kan (?:ik )?niet|"
    r"purtroppo|non posso|non riesco|"
    r"infelizmente|não posso|nao posso|não consigo)",
    re.IGNORECASE,
)
POSITIVE = re.compile(
    r"(?:happy to|glad to|would love to|i'd love to|love to chat|i'd be happy|i would be happy|"
    r"sure\b|of course|absolutely|sounds good|sounds great|let's|lets (?:do|talk|meet)|"
    r"how about|works for me|work for me|i'm free|i am free|i'm available|i am available|"
    r"(?:day|that|this|it|time|slot|morning|afternoon) (?:works|suits|would work)|"
    r"free (?:on|at|this|next)|available (?:on|at|this|next)|count me in|yes\b|"
    r"book a time|grab a time|pick a time|my calendar|calendly|"
    r"gerne|gern\b|sehr gerne|passt (?:mir|gut)|avec plaisir|volontiers|"
    r"je suis disponible|con gusto|encantad[oa]|me parece bien|estoy disponible|"
    r"graag|prima|ik ben beschikbaar|volentieri|con piacere|sono disponibile|"
    r"com prazer|claro|estou disponível|estou disponivel)",
    re.IGNORECASE,
)
_TIME_PROPOSAL = re.compile(
    r"(?:\b\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.|uhr|h\b)|\b\d{1,2}[:.h]\d{2}\b|"
    r"\b(?:monday|tuesday|wednesday|thursday|friday|montag|dienstag|mittwoch|donnerstag|"
    r"freitag|lundi|mardi|mercredi|jeudi|vendredi|lunes|martes|miércoles|jueves|viernes|"
    r"maandag|dinsdag|woensdag|donderdag|vrijdag|lunedì|martedì|mercoledì|giovedì|"
    r"venerdì|segunda|terça|quarta|quinta|sexta)\b)",
    re.IGNORECASE,
)
_INTENT_HEAD = 800
_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_NAME_BEFORE = re.compile(
    r"((?:[A-ZÀ-Ý][\w'’.-]*\s+){0,3}[A-ZÀ-Ý][\w'’-]*)\s*(?:[(<\[]|\bat\b|:|-|–|—|,)?\s*"
    r"(?:\(|<|\[|mailto:)?\s*$"
)
_CAPITALISED = re.compile(r"\b[A-ZÀ-Ý][\w'’-]+(?:\s+[A-ZÀ-Ý][\w'’-]+){1,2}\b")
_NAME_STOP = {
    "contact",
    "meet",
    "email",
    "e-mail",
    "mail",
    "ask",
    "try",
    "reach",
    "write",
    "please",
    "i",
    "my",
    "our",
    "cc",
    "cc'd",
    "cc'ing",
    "copying",
    "colleague",
    "kontakt",
    "kollegin",
    "kollege",
    "contactez",
    "contacta",
    "contacte",
    "neem",
    "contatta",
    "hi",
    "hello",
    "dear",
    "thanks",
    "thank",
    "or",
    "and",
    "at",
    "via",
    "her",
    "his",
    "him",
    "she",
    "he",
    "the",
    "is",
    "you",
    "your",
    "mit",
    "con",
    "avec",
    "met",
    "com",
    "to",
    "with",
    "on",
}


def _intent(text: str) -> Intent:
    # Opt-outs are said up front; a footer further down ("unsubscribe here") is not one.
    if _OPT_OUT.search(text[:_INTENT_HEAD]):
        return "opt_out"
    declines = bool(_DECLINE.search(text))
    positive = bool(POSITIVE.search(text))
    proposes = bool(_TIME_PROPOSAL.search(text))
    if declines and not (proposes and positive):
        return "decline"
    if positive or proposes:
        return "positive"
    return "neutral"


def _clean_name(candidate: str) -> str | None:
    words = candidate.split()
    while words and words[0].lower().strip(".,:") in _NAME_STOP:
        words.pop(0)
    while words and words[-1].lower().strip(".,:") in _NAME_STOP:
        words.pop()
    return " ".join(words) or None


def _name_before(text: str, start: int) -> str | None:
    """The name written right before an address, else a capitalised name in its sentence."""
    window = text[max(0, start - 60) : start].split("\n")[-1]
    match = _NAME_BEFORE.search(window)
    if match and (name := _clean_name(match.group(1))):
        return name
    sentence = re.split(r"[.!?\n]\s", text[max(0, start - 200) : start])[-1]
    names = [
        cleaned
        for found in _CAPITALISED.findall(sentence)
        if (cleaned := _clean_name(found)) and " " in cleaned
    ]
    return names[-1] if names else None


def _referrals(text: str, cc: list[tuple[str, str]], excluded: set[str]) -> tuple[Referral, ...]:
    found: dict[str, Referral] = {}
    for match in _EMAIL.finditer(text):
        address = match.group(0).lower().strip(".")
        if address in excluded or address in found:
            continue
        found[address] = Referral(name=_name_before(text, match.start()), email=address)
    for display, address in cc:
        if address in excluded:
            continue
        known = found.get(address)
        if known is None or (known.name is None and display):
            found[address] = Referral(name=display or None, email=address)
    return tuple(found.values())


def as_human_reply(mail: Mail, own: set[str]) -> Inbound:
    new_text = mail.new_text()
    excluded = own | ({mail.from_address} if mail.from_address else set())
    referrals = _referrals(new_text, addresses(mail.msg, "Cc"), excluded)
    intent = _intent(new_text)
    reason = "written by a person"
    if header(mail.msg, "Auto-Submitted").lower().startswith("no"):
        reason += " (Auto-Submitted: no)"
    reason += f"; intent {intent}"
    if referrals:
        reason += f"; {len(referrals)} referral(s)"
    return Inbound(
        kind="human_reply",
        reason=reason,
        intent=intent,
        reply_text=new_text,
        referrals=referrals,
        **mail.base,
    )
