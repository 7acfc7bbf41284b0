"""Bounces: delivery failures and delays, from RFC 3464 reports and plain-text notices.

Evidence, strongest first: a message/delivery-status part (RFC 3464 fields Final-Recipient,
Action, Status); DSN fields written into the text; the plain-text notices of Postfix,
Exim, Sendmail, qmail, Exchange and Office 365, Gmail, Lotus Domino and others, recognised
by their subject, their sender (MAILER-DAEMON, postmaster) and their wording.

Type: a permanent failure (5.x.x) is ``hard``, except a full mailbox (5.2.2, quota),
which may clear by itself and is ``soft``; a temporary failure (4.x.x) or a delay is
``soft``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses

_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)?(?:"
    r"undeliverable|undelivered|undeliverable mail|delivery status notification|"
    r"delivery (?:status )?notification|mail delivery failed|mail delivery failure|"
    r"failure notice|returned mail|delivery failure|delivery failed|delivery report|"
    r"delivery status|warning: message .* delayed|warning: could not send message|"
    r"delayed mail|message delayed|mail system error|non remis|non recapitabile|"
    r"unzustellbar|nicht zustellbar|olevererbart|onbestelbaar|no se puede entregar|"
    r"não entregue|недоставленное сообщение|ваше сообщение не доставлено|"
    r"notice: mail delivery status|message you sent blocked|postmaster notify|"
    r"could not send message|delivery has failed|mail could not be delivered|"
    r"returned to sender|nondeliverable|"
    r"message not delivered|delivery problem"
    r")",
    re.IGNORECASE,
)
_DAEMON = re.compile(
    r"^(?:mailer-daemon|postmaster|mail-daemon|mailerdaemon|mail\.delivery\.system|"
    r"mail delivery (?:system|subsystem)|mdaemon|post_master|bounce|bounces|double-bounce)\b",
    re.IGNORECASE,
)
_BODY = re.compile(
    r"(?:could not be delivered|couldn't be delivered|wasn't delivered|was not delivered|"
    r"delivery (?:has )?failed|delivery to the following recipients? failed|"
    r"undeliverable|permanent(?:ly)? (?:fatal )?error|unable to deliver|"
    r"message could not be sent|returned to sender|this is the mail system at host|"
    r"following addresses had permanent|following recipients? (?:was|were) rejected|"
    r"wasn't able to deliver|was not able to deliver|failed to deliver|"
    r"delivery to the following|i'm sorry to have to inform you|"
    r"has not yet been delivered|delivery attempts will continue|will retry|"
    r"message delayed|could not deliver|user unknown|no such user|mailbox unavailable|"
    r"address rejected|recipient address rejected|not listed in|"
    r"failure reasons|returned message|non remis|unzustellbar|"
    r"the following message to .* was undeliverable|mail delivery failed)",
    re.IGNORECASE,
)
_BODY_STRONG = re.compile(
    r"could not be delivered|delivery (?:has )?failed|undeliverable|unable to deliver|"
    r"permanent(?:ly)? (?:fatal )?error|mailbox (?:is )?full|user unknown|no such user",
    re.IGNORECASE,
)
_COPY_MARKERS = re.compile(
    r"^\s*(?:-+\s*)?(?:original message headers|this is a copy of the message|"
    r"below this line is a copy of the message|below is a copy of the original message|"
    r"the original message was received|returned message|original message follows|"
    r"original message|copy of the original message|unsent message below|"
    r"message headers follow|a copy of the original message below|"
    r"the headers of the original message|headers of your message|"
    r"------ this is a copy of your message)",
    re.IGNORECASE,
)
_HEADER_START = re.compile(r"^(?:Received|Return-Path|DKIM-Signature|X-[\w-]+):\s", re.I)
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_SMTP = re.compile(r"(?<!\d)([45])\d\d(?=[ -])")
_FINAL = re.compile(
    r"^(?:final|original)-recipient:\s*(?:rfc822|rfc-822|x400|[\w-]+)?\s*;?\s*<?([^\s<>;]+@[^\s<>;]+)>?",
    re.IGNORECASE | re.MULTILINE,
)
_FULL = re.compile(
    r"mailbox (?:is )?full|over ?quota|quota exceeded|exceeded (?:the )?(?:storage|quota)|"
    r"mailbox exceeded|exceeded the local limit|mailbox has exceeded|"
    r"insufficient (?:system )?storage|mailbox size limit|disk quota|mailfolder is full",
    re.IGNORECASE,
)
_SOFT_WORDS = re.compile(
    r"delayed|will (?:be )?retr|still (?:being )?retried|not yet been delivered|"
    r"temporar(?:y|ily)|try again later|deferred",
    re.IGNORECASE,
)
_HARD_WORDS = re.compile(
    r"user unknown|unknown user|no such user|does not exist|doesn't exist|"
    r"address rejected|recipient not found|not found|invalid (?:recipient|address|mailbox)|"
    r"mailbox unavailable|no mailbox|account (?:is )?disabled|no longer|unrouteable|"
    r"host or domain name not found|domain (?:name )?not found|not listed",
    re.IGNORECASE,
)
_IGNORED_LOCAL = re.compile(
    r"^(?:mailer-daemon|postmaster|mail-daemon|double-bounce|noreply|no-reply|abuse|"
    r"root|nobody)$",
    re.IGNORECASE,
)
_URL_NEAR = re.compile(r"https?://\S*$")
_MAX_TEXT = 60_000
_MAX_NOTICE = 10_000


@dataclass(frozen=True)
class Bounce:
    """A failed or delayed delivery: hard (address is wrong) or soft (may clear)."""

    type: str
    recipients: tuple[str, ...]
    original_message_id: str | None


@dataclass(frozen=True)
class _Dsn:
    recipient: str
    action: str
    status: str
    diagnostic: str


def _dsn_blocks(msg: Message) -> list[_Dsn]:
    found: list[_Dsn] = []
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else []
        for block in blocks:
            if not isinstance(block, Message):
                continue
            rcpt = block.get("Final-Recipient") or block.get("Original-Recipient")
            if not rcpt:
                continue
            match = _ADDRESS.search(str(rcpt))
            if not match:
                continue
            found.append(
                _Dsn(
                    recipient=match.group(0).lower(),
                    action=str(block.get("Action", "")).strip().lower(),
                    status=str(block.get("Status", "")).strip(),
                    diagnostic=str(block.get("Diagnostic-Code", "")),
                )
            )
        if not found and isinstance(payload, str):
            found.extend(_dsn_from_text(payload))
    return found


def _dsn_from_text(text: str) -> list[_Dsn]:
    """DSN fields written out in a text part (Amazon WorkMail, broken MIME)."""
    found: list[_Dsn] = []
    joined = re.sub(r"=\r?\n", "", text[:_MAX_TEXT])
    for match in _FINAL.finditer(joined):
        tail = joined[match.end() : match.end() + 600]
        action = re.search(r"^action:\s*(\w+)", tail, re.I | re.M)
        status = re.search(r"^status:\s*([245]\.\d{1,3}\.\d{1,3})", tail, re.I | re.M)
        found.append(
            _Dsn(
                recipient=match.group(1).lower().strip("."),
                action=action.group(1).lower() if action else "",
                status=status.group(1) if status else "",
                diagnostic=tail,
            )
        )
    return found


def is_bounce(
    msg: Message, subject: str, from_addr: str, notification: Callable[[], str]
) -> str | None:
    """Why this message is a bounce, or None when it is not one.

    notification gives the readable text; it is only asked for when the headers hint at
    a bounce, so that ordinary mail costs no scan of its body.
    """
    ctype = msg.get_content_type()
    report = str(msg.get_param("report-type", "") or "").lower()
    if ctype == "message/delivery-status":
        return "a delivery-status report"
    if ctype == "multipart/report" and report == "delivery-status":
        return "multipart/report with a delivery-status part"
    parts = msg.walk() if msg.is_multipart() else [msg]
    types = {p.get_content_type() for p in parts}
    if "message/delivery-status" in types:
        return "a message/delivery-status part"
    local = from_addr.split("@", 1)[0]
    from_daemon = bool(_DAEMON.match(local)) or bool(_DAEMON.match(str(msg.get("From", ""))))
    subject_says = bool(_SUBJECT.match(subject))
    attached = bool(types & {"message/rfc822", "text/rfc822-headers"})
    if not (from_daemon or subject_says or attached):
        return None
    text = notification()[:_MAX_NOTICE]
    body_says = bool(_BODY.search(text))
    if from_daemon and (subject_says or body_says):
        return f"sent by {local or 'the mail system'} about a failed delivery"
    if subject_says and body_says:
        return "subject and text of a delivery failure notice"
    if body_says and attached and _BODY_STRONG.search(text):
        return "a failure notice with the original message attached"
    return None


def notification_text(text: str) -> str:
    """The notice part of a plain-text bounce: before the copy of the original message."""
    lines = text[:_MAX_TEXT].splitlines()
    for i, line in enumerate(lines):
        if i > 0 and (_COPY_MARKERS.match(line) or _HEADER_START.match(line)):
            return "\n".join(lines[:i])
    return "\n".join(lines)


def _original_message_id(msg: Message, text: str) -> str | None:
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message) and inner.get("Message-ID"):
                return str(inner.get("Message-ID")).strip()
        elif ctype == "text/rfc822-headers":
            body = part.get_payload(decode=True)
            if isinstance(body, bytes):
                found = re.search(rb"^Message-ID:\s*(<[^>\s]+>)", body, re.I | re.M)
                if found:
                    return found.group(1).decode("ascii", "replace")
    match = re.search(r"^\s*Message-ID:\s*(<[^>\s]+>)", text[:_MAX_TEXT], re.I | re.M)
    return match.group(1) if match else None


def _original_to(msg: Message) -> list[str]:
    for part in msg.walk():
        if part.get_content_type() == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                return [a.lower() for _, a in getaddresses(inner.get_all("To", [])) if "@" in a]
    return []


_ADDR = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
_STRUCTURED = (
    re.compile(rf"^\s*<?({_ADDR})>?\s*:?\s*(?:<mailto:[^>]*>)?\s*$"),
    re.compile(rf"^\s*<({_ADDR})>\s*:"),
    re.compile(rf"^\s*({_ADDR})\s*:\s"),
    re.compile(rf"^\s*({_ADDR})\s+(?:on|\(|\[)"),
    re.compile(
        rf"\b(?:(?:rcpt to|recipient|delivered to|deliver to|addressed to|failed recipient|"
        rf"could not be delivered to|following address(?:es)?)\s*:?|to:)\s*<?({_ADDR})>?",
        re.IGNORECASE,
    ),
)
_SKIP_LINE = re.compile(
    r"\s*(?:message-id|from|reply-to|sender|>>> mail from|mail from|envelope-from|"
    r"return-path|received)\s*:",
    re.IGNORECASE,
)


def _usable(address: str, excluded: set[str]) -> bool:
    local = address.split("@", 1)[0]
    if address in excluded or _IGNORED_LOCAL.match(local):
        return False
    return not (len(local) > 40 and re.fullmatch(r"[0-9a-f.\-]+", local))


def _text_recipients(notice: str, excluded: set[str]) -> list[str]:
    """Failed recipients named in a plain-text notice, structured mentions first."""
    structured: list[str] = []
    loose: list[str] = []
    for line in notice.splitlines():
        if _SKIP_LINE.match(line):
            continue
        for pattern in _STRUCTURED:
            match = pattern.search(line)
            if match:
                address = match.group(1).strip(".").lower()
                if _usable(address, excluded) and address not in structured:
                    structured.append(address)
                break
        for match in _ADDRESS.finditer(line):
            if _URL_NEAR.search(line[: match.start()]):
                continue
            address = match.group(0).strip(".").lower()
            if _usable(address, excluded) and address not in loose:
                loose.append(address)
    return structured or loose


def _inline_original_to(text: str) -> list[str]:
    """The To of an original message copied into the text of a notice."""
    lines = text[:_MAX_TEXT].splitlines()
    for i, line in enumerate(lines):
        if i > 0 and (_COPY_MARKERS.match(line) or _HEADER_START.match(line)):
            for later in lines[i : i + 200]:
                match = re.match(r"^\s*to:\s*(.+)$", later, re.IGNORECASE)
                if match:
                    found = [m.group(0).lower() for m in _ADDRESS.finditer(match.group(1))]
                    if found:
                        return found
            break
    return []


def _type_of(statuses: list[str], actions: list[str], text: str, subject: str) -> str:
    hard = False
    soft = False
    for status in statuses:
        match = _STATUS.search(status)
        if not match:
            continue
        klass, subj, detail = match.groups()
        if klass == "5" and not (subj == "2" and detail == "2"):
            hard = True
        else:
            soft = True
    if any(a.startswith("delay") for a in actions):
        soft = True
    if _FULL.search(text):
        return "soft" if not (hard and _HARD_WORDS.search(text)) else "hard"
    if hard:
        return "hard"
    if soft:
        return "soft"
    if _SOFT_WORDS.search(subject) or _SOFT_WORDS.search(text):
        return "soft"
    codes = [m.group(1) for m in _SMTP.finditer(text)]
    if "5" in codes:
        return "hard"
    if "4" in codes:
        return "soft"
    return "hard"


def read_bounce(
    msg: Message, subject: str, own_from: str, to_addrs: list[str], own_text: str, text: str
) -> Bounce:
    """The bounce's type, failed recipients and the Message-ID of the original mail.

    own_text is the notice's own text (attached mail left out); text is everything.
    """
    notice = notification_text(own_text)
    dsn = _dsn_blocks(msg) or _dsn_from_text(text)
    excluded = {own_from.lower(), *(a.lower() for a in to_addrs)}
    recipients: list[str] = []
    statuses: list[str] = []
    actions: list[str] = []
    if dsn:
        for block in dsn:
            if block.action and block.action not in {"failed", "delayed", "delay"}:
                continue
            if block.recipient not in recipients:
                recipients.append(block.recipient)
            statuses.append(block.status or block.diagnostic)
            actions.append(block.action)
        if not recipients:
            recipients = [b.recipient for b in dsn]
    if not recipients:
        recipients = (
            _text_recipients(notice, excluded) or _original_to(msg) or _inline_original_to(own_text)
        )
    if not statuses:
        statuses = [m.group(0) for m in _STATUS.finditer(notice)]
    type_ = _type_of(statuses, actions, notice, subject)
    return Bounce(
        type=type_,
        recipients=tuple(recipients),
        original_message_id=_original_message_id(msg, text),
    )
