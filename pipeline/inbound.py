"""Understanding inbound mail: what kind of message this is, and what it says.

``understand(raw)`` is pure (no I/O, no clock) and never raises. It reads, in order:

1. bounces: a delivery-status report, or a failure notice from the mail system;
2. meetings: a text/calendar part or an .ics attachment (invitation, answer, cancellation);
3. automatic mail: RFC 3834 Auto-Submitted (``no`` means a person), X-Autoreply,
   X-Autorespond, Exchange and Zimbra markers, Precedence, an empty Return-Path, read
   receipts, challenge-response, no-reply senders; then the subject ("Automatic reply:",
   "Abwesenheitsnotiz") and the wording of out-of-office text in several languages;
4. otherwise a human reply: its new text, intent and referrals.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any

from pipeline._inbound_bounce import Bounce, is_bounce, read_bounce
from pipeline._inbound_calendar import Attendee, Meeting, read_meeting
from pipeline._inbound_dates import return_date
from pipeline._inbound_mime import (
    addresses,
    all_text,
    bodies,
    calendar_parts,
    header,
    html_to_text,
    parse,
    sender,
)
from pipeline._inbound_quotes import trim_reply

__all__ = [
    "INTENTS",
    "KINDS",
    "Attendee",
    "Bounce",
    "Inbound",
    "Meeting",
    "Referral",
    "understand",
]

KINDS = (
    "human_reply",
    "auto_reply",
    "bounce",
    "meeting_invite",
    "meeting_reply",
    "meeting_cancel",
    "other",
)
INTENTS = ("positive", "neutral", "decline", "opt_out")


@dataclass(frozen=True)
class Referral:
    """Someone introduced or suggested in a reply."""

    name: str | None
    email: str


@dataclass(frozen=True)
class Inbound:
    """What one inbound message is and says; fields not relevant to its kind are None."""

    kind: str
    reason: str
    intent: str | None = None
    reply_text: str | None = None
    return_date: date | None = None
    bounce: Bounce | None = None
    meeting: Meeting | None = None
    referrals: tuple[Referral, ...] = ()
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    subject: str = ""
    from_address: str | None = None
    from_name: str | None = None
    date: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON shape of ``outreach classify --json`` (without "file")."""
        meeting: dict[str, Any] | None = None
        if self.meeting is not None:
            meeting = {
                "method": self.meeting.method,
                "uid": self.meeting.uid,
                "start": _iso_z(self.meeting.start),
                "end": _iso_z(self.meeting.end),
                "organizer": self.meeting.organizer,
                "attendees": [
                    {"email": a.email, "partstat": a.partstat} for a in self.meeting.attendees
                ],
            }
        bounce: dict[str, Any] | None = None
        if self.bounce is not None:
            bounce = {"type": self.bounce.type, "recipients": list(self.bounce.recipients)}
        return {
            "kind": self.kind,
            "intent": self.intent,
            "reply_text": self.reply_text,
            "return_date": self.return_date.isoformat() if self.return_date else None,
            "bounce": bounce,
            "meeting": meeting,
            "referrals": [{"name": r.name, "email": r.email} for r in self.referrals],
            "reason": self.reason,
        }


def _iso_z(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- automatic mail -------------------------------------------------------------------

_AUTO_SUBJECT = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|r|rif|res|fw|fwd|wg)\s*:\s*)*(?:"
    r"automatic reply|auto(?:matic)?[- ]?(?:reply|response|respons|answer)|autoreply|"
    r"out of (?:the )?office|ooo\b|away until|away from|on vacation|vacation|"
    r"abwesenheitsnotiz|abwesenheit|automatische antwort|automatische rückantwort|"
    r"réponse automatique|reponse automatique|absence|absent du bureau|"
    r"respuesta automática|respuesta automatica|fuera de la oficina|ausencia|"
    r"automatisch antwoord|afwezig|afwezigheid|niet aanwezig|"
    r"risposta automatica|fuori sede|fuori ufficio|assenza|"
    r"resposta automática|resposta automatica|ausente|fora do escritório|ausência|"
    r"automatiskt svar|fraværende|poza biurem|atvaļinājums|atvalinajums|"
    r"arpus biroja|automātiska atbilde|automatiska atbilde|autosvar"
    r")",
    re.IGNORECASE,
)
_OOO_BODY = re.compile(
    r"(?:out of (?:the )?office|away from (?:the|my) (?:office|desk)|on (?:annual |parental |"
    r"maternity |paternity |sick )?leave|on vacation|on holiday|on holidays|currently away|"
    r"limited access to (?:my )?e-?mail|no access to (?:my )?e-?mail|"
    r"nicht im büro|nicht im buero|abwesend|außer haus|ausser haus|im urlaub|"
    r"nicht erreichbar|absent(?:e)? du bureau|je suis absent|en congé|en conge|"
    r"en vacances|fuera de la oficina|de vacaciones|ausente|no estoy en la oficina|"
    r"afwezig|niet op kantoor|met vakantie|fuori (?:sede|ufficio)|in ferie|assente|"
    r"fora do escritório|de férias|de ferias|estou ausente)",
    re.IGNORECASE,
)
_TEMPLATE_CUES = re.compile(
    r"(?:for urgent|in urgent cases|if (?:it is|this is|your (?:matter|request) is) urgent|"
    r"(?:will|shall) (?:respond|reply|get back|answer|read)|upon my return|"
    r"when i return|on my return|after my return|thank you for your (?:e-?mail|message)|"
    r"thanks for your (?:e-?mail|message)|will not be forwarded|won't be forwarded|"
    r"in dringenden fällen|in dringenden faellen|vielen dank für ihre (?:e-?mail|nachricht)|"
    r"nach meiner rückkehr|en cas d'urgence|merci pour votre (?:message|e-?mail)|"
    r"dès mon retour|des mon retour|para asuntos urgentes|en caso de urgencia|"
    r"a mi regreso|in dringende gevallen|bij mijn terugkeer|per urgenze|"
    r"al mio rientro|em caso de urgência|no meu regresso|"
    r"bis einschließlich|bis einschliesslich|until|bis zum|jusqu'au|hasta el|"
    r"tot en met|fino al|até)",
    re.IGNORECASE,
)
_CHALLENGE = re.compile(
    r"(?:please (?:confirm|verify) (?:that )?(?:you are|you're) (?:a )?human|"
    r"verify your (?:e-?mail|address|message)|awaiting (?:your )?verification|"
    r"challenge[- ]response|spam ?arrest|boxbe|mailbox is protected|sender verification|"
    r"click (?:the|this) link (?:below )?to (?:confirm|verify|deliver))",
    re.IGNORECASE,
)
_NOREPLY = re.compile(
    r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply|notifications?|notify|"
    r"mailer|newsletter|news|info-noreply|automated|system)\b",
    re.IGNORECASE,
)
# Mailing-list managers (fml, Mailman, Majordomo, LISTSERV, Sympa, ezmlm) and their own
# addresses: their notices ("you are not a member", "loop alert") are never a person.
_LIST_MANAGER_HEADER = re.compile(
    r"^(?:x-mlserver|x-ml-name|x-ml-info|x-mailman-version|x-listserver|x-listprocessor-version|"
    r"x-ecartis-version|x-sympa-[\w-]+|mailing-list|x-loop)$",
    re.IGNORECASE,
)
_LIST_MANAGER_SENDER = re.compile(
    r"^(?:owner-[\w.-]+|[\w.-]+-(?:admin|owner|request|bounces?|ctl)|majordomo|listserv|"
    r"mailman|sympa|ecartis|ezmlm|listproc)(?:\+.*)?$",
    re.IGNORECASE,
)
_MDN_SUBJECT = re.compile(
    r"^\s*(?:read|gelesen|lu|leído|leido|gelezen|letto|lido|not read|ungelesen)\s*:",
    re.IGNORECASE,
)
_AUTO_HEADER_NAME = re.compile(
    r"^x-(?:autoreply|autorespond|auto-reply|autoreply-from|mail-autoreply|autogenerated|"
    r"auto-generated|vacation|zimbra-autoreply|ms-exchange-generated-message-source|"
    r"ms-exchange-inbox-rules-loop|ms-exchange-organization-autoreply|"
    r"ms-exchange-organization-autoforwarded|fc-machinegenerated|cr-hashedpuzzle)$",
    re.IGNORECASE,
)


def _machine_evidence(msg: Message) -> tuple[str | None, str | None, bool]:
    """(strong auto-reply evidence, weak machine evidence, a person says 'no')."""
    auto_submitted = header(msg, "Auto-Submitted").lower()
    if auto_submitted.startswith("no"):
        human_said = True
    else:
        human_said = False
        if auto_submitted:
            return f"Auto-Submitted: {auto_submitted.split(';')[0]}", None, False
    for name in msg:
        if _AUTO_HEADER_NAME.match(name):
            value = header(msg, name).lower()
            if value in {"no", "false", "0"}:
                continue
            if name.lower() == "x-ms-exchange-generated-message-source" and "rules" not in value:
                continue
            return f"{name} header", None, human_said
    weak: str | None = None
    precedence = header(msg, "Precedence").lower()
    if precedence in {"bulk", "junk", "list", "auto_reply", "auto-reply"}:
        if precedence in {"auto_reply", "auto-reply"}:
            return f"Precedence: {precedence}", None, human_said
        weak = f"Precedence: {precedence}"
    suppress = header(msg, "X-Auto-Response-Suppress")
    if suppress and weak is None:
        weak = "X-Auto-Response-Suppress header"
    return_path = msg.get("Return-Path")
    if return_path is not None and str(return_path).strip() in {"<>", ""} and weak is None:
        weak = "empty Return-Path"
    if msg.get("List-Id") and weak is None:
        weak = "List-Id header"
    if weak is None:
        for name in msg:
            if _LIST_MANAGER_HEADER.match(name):
                weak = f"mailing-list manager ({name} header)"
                break
    return None, weak, human_said


# --- human replies ---------------------------------------------------------------------

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
_POSITIVE = re.compile(
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


def _intent(text: str) -> str:
    # Opt-outs are said up front; a footer further down ("unsubscribe here") is not one.
    if _OPT_OUT.search(text[:_INTENT_HEAD]):
        return "opt_out"
    declines = bool(_DECLINE.search(text))
    positive = bool(_POSITIVE.search(text))
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


# --- the whole message -----------------------------------------------------------------


def _message_date(msg: Message) -> datetime | None:
    value = header(msg, "Date")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _ids(value: str) -> tuple[str, ...]:
    return tuple(re.findall(r"<[^<>\s]+>", value))


def _kind_of_method(method: str) -> str:
    if method == "CANCEL":
        return "meeting_cancel"
    if method in {"REPLY", "COUNTER"}:
        return "meeting_reply"
    return "meeting_invite"


def understand(
    raw: bytes,
    *,
    own_addresses: Iterable[str] = (),
    received_at: datetime | None = None,
) -> Inbound:
    """Understand one inbound message (raw RFC 5322 bytes, or a bare iCalendar object).

    ``received_at`` is the reference for relative dates ("back on Monday"); when None,
    the Date header is used. Never raises: unreadable input is kind ``other``.
    """
    try:
        return _understand(raw, own_addresses, received_at)
    except Exception as err:
        return Inbound(kind="other", reason=f"unreadable message ({type(err).__name__})")


@dataclass
class _Message:
    """One parsed message and what every step reads from it (text computed once)."""

    msg: Message
    subject: str
    from_address: str
    plain: str
    html: str
    visible: str
    base: dict[str, Any]
    _everything: str | None = None
    _new_text: str | None = None

    def new_text(self) -> str:
        """The new text of a reply: quotes and signature removed (computed on first use)."""
        if self._new_text is None:
            source = self.plain if self.plain.strip() else html_to_text(self.html)
            self._new_text = trim_reply(source)
        return self._new_text

    def everything(self) -> str:
        """All readable text, attached mail included (computed on first use)."""
        if self._everything is None:
            self._everything = all_text(self.msg)
        return self._everything


def _understand(raw: bytes, own_addresses: Iterable[str], received_at: datetime | None) -> Inbound:
    raw = bytes(raw).lstrip()
    if not raw:
        return Inbound(kind="other", reason="empty message")
    if raw[:15].upper() == b"BEGIN:VCALENDAR":
        meeting, why = read_meeting(raw)
        if meeting is None:
            return Inbound(kind="other", reason=f"calendar file: {why}")
        return Inbound(kind=_kind_of_method(meeting.method), reason=why, meeting=meeting)
    if raw.startswith(b"From ") and b"\n" in raw:
        raw = raw.split(b"\n", 1)[1]  # an mbox separator line
    msg = parse(raw)
    if not msg.keys():
        return Inbound(kind="other", reason="no mail headers")
    from_name, from_address = sender(msg)
    subject = header(msg, "Subject")
    when = _message_date(msg)
    plain, html = bodies(msg)
    mail = _Message(
        msg=msg,
        subject=subject,
        from_address=from_address,
        plain=plain,
        html=html,
        visible=plain if plain.strip() else html_to_text(html, drop_quotes=False),
        base={
            "message_id": (_ids(header(msg, "Message-ID")) or (None,))[0],
            "in_reply_to": (_ids(header(msg, "In-Reply-To")) or (None,))[0],
            "references": _ids(header(msg, "References")),
            "subject": subject,
            "from_address": from_address or None,
            "from_name": from_name or None,
            "date": when,
        },
    )
    reference = received_at if received_at is not None else when
    return (
        _as_bounce(mail)
        or _as_meeting(mail)
        or _as_machine_mail(mail, reference.date() if reference is not None else None)
        or _as_human_reply(mail, {a.strip().lower() for a in own_addresses})
    )


def _as_bounce(mail: _Message) -> Inbound | None:
    why = is_bounce(
        mail.msg, mail.subject, mail.from_address, lambda: mail.visible or mail.everything()
    )
    if not why:
        return None
    to_addrs = [a for _, a in addresses(mail.msg, "To")]
    own_text = all_text(mail.msg, own_only=True)
    bounce = read_bounce(
        mail.msg, mail.subject, mail.from_address, to_addrs, own_text, mail.everything()
    )
    return Inbound(kind="bounce", reason=why, bounce=bounce, **mail.base)


_ITIP_METHODS = {"REQUEST", "REPLY", "CANCEL", "COUNTER", "DECLINECOUNTER", "REFRESH", "ADD"}


def _as_meeting(mail: _Message) -> Inbound | None:
    unreadable: str | None = None
    for data, method in calendar_parts(mail.msg):
        meeting, why = read_meeting(data, method)
        if meeting is not None:
            kind = _kind_of_method(meeting.method)
            return Inbound(kind=kind, reason=why, meeting=meeting, **mail.base)
        said = (method or "").upper() or _calendar_method(data)
        if said in _ITIP_METHODS:
            unreadable = unreadable or f"{said}: {why}"
    if unreadable is not None:
        # A calendar system wrote this (iTIP), even if its event cannot be read.
        reason = f"calendar message without a usable event ({unreadable})"
        return Inbound(kind="other", reason=reason, **mail.base)
    return None


def _calendar_method(data: bytes) -> str:
    found = re.search(rb"^METHOD:([A-Za-z-]+)", data[:20_000], re.MULTILINE)
    return found.group(1).decode("ascii").upper() if found else ""


def _as_machine_mail(mail: _Message, ref_day: date | None) -> Inbound | None:
    """Automatic replies (with their return date), receipts, reports, lists, no-reply."""
    base = mail.base
    subject = mail.subject
    strong, weak, person_said = _machine_evidence(mail.msg)
    report = str(mail.msg.get_param("report-type", "") or "").lower()
    if report == "disposition-notification" or (
        _MDN_SUBJECT.match(subject) and "disposition-notification" in mail.everything().lower()
    ):
        return Inbound(kind="other", reason="read receipt (disposition notification)", **base)
    if mail.msg.get_content_type() == "multipart/report":
        return Inbound(kind="other", reason=f"machine report ({report or 'unknown'})", **base)
    new_text = mail.new_text()
    head = new_text[:1500]
    if _CHALLENGE.search(subject) or _CHALLENGE.search(head):
        return Inbound(kind="other", reason="challenge-response: asks the sender to verify", **base)
    subject_auto = bool(_AUTO_SUBJECT.match(subject))
    ooo_words = bool(_OOO_BODY.search(head))
    # Wording alone makes an automatic reply only when it reads like a template and
    # says nothing a person answering would ("happy to chat after that").
    template_like = (
        ooo_words and len(_TEMPLATE_CUES.findall(head)) >= 2 and not _POSITIVE.search(head)
    )
    if strong or (not person_said and (subject_auto or (weak and ooo_words) or template_like)):
        evidence = strong or ("subject " + repr(subject[:40]) if subject_auto else None)
        evidence = evidence or (f"{weak} and out-of-office text" if weak else None)
        evidence = evidence or "out-of-office wording"
        # The new text first: a copy of our own message below must not lend its dates.
        back = return_date(f"{subject}\n{new_text}", ref_day) or return_date(
            f"{subject}\n{mail.visible}", ref_day
        )
        reason = f"automatic reply: {evidence}"
        if back is not None:
            reason += f"; back on {back.isoformat()}"
        return Inbound(kind="auto_reply", reason=reason, return_date=back, **base)
    if person_said:
        return None
    # Outlook may set X-Auto-Response-Suppress on a person's own answer in a thread.
    answers_us = bool(base["in_reply_to"]) and weak == "X-Auto-Response-Suppress header"
    if weak and not answers_us:
        return Inbound(kind="other", reason=f"machine or list mail: {weak}", **base)
    local = mail.from_address.split("@", 1)[0]
    if local and _NOREPLY.match(local):
        return Inbound(kind="other", reason=f"sent from a no-reply address ({local})", **base)
    if local and _LIST_MANAGER_SENDER.match(local):
        return Inbound(kind="other", reason=f"sent by a mailing-list manager ({local})", **base)
    if not mail.from_address and not new_text.strip() and not mail.visible.strip():
        return Inbound(kind="other", reason="no readable text and no sender", **base)
    return None


def _as_human_reply(mail: _Message, own: set[str]) -> Inbound:
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
