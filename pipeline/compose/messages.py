"""Building a message from a rendered template: the template's own headers checked, the
pipeline's set from the envelope, the body tidied and encoded."""

from __future__ import annotations

import email.utils
import functools
import re
from email.errors import HeaderParseError
from email.headerregistry import Address, AddressHeader, BaseHeader
from email.message import EmailMessage

from connectors._ids import message_id_for
from pipeline.compose.envelope import (
    _BARE_MSG_ID,
    _CONTROL,
    _HEADER_LINE,
    _MSG_ID,
    _RESERVED_X_HEADERS,
    _TEMPLATE_HEADERS,
    _VALUE_NEWLINE,
    MAX_LINE_OCTETS,
    POLICY,
    READER,
    Envelope,
)
from pipeline.errors import TemplateError


def _split_message(rendered: str, origin: str) -> tuple[list[tuple[str, str]], str]:
    """Split a rendered message template into its header fields and its body."""
    header_block, separator, body = rendered.lstrip("\n").partition("\n\n")
    if not separator:
        raise TemplateError(f"{origin}: no blank line between the headers and the body")
    headers: list[tuple[str, str]] = []
    for number, line in enumerate(header_block.split("\n"), start=1):
        if line[:1] in {" ", "\t"} and headers:
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        match = _HEADER_LINE.fullmatch(line)
        if match is None:
            raise TemplateError(f"{origin}: header line {number} is not 'Name: value': {line!r}")
        headers.append((match.group(1), match.group(2)))
    cleaned = [(name, _header_value(value)) for name, value in headers]
    if not any(name.lower() == "subject" and value for name, value in cleaned):
        raise TemplateError(f"{origin}: the template has no Subject")
    for name, _ in cleaned:
        lowered = name.lower()
        allowed = lowered in _TEMPLATE_HEADERS or (
            lowered.startswith("x-") and lowered not in _RESERVED_X_HEADERS
        )
        if not allowed:
            raise TemplateError(f"{origin}: the header {name} is set by the pipeline, not here")
    return cleaned, _tidy_body(body.replace(_VALUE_NEWLINE, "\n"))


def _header_value(value: str) -> str:
    """One line, no control characters, single spaces: never a second header."""
    return " ".join(_CONTROL.sub(" ", value).split())


def _tidy_body(body: str) -> str:
    body = re.sub(r"\n{3,}", "\n\n", body.strip("\n"))
    return body.rstrip() + "\n"


def _body_cte(body: str) -> str | None:
    return "quoted-printable" if not body.isascii() else None


def _address(pair: tuple[str, str], role: str, origin: str) -> Address:
    name, addr = pair
    local, at, domain = addr.strip().rpartition("@")
    try:
        if not (local and at and domain):
            raise ValueError("not local@domain")
        # An internationalized domain goes out in its ASCII (IDNA) form; a non-ASCII local
        # part would need SMTPUTF8, which drafts cannot count on.
        domain = domain.encode("idna").decode("ascii")
        return Address(display_name=_header_value(name or ""), addr_spec=f"{local}@{domain}")
    except (ValueError, IndexError, UnicodeError, HeaderParseError) as err:
        raise TemplateError(f"{origin}: invalid {role} address {addr!r}") from err


def _message_id(value: str) -> str | None:
    value = value.strip()
    if _MSG_ID.fullmatch(value):
        return value
    if _BARE_MSG_ID.fullmatch(value):
        return f"<{value}>"
    return None


def _new_message(headers: list[tuple[str, str]], envelope: Envelope, origin: str) -> EmailMessage:
    if envelope.date.tzinfo is None or envelope.date.utcoffset() is None:
        raise TemplateError(f"{origin}: the envelope date must be timezone-aware")
    message = EmailMessage(policy=POLICY)
    message["From"] = _address_header("From", envelope.sender, origin)
    message["To"] = _address_header("To", envelope.to, origin)
    if envelope.cc:
        message["Cc"] = [_address(pair, "Cc", origin) for pair in envelope.cc]
    message["Date"] = email.utils.format_datetime(envelope.date)
    message["Message-ID"] = message_id_for(envelope.key, envelope.sender[1], envelope.secret)
    for name, value in headers:
        if name.lower() == "subject":
            message["Subject"] = value
    for name, value in headers:
        if name.lower() != "subject":
            message[name] = value
    parent = _message_id(envelope.in_reply_to) if envelope.in_reply_to else None
    references = [ref for ref in map(_message_id, envelope.references) if ref is not None]
    if parent is not None:
        message["In-Reply-To"] = parent
        if parent not in references:
            references.append(parent)
    if references:
        message["References"] = " ".join(dict.fromkeys(references))
    message["X-Outreach-Key"] = _header_value(envelope.key)
    _check_headers(message, origin)
    return message


# Headers are immutable, so the ones every message of a batch shares (From, Date, often
# Subject) are made (see POLICY) and checked once: a few entries, not one per message.
_SHARED_HEADERS = 64


@functools.lru_cache(maxsize=_SHARED_HEADERS)
def _address_header(role: str, pair: tuple[str, str], origin: str) -> BaseHeader:
    made: BaseHeader = POLICY.header_factory(role, _address(pair, role, origin))
    return made


def _check_headers(message: EmailMessage, origin: str) -> None:
    """Refuse a header that does not come out as written: a line longer than mail allows
    (a word too long to fold), or an address header that a reader would take for other
    recipients than ours."""
    for name, value in message.items():
        addresses = (
            tuple(a.addr_spec for a in value.addresses)
            if isinstance(value, AddressHeader)
            else None
        )
        problem = _header_problem(name, str(value), addresses, value)
        if problem is not None:
            raise TemplateError(f"{origin}: {problem}")


# What was found of each header checked lately, by what decides it: its name, its text
# and (an address header) the addresses it stands for.
_checked: dict[tuple[str, str, tuple[str, ...] | None], str | None] = {}
_UNKNOWN = object()


def _header_problem(
    name: str, text: str, addresses: tuple[str, ...] | None, value: BaseHeader
) -> str | None:
    key = (name, text, addresses)
    known = _checked.get(key, _UNKNOWN)
    if known is not _UNKNOWN:
        return known if isinstance(known, str) else None
    folded = POLICY.fold_binary(name, value)
    longest = max(len(line) for line in folded.split(b"\r\n"))
    problem = None
    if longest > MAX_LINE_OCTETS:
        problem = (
            f"the {name} header would have a line of {longest} octets, more than the "
            f"{MAX_LINE_OCTETS} mail allows, as one word of it is that long; shorten the "
            "field it comes from"
        )
    elif addresses is not None and _as_read(name, text, folded, value) != list(addresses):
        problem = (
            f"the {name} header cannot be written so that it keeps its addresses apart "
            f"({text[:80]}...); shorten the name in it"
        )
    if len(_checked) >= _SHARED_HEADERS:
        _checked.clear()
    _checked[key] = problem
    return problem


def _as_read(name: str, text: str, folded: bytes, value: BaseHeader) -> list[str]:
    """The addresses a mail reader finds in the address header ``value`` as written."""
    tree = getattr(value, "_parse_tree", None)
    if folded == f"{name}: {text}\r\n".encode() and tree is not None:
        # Written as its text, on one line: a reader parses that text, which is what
        # the header's own parse tree was made from when it was set.
        return [
            Address("", mailbox.local_part or "", mailbox.domain or "").addr_spec
            for address in tree.addresses
            for mailbox in address.all_mailboxes
        ]
    read = email.message_from_bytes(folded + b"\r\n", policy=READER)[name]
    return [a.addr_spec for a in read.addresses]
