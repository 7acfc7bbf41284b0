"""Reading vCard files (2.1 leniently, 3.0, 4.0)."""

from __future__ import annotations

import quopri
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from pipeline.contacts.drafts import (
    _NO_NAME,
    _check_timezone,
    _checked_length,
    _control_problem,
    _Draft,
    _email_problem,
    _name_length_problem,
)
from pipeline.contacts.records import Problem, custom_field_key
from pipeline.emails import InvalidEmail, normalize_email

_VCARD_VERSIONS: Final = frozenset({"2.1", "3.0", "4.0"})
_VCARD_SKIPPED: Final = frozenset(
    # Bookkeeping and binary media: nothing a template or the person would use.
    {"VERSION", "PRODID", "REV", "PHOTO", "LOGO", "SOUND", "KEY", "CLIENTPIDMAP"}
)
# Properties that fill a sized field: the field, and the custom key of a second value.
_VCARD_SIZED: Final = MappingProxyType(
    {"ORG": ("organization", "org"), "TITLE": ("role", "title"), "ROLE": ("role", "vcard_role")}
)
_UTC_OFFSET: Final = re.compile(r"(?:UTC|GMT)?\s*([+-])(\d{1,2}):?(\d{2})?", re.IGNORECASE)


@dataclass(frozen=True)
class _Property:
    line: int
    name: str  # upper case, without its group
    params: Mapping[str, tuple[str, ...]]  # upper-case names; TYPE values as written
    value: str  # raw: still escaped, quoted-printable already decoded

    def types(self) -> set[str]:
        return {value.casefold() for value in self.params.get("TYPE", ())}


def _looks_like_vcard(text: str) -> bool:
    return text.lstrip()[:11].upper() == "BEGIN:VCARD"


def _unfold(text: str) -> list[tuple[int, str]]:
    """Join continuation lines: a leading space or tab, or a quoted-printable soft break."""
    logical: list[tuple[int, str]] = []
    for number, physical in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
        if logical and physical[:1] in {" ", "\t"}:
            start, so_far = logical[-1]
            logical[-1] = (start, so_far + physical[1:])
        elif logical and logical[-1][1].endswith("=") and _is_quoted_printable(logical[-1][1]):
            start, so_far = logical[-1]
            logical[-1] = (start, so_far[:-1] + physical)
        else:
            logical.append((number, physical))
    return logical


def _is_quoted_printable(content_line: str) -> bool:
    head = content_line.partition(":")[0].upper()
    return "QUOTED-PRINTABLE" in head


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _parse_property(line: int, content: str) -> _Property | None:
    head_and_value = _split_outside_quotes(content, ":")
    if len(head_and_value) < 2:
        return None
    head, value = head_and_value[0], ":".join(head_and_value[1:])
    name, *raw_params = _split_outside_quotes(head, ";")
    name = name.rpartition(".")[2].strip().upper()
    if not re.fullmatch(r"[A-Z0-9-]+", name):
        return None
    params: dict[str, tuple[str, ...]] = {}
    for raw in raw_params:
        key, equals, values = raw.partition("=")
        if not equals:  # vCard 2.1 writes bare types: TEL;WORK;VOICE:...
            key, values = "TYPE", raw
        items = tuple(v.strip().strip('"') for v in _split_outside_quotes(values, ","))
        if key.strip().upper() == "TYPE":  # vCard 4 may quote a list: TYPE="work,voice"
            items = tuple(t.strip() for item in items for t in item.split(","))
        params[key.strip().upper()] = params.get(key.strip().upper(), ()) + items
    encoding = {v.upper() for v in params.get("ENCODING", ()) + params.get("TYPE", ())}
    if "QUOTED-PRINTABLE" in encoding:
        charset = (params.get("CHARSET") or ("utf-8",))[0]
        decoded = quopri.decodestring(value.encode("utf-8"))
        try:
            value = decoded.decode(charset)
        except (LookupError, UnicodeDecodeError):
            value = decoded.decode("latin-1")
    return _Property(line, name, params, value)


def _unescape_split(value: str, separator: str | None) -> list[str]:
    """Split on unescaped ``separator`` and undo backslash escapes (\\n, \\, \\; \\\\)."""
    parts: list[str] = []
    current: list[str] = []
    chars = iter(value)
    for ch in chars:
        if ch == "\\":
            following = next(chars, "")
            current.append("\n" if following in {"n", "N"} else following)
        elif separator is not None and ch == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _text(prop: _Property) -> str:
    text = _unescape_split(prop.value, None)[0]
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _parse_vcards(text: str, file: str) -> tuple[list[_Draft], list[Problem]]:
    drafts: list[_Draft] = []
    problems: list[Problem] = []
    card: list[_Property] | None = None
    begin_line = 0
    saw_card = False
    card_broken = False  # a line of the card could not be read: the card is not kept
    for line, content in _unfold(text):
        if not content.strip():
            continue
        prop = _parse_property(line, content)
        if prop is None:
            message = "this line is not a vCard property; expected NAME:value"
            problems.append(Problem(file, line, None, message))
            if card is not None:
                card_broken = True
            continue
        value = prop.value.strip().upper()
        if prop.name == "BEGIN" and value == "VCARD":
            if card is not None:
                message = "this card is not closed; expected END:VCARD before the next card"
                problems.append(Problem(file, begin_line, "BEGIN", message))
            card, begin_line, saw_card, card_broken = [], line, True, False
        elif prop.name == "END" and value == "VCARD":
            if card is None:
                message = "END:VCARD without a BEGIN:VCARD; expected BEGIN:VCARD first"
                problems.append(Problem(file, line, "END", message))
            else:
                draft = _read_card(card, begin_line, file, problems)
                if draft is not None and not card_broken:
                    drafts.append(draft)
            card = None
        elif card is None:
            message = "text outside a card; expected it between BEGIN:VCARD and END:VCARD"
            problems.append(Problem(file, line, prop.name, message))
        else:
            card.append(prop)
    if card is not None:
        message = "this card is not closed; expected END:VCARD at the end of the card"
        problems.append(Problem(file, begin_line, "BEGIN", message))
    if not saw_card and not problems:
        message = "no card in this file; expected BEGIN:VCARD ... END:VCARD"
        problems.append(Problem(file, 1, None, message, whole_file=True))
    return drafts, problems


def _read_card(
    props: list[_Property], line: int, file: str, problems: list[Problem]
) -> _Draft | None:
    draft = _Draft(line=line)
    before = len(problems)
    emails: list[tuple[int, int, str, _Property]] = []
    for order, prop in enumerate(props):
        name = prop.name
        text = prop.value.replace("\r\n", "\n").replace("\r", "\n")
        control = None if name in _VCARD_SKIPPED else _control_problem(text, "property")
        if control is not None:
            problems.append(Problem(file, prop.line, name, control))
            continue
        if name in _VCARD_SKIPPED:
            if name == "VERSION" and _text(prop) not in _VCARD_VERSIONS:
                message = f"version {_text(prop)!r} is not supported; expected 3.0 or 4.0"
                problems.append(Problem(file, prop.line, name, message))
            continue
        if name == "EMAIL":
            emails.append((_email_rank(prop), order, _text(prop), prop))
        elif name == "FN":
            draft.set_text("full_name", " ".join(_text(prop).split()), "fn")
        elif name == "N":
            _read_structured_name(draft, prop)
        elif name in _VCARD_SIZED:
            target, key = _VCARD_SIZED[name]
            value = _text(prop)
            if name == "ORG":
                units = [u.strip() for u in _unescape_split(prop.value, ";")]
                value = units[0]
                if any(units[1:]):
                    draft.add_custom("department", ", ".join(u for u in units[1:] if u))
            try:
                if value:
                    draft.set_text(target, _checked_length(target, value), key)
            except ValueError as err:
                problems.append(Problem(file, prop.line, name, str(err)))
        elif name == "NOTE":
            note = _text(prop)
            if note:
                draft.add_note(note)
        elif name == "CATEGORIES":
            for tag in _unescape_split(prop.value, ","):
                if tag.strip():
                    draft.add_tag(tag.strip())
        elif name == "TZ":
            try:
                zone = _vcard_timezone(prop)
            except ValueError as err:
                problems.append(Problem(file, prop.line, name, str(err)))
            else:
                if zone:
                    draft.set_text("timezone", zone, "tz")
        else:
            components = [c.strip() for c in _unescape_split(prop.value, ";")]
            value = ", ".join(c for c in components if c)
            if value:
                draft.add_custom(custom_field_key(name) or "property", value)
    for _, _, value, prop in sorted(emails, key=lambda item: item[:2]):
        if not value:
            continue
        try:
            draft.add_email(normalize_email(value))
        except InvalidEmail as err:
            problems.append(Problem(file, prop.line, "EMAIL", _email_problem(value, err)))
    missing = draft.missing_name() if len(problems) == before else None
    if missing is not None:
        message = f"this card has no {missing} (FN or N); {_NO_NAME}"
        problems.append(Problem(file, line, None, message))
    too_long = _name_length_problem(draft) if len(problems) == before else None
    if too_long is not None:
        problems.append(Problem(file, line, "N" if draft.first_name else "FN", too_long))
    return draft if len(problems) == before else None


def _email_rank(prop: _Property) -> int:
    """Lower ranks first: PREF=n (vCard 4), TYPE=pref (vCard 3), then the rest."""
    for value in prop.params.get("PREF", ()):
        if value.isdigit():
            return int(value)
    return 0 if "pref" in prop.types() else 101


def _read_structured_name(draft: _Draft, prop: _Property) -> None:
    parts = [" ".join(p.replace(",", " ").split()) for p in _unescape_split(prop.value, ";")]
    parts += [""] * (5 - len(parts))
    family, given, additional, prefix, suffix = parts[:5]
    if given:
        draft.set_text("first_name", given, "given_name")
    if family:
        draft.set_text("last_name", family, "family_name")
    for key, value in (
        ("middle_name", additional),
        ("name_prefix", prefix),
        ("name_suffix", suffix),
    ):
        if value:
            draft.add_custom(key, value)


def _vcard_timezone(prop: _Property) -> str:
    """An IANA name from TZ; a whole-hour UTC offset becomes the matching Etc/GMT zone."""
    value = _text(prop)
    if not value:
        return ""
    offset = _UTC_OFFSET.fullmatch(value)
    if offset is not None:
        sign, hours, minutes = offset.group(1), int(offset.group(2)), offset.group(3)
        if minutes not in (None, "00") or hours > 14:
            raise ValueError(
                f"the offset {value!r} has no IANA zone; expected a name such as Asia/Kolkata"
            )
        if hours == 0:
            return "Etc/UTC"
        # POSIX-style Etc zones count the other way: UTC-05:00 is Etc/GMT+5.
        return f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"
    return _check_timezone(value)
