"""Bounces: delivery failures and delays, from RFC 3464 reports and plain-text notices.

Evidence, strongest first: a message/delivery-status part (RFC 3464 fields Final-Recipient,
Action, Status); DSN fields written into the text; the plain-text notices of Postfix,
Exim, Sendmail, qmail, Exchange and Office 365, Gmail, Lotus Domino and others, recognised
by their subject, their sender (MAILER-DAEMON, postmaster) and their wording.

Recipients: per report block the Original-Recipient (the address the sender wrote) when
it is an Internet address, else the Final-Recipient, else an address inside an X.400 one
(``/RFC-822=a(a)b/``, ``dda:SMTP=a@b``). The sender's own side (the bounce's To and the
list it stands for, the original's From and List headers) and the addresses of the
notice's help text ("contact postmaster@...", "try ...") are never failed recipients.

Not a bounce: a report whose every block says delivered, relayed, expanded or
deliverable (2.x.x). A rejection sent as a disposition notification ("deleted", quota)
is one.

Type (hard or soft): ``pipeline.inbound.severity``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses

from pipeline.inbound.notice import (
    ADDRESS,
    internet_address,
    local_part_recipients,
    text_recipients,
)
from pipeline.inbound.severity import (
    FULL,
    HARD_WORDS,
    STATUS,
    BounceType,
    status_type,
    text_type,
)

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
    r"returned to sender|nondeliverable|non-delivery|"
    r"message not delivered|(?:mail )?delivery problem|failed mail|mail failed|"
    r"(?:mail )?delivery warning|returned mail|automatically rejected mail"
    r")",
    re.IGNORECASE,
)
_DAEMON = re.compile(
    r"^(?:mailer-daemon|postmaster|mail-daemon|mailerdaemon|mail\.delivery\.system|"
    r"mail delivery (?:system|subsystem)|mdaemon|post_master|bounce|bounces|double-bounce)\b",
    re.IGNORECASE,
)
_DAEMON_ANYWHERE = re.compile(r"\b(?:mailer-daemon|postmaster)\b[^@\s]*@", re.IGNORECASE)
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
    r"the following message to .* was undeliverable|mail delivery failed|"
    r"has been returned|failed addresses|not (?:been )?delivered|"
    r"n'a pas pu (?:être|etre) (?:délivré|delivre|remis)|no longer valid|"
    r"did not (?:exactly )?match|has been postponed|automatically rejected|"
    r"intended recipient|did not reach (?:the following|all) recipient)",
    re.IGNORECASE,
)
# A failure said in a subject that is not at its start ("RE: ...: non remis").
_SUBJECT_ANYWHERE = re.compile(
    r"(?:undeliverable|undelivered|non remis|non recapitabile|unzustellbar|"
    r"could not be delivered|delivery (?:has )?failed|delivery failure|failure notice)"
    r"\s*\)?\s*\.?$",
    re.IGNORECASE,
)
_BODY_STRONG = re.compile(
    r"could not be delivered|delivery (?:has )?failed|undeliverable|unable to deliver|"
    r"n'a pas pu (?:être|etre) (?:délivré|delivre|remis)|"
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
# Zoho writes "Received:from ..." without a space.
_HEADER_START = re.compile(
    r"^(?:(?:Received|Return-Path):\s?\S|(?:DKIM-Signature|X-[\w-]+):\s)", re.IGNORECASE
)
_FIELD_BLOCK = re.compile(r"^(?:final|original)-recipient:", re.IGNORECASE | re.MULTILINE)
_NOT_FAILED = ("deliver", "relayed", "expanded")
_MAX_TEXT = 60_000
_MAX_BLOCKS = 200  # recipients read from one report; real ones name a few
_MAX_NOTICE = 10_000


@dataclass(frozen=True)
class Bounce:
    """A failed or delayed delivery: hard (address is wrong) or soft (may clear)."""

    type: BounceType
    recipients: tuple[str, ...]
    original_message_id: str | None


@dataclass(frozen=True)
class _Dsn:
    recipient: str  # "" when the block names no Internet address
    action: str
    status: str
    diagnostic: str

    def failed(self) -> bool:
        """Whether this block reports a failure or a delay (not a delivery, 2.x.x)."""
        if self.action.startswith(_NOT_FAILED):
            return False
        return not (self.status.startswith("2.") and not self.action)


def _block_recipient(original: str, final: str) -> str:
    """The Original-Recipient (what the sender wrote) over the Final-Recipient."""
    for value in (original, final):
        if value and (address := internet_address(value)):
            return address
    return ""


def _dsn_blocks(msg: Message) -> list[_Dsn]:
    found: list[_Dsn] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype not in {"message/delivery-status", "message/disposition-notification"}:
            continue
        payload = part.get_payload()
        if ctype == "message/disposition-notification":
            found.extend(_mdn_block(payload))
            continue
        blocks = payload if isinstance(payload, list) else []
        for block in blocks[:_MAX_BLOCKS]:
            if not isinstance(block, Message):
                continue
            final = str(block.get("Final-Recipient", "") or "")
            original = str(block.get("Original-Recipient", "") or "")
            if not (final or original):
                continue
            found.append(
                _Dsn(
                    recipient=_block_recipient(original, final),
                    action=str(block.get("Action", "")).strip().lower(),
                    status=str(block.get("Status", "")).strip(),
                    diagnostic=str(block.get("Diagnostic-Code", "")),
                )
            )
        if not found and isinstance(payload, str):
            found.extend(_dsn_from_text(payload))
    return found


def _mdn_block(payload: object) -> list[_Dsn]:
    """A disposition notification that says the message was deleted: a rejection."""
    if isinstance(payload, list):
        text = "\n".join(
            f"{name}: {value}"
            for block in payload
            if isinstance(block, Message)
            for name, value in block.items()
        )
    else:
        text = str(payload)
    disposition = re.search(r"^disposition:\s*(.+)$", text, re.IGNORECASE | re.MULTILINE)
    said = disposition.group(1).lower() if disposition else ""
    if "automatic" not in said or not re.search(r"deleted|denied|failed|error", said):
        return []  # displayed, or deleted by the person: a receipt, not a rejection
    final = re.search(r"^(?:final|original)-recipient:\s*(.+)$", text, re.I | re.M)
    recipient = internet_address(final.group(1)) if final else None
    return [_Dsn(recipient or "", "failed", "", said)]


def _dsn_from_text(text: str) -> list[_Dsn]:
    """DSN fields written out in a text part (Amazon WorkMail, broken MIME), block by block."""
    found: list[_Dsn] = []
    joined = re.sub(r"=\r?\n", "", text[:_MAX_TEXT])
    if not _FIELD_BLOCK.search(joined):
        return found
    for block in re.split(r"\n[ \t\r]*\n", joined):
        if len(found) >= _MAX_BLOCKS:
            break
        fields: dict[str, str] = {}
        for match in re.finditer(r"^([A-Za-z-]+):[ \t]*(.*)$", block, re.MULTILINE):
            fields.setdefault(match.group(1).lower(), match.group(2).strip())
        final = fields.get("final-recipient", "")
        original = fields.get("original-recipient", "")
        if not (final or original):
            continue
        status = re.search(r"[245]\.\d{1,3}\.\d{1,3}", fields.get("status", ""))
        found.append(
            _Dsn(
                recipient=_block_recipient(original, final),
                action=fields.get("action", "").lower(),
                status=status.group(0) if status else "",
                diagnostic=block,
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
    parts = msg.walk() if msg.is_multipart() else [msg]
    types = {p.get_content_type() for p in parts}
    if "message/delivery-status" in types or report == "delivery-status":
        blocks = _dsn_blocks(msg)
        if blocks and not any(block.failed() for block in blocks):
            return None  # delivered, relayed or expanded: a report, not a failure
        if ctype == "message/delivery-status":
            return "a delivery-status report"
        if ctype == "multipart/report" and report == "delivery-status":
            return "multipart/report with a delivery-status part"
        return "a message/delivery-status part"
    if "message/disposition-notification" in types and _dsn_blocks(msg):
        return "a rejection sent as a disposition notification"
    local = from_addr.split("@", 1)[0]
    from_daemon = (
        bool(_DAEMON.match(local))
        or bool(_DAEMON.match(str(msg.get("From", ""))))
        or bool(_DAEMON_ANYWHERE.search(str(msg.get("From", ""))))
    )
    subject_says = bool(_SUBJECT.match(subject))
    subject_ends = bool(_SUBJECT_ANYWHERE.search(subject))
    attached = bool(types & {"message/rfc822", "text/rfc822-headers"})
    if not (from_daemon or subject_says or subject_ends or attached):
        return None
    text = notification()[:_MAX_NOTICE]
    body_says = bool(_BODY.search(text)) or bool(_BODY.search(subject))
    if from_daemon and (subject_says or body_says):
        return f"sent by {local or 'the mail system'} about a failed delivery"
    if from_daemon and attached:
        return f"sent by {local or 'the mail system'} with the original message"
    if subject_says and body_says:
        return "subject and text of a delivery failure notice"
    if subject_ends and _BODY_STRONG.search(text.lstrip(" \t\r\n*-=")[:200]):
        return "a delivery failure notice (subject and first lines)"
    if body_says and attached and _BODY_STRONG.search(text):
        return "a failure notice with the original message attached"
    return None


def notification_text(text: str) -> str:
    """The notice part of a plain-text bounce: before the copy of the original message."""
    lines = text[:_MAX_TEXT].splitlines()
    for i, line in enumerate(lines):
        if i > 0 and line and (_COPY_MARKERS.match(line) or _HEADER_START.match(line)):
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
    match = re.search(r"^[ \t]*Message-ID:\s*(<[^>\s]+>)", text[:_MAX_TEXT], re.I | re.M)
    return match.group(1) if match else None


def _original_headers(msg: Message) -> Message | None:
    for part in msg.walk():
        if part.get_content_type() == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                return inner
    return None


def _original_to(msg: Message) -> list[str]:
    inner = _original_headers(msg)
    if inner is None:
        return []
    return [a.lower() for _, a in getaddresses(inner.get_all("To", [])) if "@" in a]


_LIST_SUFFIX = re.compile(r"(?:[-+.](?:bounces?|admin|owner|request|errors?)(?:[+=].*)?)$", re.I)
_LIST_HEADER = re.compile(
    r"^[ \t]*(?:>[ \t]*)?(?:list-post|list-id|x-beenthere|list-owner|errors-to)[ \t]*:(.*)$",
    re.IGNORECASE | re.MULTILINE,
)


_LIST_HEADER_NAMES = re.compile(r"list-|x-beenthere|errors-to", re.IGNORECASE)


def _list_base(address: str) -> str | None:
    """The list a list's own bounce address stands for (news-bounces@x -> news@x)."""
    local, _, domain = address.partition("@")
    base = _LIST_SUFFIX.sub("", local)
    if base.lower().startswith("owner-"):
        base = base[6:]
    return f"{base}@{domain}".lower() if base and base != local else None


def _sender_side(msg: Message, to_addrs: list[str], text: str) -> set[str]:
    """Addresses on the sender's side: never the failed recipient of their own mail."""
    side = {a.lower() for a in to_addrs}
    side |= {base for a in to_addrs if (base := _list_base(a))}
    inner = _original_headers(msg)
    if inner is not None:
        addressed = {a.lower() for _, a in getaddresses(inner.get_all("To", []))}
        addressed |= {a.lower() for _, a in getaddresses(inner.get_all("Cc", []))}
        for name in ("From", "Sender", "Reply-To", "Return-Path", "List-Post", "Errors-To"):
            side |= {
                a.lower()
                for _, a in getaddresses(inner.get_all(name, []))
                if "@" in a and a.lower() not in addressed
            }
        for value in inner.get_all("List-Id", []):
            list_id = re.search(r"<([^<>.\s]+)\.([^<>\s]+)>", str(value))
            if list_id:
                side.add(f"{list_id.group(1)}@{list_id.group(2)}".lower())
    copied = text[:_MAX_TEXT]
    if not _LIST_HEADER_NAMES.search(copied):
        return side
    for match in _LIST_HEADER.finditer(copied):
        side |= {m.group(0).lower() for m in ADDRESS.finditer(match.group(1))}
        list_id = re.search(r"<([^<>.\s@]+)\.([^<>\s@]+)>", match.group(1))
        if list_id:
            side.add(f"{list_id.group(1)}@{list_id.group(2)}".lower())
    return side


def _inline_original_to(text: str) -> list[str]:
    """The To of an original message copied into the text of a notice."""
    lines = text[:_MAX_TEXT].splitlines()
    for i, line in enumerate(lines):
        if i > 0 and line and (_COPY_MARKERS.match(line) or _HEADER_START.match(line)):
            for later in lines[i : i + 200]:
                match = re.match(r"^\s*to:\s*(.+)$", later, re.IGNORECASE)
                if match:
                    found = [m.group(0).lower() for m in ADDRESS.finditer(match.group(1))]
                    if found:
                        return found
            break
    return []


def _block_type(block: _Dsn, notice: str, only: bool) -> BounceType:
    if block.action.startswith(("delay", "expired")):
        return "soft"
    words = f"{block.status} {block.diagnostic}"
    codes = (block.status, block.diagnostic)
    if re.match(r"\s*[45]\.0\.0\b", block.status):
        codes = (block.diagnostic, block.status)  # a generic status: the precise code first
    said = status_type(codes[0], words) or status_type(codes[1], words)
    if said is not None:
        # One recipient and a notice that speaks of a full mailbox: the notice decides.
        if said == "hard" and only and FULL.search(notice) and not HARD_WORDS.search(words):
            return "soft"
        return said
    return text_type([], notice, "")


def read_bounce(
    msg: Message, subject: str, own_from: str, to_addrs: list[str], own_text: str, text: str
) -> Bounce:
    """The bounce's type, failed recipients and the Message-ID of the original mail.

    own_text is the notice's own text (attached mail left out); text is everything.
    """
    notice = notification_text(own_text)
    said = notice[:_MAX_NOTICE]  # what the notice says of the failure is at its top
    dsn = [block for block in (_dsn_blocks(msg) or _dsn_from_text(text)) if block.failed()]
    excluded = {own_from.lower()} | _sender_side(msg, to_addrs, text)
    recipients: list[str] = []
    types: list[BounceType] = []
    unnamed = False
    for block in dsn:
        types.append(_block_type(block, said, len(dsn) == 1))
        if not block.recipient:
            unnamed = True
        elif block.recipient not in recipients:
            recipients.append(block.recipient)
    if unnamed or not recipients:
        attached = _original_to(msg)
        if dsn:
            found = attached or text_recipients(notice, excluded) or _inline_original_to(own_text)
        else:
            found = text_recipients(notice, excluded)
            if not found:
                originals = attached or _inline_original_to(own_text)
                found = local_part_recipients(notice, own_from, originals, excluded) or originals
        recipients += [a for a in found if a not in recipients and a not in excluded]
    if types:
        type_: BounceType = "hard" if "hard" in types else "soft"
    else:
        statuses = [m.group(0) for m in STATUS.finditer(said)]
        type_ = text_type(statuses, said, subject)
    return Bounce(
        type=type_,
        recipients=tuple(recipients),
        original_message_id=_original_message_id(msg, text),
    )
