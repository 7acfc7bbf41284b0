"""Reading raw RFC 5322 bytes safely: headers decoded, the readable body, calendar parts.

Nothing here raises on broken mail: unknown charsets fall back to UTF-8 with
replacement characters, broken encodings to the raw text.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr
from html import unescape
from html.parser import HTMLParser

_MAX_PART = 2_000_000


_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MAX_HEADER_BLOCK = 200_000
_COMPOUND = re.compile(rb"multipart/|message/", re.IGNORECASE)  # parts: the parser reads them


def parse(raw: bytes) -> Message:
    """The message tree (compat32: lenient, and fast on large mail).

    A message that is one part (not multipart, not message/*) gets its body as is, the
    way the parser would store it, without the parser's walk over every line of it: a
    1 MB notice of short lines costs the parser a hundred milliseconds and more."""
    end = _HEADER_END.search(raw, 0, _MAX_HEADER_BLOCK)
    if end is not None and not _COMPOUND.search(raw, 0, end.end()):
        msg = email.message_from_bytes(raw[: end.end()], policy=email.policy.compat32)
        if (
            not msg.is_multipart()
            and msg.get_content_maintype() not in {"multipart", "message"}
            and not msg.get_payload()  # the headers ended where the blank line is
        ):
            msg.set_payload(raw[end.end() :].decode("ascii", "surrogateescape"))
            return msg
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def header(msg: Message, name: str) -> str:
    """One header, decoded from RFC 2047 words, whitespace folded; '' when absent."""
    value = msg.get(name)
    if value is None:
        return ""
    return decode_words(str(value))


def decode_words(value: str) -> str:
    try:
        text = str(make_header(decode_header(value)))
    except (UnicodeError, LookupError, ValueError, AssertionError, TypeError):
        text = value
    return " ".join(text.split())


def addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """(display name, lower-case address) pairs of an address header."""
    values = [str(v) for v in msg.get_all(name, []) or []]
    result: list[tuple[str, str]] = []
    for display, address in getaddresses(values):
        address = address.strip().strip("<>").lower()
        if "@" in address:
            result.append((decode_words(display).strip("'\" "), address))
    return result


def sender(msg: Message) -> tuple[str, str]:
    """(display name, lower-case address) of From."""
    display, address = parseaddr(header(msg, "From"))
    return display.strip("'\" "), address.strip().lower()


def part_bytes(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, TypeError, AssertionError):
        payload = None
    if isinstance(payload, bytes):
        return payload[:_MAX_PART]
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "replace")[:_MAX_PART]
    return b""


def part_text(part: Message) -> str:
    data = part_bytes(part)
    charset = str(part.get_content_charset() or "utf-8")
    try:
        return data.decode(charset, "replace")
    except (LookupError, ValueError):
        return data.decode("utf-8", "replace")


def _is_attachment(part: Message) -> bool:
    disposition = str(part.get("Content-Disposition", "")).lower()
    return disposition.startswith("attachment")


def walk_own(msg: Message) -> list[Message]:
    """Every part of the message, not descending into attached messages."""
    found: list[Message] = []
    stack: list[Message] = [msg]
    while stack:
        part = stack.pop()
        found.append(part)
        if part.get_content_maintype() == "message" and part is not msg:
            continue
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
    return found


def content_type(part: Message) -> str:
    """The content type, also when a client left out the ';' before its parameters
    ("text/plain<newline> charset=...")."""
    ctype = part.get_content_type()
    return ctype.split(None, 1)[0] if ctype else ctype


def bodies(msg: Message) -> tuple[str, str]:
    """(plain text, html) of the message itself, attachments and attached mail left out."""
    plain: list[str] = []
    html: list[str] = []
    for part in walk_own(msg):
        if part.is_multipart() or _is_attachment(part):
            continue
        ctype = content_type(part)
        if ctype == "text/plain" or (
            part.get_content_maintype() == "multipart" and isinstance(part.get_payload(), str)
        ):
            plain.append(part_text(part))  # a multipart without a boundary is text
        elif ctype == "text/html":
            html.append(part_text(part))
    return "\n".join(plain), "\n".join(html)


def all_text(msg: Message, *, own_only: bool = False) -> str:
    """All readable text, with attached mail unless own_only (bounces quote the original)."""
    chunks: list[str] = []
    for part in walk_own(msg) if own_only else msg.walk():
        if part.is_multipart():
            continue
        ctype = content_type(part)
        broken = part.get_content_maintype() == "multipart" and isinstance(part.get_payload(), str)
        if broken or ctype in {"text/plain", "message/delivery-status", "text/rfc822-headers"}:
            chunks.append(part_text(part))
        elif ctype == "text/html":
            chunks.append(strip_tags(part_text(part)))
    return "\n".join(chunks)


_TAG = re.compile(
    r"<(?:script|style)\b.*?</(?:script|style)\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL
)
_BREAK = re.compile(r"<(?:br|/p|/div|/tr|/li|/h\d)\b[^>]*>", re.IGNORECASE)


def strip_tags(html: str) -> str:
    """Rough text of HTML (fast; for machine mail, where layout does not matter)."""
    text = _BREAK.sub("\n", html[:_MAX_PART])
    return unescape(_TAG.sub(" ", text))


def calendar_parts(msg: Message) -> list[tuple[bytes, str | None]]:
    """(iCalendar bytes, method parameter) of calendar parts and .ics attachments."""
    found: list[tuple[bytes, str | None]] = []
    for part in walk_own(msg):
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        filename = str(part.get_filename() or part.get_param("name") or "").lower()
        if ctype in {"text/calendar", "application/ics", "text/x-vcalendar"} or (
            filename.endswith((".ics", ".vcs")) and ctype.startswith(("application/", "text/"))
        ):
            method = part.get_param("method")
            data = part_bytes(part)
            if b"BEGIN:VCALENDAR" in data[:4096].upper():
                found.append((data, str(method).upper() if isinstance(method, str) else None))
    return found


_QUOTE_CLASSES = re.compile(
    r"gmail_quote|gmail_extra|yahoo_quoted|moz-cite-prefix|outlook_quote|"
    r"olk_src_body_section|divrplyfwdmsg|appendonsend|protonmail_quote|zmail_extra|"
    r"reply-quote|x_gmail_quote|ms-outlook-mobile-reference",
    re.IGNORECASE,
)
_BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"}
_VOID = {"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr", "source"}


class _TextExtractor(HTMLParser):
    def __init__(self, drop_quotes: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.drop_quotes = drop_quotes
        self.parts: list[str] = []
        self.skip_depth = 0
        self.stack: list[bool] = []  # per open element: does it start a skipped block
        self.stopped = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.stopped:
            return
        attributes = " ".join(f"{k}={v}" for k, v in attrs if k in {"class", "id", "type"})
        skip = tag in {"script", "style", "head", "title"}
        if self.drop_quotes:
            if tag == "blockquote" or _QUOTE_CLASSES.search(attributes):
                skip = True
            if tag == "hr" and self.skip_depth == 0 and "".join(self.parts).strip():
                self.stopped = True  # a reply separated from the quote by a rule
                return
        if tag in _VOID:
            if tag == "br" and self.skip_depth == 0:
                self.parts.append("\n")
            return
        self.stack.append(skip)
        if skip:
            self.skip_depth += 1
        if tag in _BLOCKS and self.skip_depth == 0:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self.stopped or tag in _VOID:
            return
        if self.stack and self.stack.pop():
            self.skip_depth -= 1
        if tag in _BLOCKS and self.skip_depth == 0:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.stopped or self.skip_depth:
            return
        self.parts.append(data)


def html_to_text(html: str, *, drop_quotes: bool = True) -> str:
    """Readable text of an HTML body; with drop_quotes, quoted history left out."""
    parser = _TextExtractor(drop_quotes)
    try:
        parser.feed(html[:_MAX_PART])
        parser.close()
    except (AssertionError, ValueError):
        pass
    text = "".join(parser.parts).replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if not line and out and not out[-1]:
            continue
        out.append(line)
    return "\n".join(out).strip()
