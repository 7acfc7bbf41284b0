"""Building a message from a rendered template: the template's own headers checked, the
pipeline's set from the envelope, the body tidied and encoded."""

from __future__ import annotations

import email.policy
import email.utils
import re
from email.errors import HeaderParseError
from email.headerregistry import (
    Address,
    AddressHeader,
)
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
    message["From"] = _address(envelope.sender, "From", origin)
    message["To"] = _address(envelope.to, "To", origin)
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


def _check_headers(message: EmailMessage, origin: str) -> None:
    """Refuse a header that does not come out as written: a line longer than mail allows
    (a word too long to fold), or an address header that a reader would take for other
    recipients than ours."""
    for name, value in message.items():
        folded = POLICY.fold_binary(name, value)
        longest = max(len(line) for line in folded.split(b"\r\n"))
        if longest > MAX_LINE_OCTETS:
            raise TemplateError(
                f"{origin}: the {name} header would have a line of {longest} octets, more "
                f"than the {MAX_LINE_OCTETS} mail allows, as one word of it is that long; "
                "shorten the field it comes from"
            )
        if isinstance(value, AddressHeader):
            read = email.message_from_bytes(folded + b"\r\n", policy=READER)[name]
            if [a.addr_spec for a in read.addresses] != [a.addr_spec for a in value.addresses]:
                raise TemplateError(
                    f"{origin}: the {name} header cannot be written so that it keeps its "
                    f"addresses apart ({str(value)[:80]}...); shorten the name in it"
                )
