"""Compose outbound mail from the Jinja2 templates in ``templates/``.

A message template is one file, headers and body together (the mailmerge layout)::

    Subject: 20 minutes of advice on {{ me.field }}?

    Hi {{ contact.first_name }},
    ...

Rendering is strict: a field the template needs and the context lacks is an error, unless the
template itself says what to use instead (``{{ contact.organization | default("...") }}``) or
asks first (``{% if notes is defined %}``). A field that is ``None`` or blank counts as missing,
so a contact with no organization never gets the word "None" in a message.

Safety by construction, not by review of each template:

* Every value a template prints has its line breaks replaced by a private marker before it
  reaches the output. Only the template's own text can start a header line or end the header
  block, so a contact field holding CR or LF can never add a header. In the header block the
  marker becomes a space; in the body it becomes a line break again.
* Headers that belong to the pipeline (From, To, Cc, Bcc, Date, Message-ID, threading, MIME)
  are set here from the :class:`Envelope`; a template that tries to set them is rejected.
* ``*.html.j2`` templates are autoescaped.
* Templates are code that others write (a career office hands its students templates), so
  they run in Jinja2's immutable sandbox: no attribute that starts with ``_``, no method that
  changes a value, no global function, and only the filters the shipped templates use
  (:data:`FILTERS`). Reaching for more is a :class:`TemplateError` naming the file and line.

Templates are looked up in the workspace override directory first (any file there wins), then
in the shipped ``templates/`` directory.
"""

from __future__ import annotations

import email.policy
import email.utils
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from email.errors import HeaderParseError
from email.headerregistry import (
    Address,
    AddressHeader,
    BaseHeader,
    HeaderRegistry,
    UnstructuredHeader,
)
from email.message import EmailMessage
from email.policy import EmailPolicy, Policy
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from connectors._ids import message_id_for
from pipeline.errors import TemplateError
from pipeline.resources import templates_dir
from pipeline.textfiles import read_utf8

__all__ = [
    "FILTERS",
    "NON_MESSAGE_TEMPLATES",
    "REPLY_KINDS",
    "Envelope",
    "TemplateSet",
    "first_outreach_kind",
    "kinds_for_contact",
    "message_id_for",
]

#: Templates in templates/ that are not message kinds.
NON_MESSAGE_TEMPLATES = frozenset({"prep_notes", "digest"})

#: Kinds whose shipped template answers in the existing thread ("Re: " + original subject).
REPLY_KINDS = frozenset({"nudge_1", "nudge_2", "scheduling_reply", "thanks_anyway"})

_ALUMNI_WORDS = ("alumni", "alumnus", "alumna", "alum")

# Headers the pipeline owns. A template may set any other header it likes only if it is on
# the allowed list or an X- header; everything else is a template error.
_TEMPLATE_HEADERS = frozenset({"subject", "reply-to", "keywords", "comments"})
_RESERVED_X_HEADERS = frozenset({"x-outreach-key"})

# Private-use code points stand in for line breaks inside printed values (see module doc).
_VALUE_NEWLINE = "\ue000"
_LINE_BREAK_CHARS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines splits on
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029" + _VALUE_NEWLINE + r"]")
_HEADER_LINE = re.compile(r"([!-9;-~]+):[ \t]*(.*)")
_MSG_ID = re.compile(r"<[^\s<>]+@[^\s<>]+>")
_BARE_MSG_ID = re.compile(r"[^\s<>]+@[^\s<>]+")


# --------------------------------------------------------------------------- envelope, ids


@dataclass(frozen=True)
class Envelope:
    """Who a message goes from and to, and where it sits in a thread.

    ``key`` is the step's idempotency key ("acct1/contact42/nudge/1"); the Message-ID is
    derived from it and it is carried in ``X-Outreach-Key`` so the pipeline recognises its
    own drafts. ``date`` must be timezone-aware.
    """

    sender: tuple[str, str]
    to: tuple[str, str]
    key: str
    date: datetime
    cc: tuple[tuple[str, str], ...] = ()
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    secret: str = ""  # the sending account's, so no two people share a Message-ID


class _MessageIdListHeader(UnstructuredHeader):
    """In-Reply-To and References: folded between ids, never RFC 2047 encoded.

    The standard library treats these as free text and encodes a long id as an encoded word,
    which breaks threading in every mail client.
    """

    name: str

    def fold(self, *, policy: Policy) -> str:
        limit = policy.max_line_length or 998
        start = f"{self.name}:"
        lines: list[str] = []
        current = start
        for token in str(self).split():
            if current != start and len(current) + 1 + len(token) > limit:
                lines.append(current)
                current = f" {token}"
            else:
                current = f"{current} {token}"
        lines.append(current)
        return policy.linesep.join(lines) + policy.linesep


#: The longest line RFC 5322 (2.1.1) allows, in octets, without its CRLF.
MAX_LINE_OCTETS = 998


class _AddressListHeader(AddressHeader):
    """From, To, Cc: an ASCII header is folded only past MAX_LINE_OCTETS.

    The standard library (3.11) folds a long quoted display name without its quotes, so
    ``"Lee, Ann" <ann@x.example>`` past 78 characters becomes ``Lee, Ann <ann@x.example>``:
    two recipients, and a name such as ``a, evil@example.org, ...`` adds one. Names with
    other characters go out as encoded words, which it folds correctly at 78."""

    name: str

    def fold(self, *, policy: Policy) -> str:
        if str(self).isascii():
            policy = policy.clone(max_line_length=MAX_LINE_OCTETS)
        # A mixin: BaseHeader, which the registry combines it with, does the folding.
        return BaseHeader.fold(cast("BaseHeader", self), policy=policy)


class _SingleAddressHeader(_AddressListHeader):
    max_count = 1


def _make_policy() -> EmailPolicy[EmailMessage]:
    registry = HeaderRegistry()
    # map_to_type wants a mixin that it combines with BaseHeader itself (as the standard
    # library's own UnstructuredHeader is); typeshed asks for the combined type.
    id_list = cast("type[BaseHeader]", _MessageIdListHeader)
    registry.map_to_type("in-reply-to", id_list)
    registry.map_to_type("references", id_list)
    registry.map_to_type("from", cast("type[BaseHeader]", _SingleAddressHeader))
    registry.map_to_type("to", cast("type[BaseHeader]", _SingleAddressHeader))
    registry.map_to_type("cc", cast("type[BaseHeader]", _AddressListHeader))
    return email.policy.SMTP.clone(header_factory=registry)


#: The policy of every message composed here: RFC 5322 with CRLF line ends.
POLICY = _make_policy()


# --------------------------------------------------------------------------- which kind


def first_outreach_kind(contact: Mapping[str, Any], *, referrer_is_contact: bool = False) -> str:
    """The template for the first message to ``contact``.

    ``referral_outreach`` when someone the person already met introduced them
    (``referrer_is_contact``), ``first_referred`` when ``referred_by`` names someone,
    ``first_alumni`` when the contact is tagged as an alumnus or was found through an alumni
    listing, else ``first_cold``.
    """
    if referrer_is_contact:
        return "referral_outreach"
    if not _is_blank(contact.get("referred_by")):
        return "first_referred"
    tags = [str(tag).strip().lower() for tag in contact.get("tags") or ()]
    how_found = str(contact.get("how_found") or "").lower()
    if any(tag in _ALUMNI_WORDS for tag in tags) or any(w in how_found for w in _ALUMNI_WORDS):
        return "first_alumni"
    return "first_cold"


def kinds_for_contact(
    contact: Mapping[str, Any], *, referrer_is_contact: bool = False, is_referrer: bool = False
) -> list[str]:
    """Every template a contact could receive over an outreach (for ``templates check``).

    Message kinds, then ``prep_notes``; ``referrer_note`` only for someone who introduced
    another contact (``is_referrer``).
    """
    kinds = [first_outreach_kind(contact, referrer_is_contact=referrer_is_contact)]
    kinds += ["nudge_1", "nudge_2", "scheduling_reply", "thank_you", "thanks_anyway"]
    kinds += ["keep_in_touch"] + (["referrer_note"] if is_referrer else []) + ["prep_notes"]
    return kinds


# --------------------------------------------------------------------------- context fields


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _wrap(value: Any, path: str) -> Any:
    if isinstance(value, Mapping):
        return _Fields(value, path)
    if isinstance(value, list | tuple):
        return [_wrap(item, f"{path}[{index}]") for index, item in enumerate(value)]
    return value


class _Fields(Mapping[str, Any]):
    """A read-only view of one context dict that knows its dotted path.

    Blank values (None, empty or whitespace-only strings) read as missing, so a template sees
    them as undefined and strict rendering names them.
    """

    __slots__ = ("_data", "_path")

    def __init__(self, data: Mapping[str, Any], path: str) -> None:
        self._data = data
        self._path = path

    def __getitem__(self, key: str) -> Any:
        value = self._data[key]
        if _is_blank(value):
            raise KeyError(key)
        return _wrap(value, _join(self._path, key))

    def __iter__(self) -> Iterator[str]:
        return (key for key, value in self._data.items() if not _is_blank(value))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _top_level(context: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _wrap(value, key) for key, value in context.items() if not _is_blank(value)}


def _undefined_path(undefined: jinja2.Undefined) -> str:
    """The dotted name of a missing field: "contact.organization", "meeting.start"."""
    obj = undefined._undefined_obj
    name = undefined._undefined_name or "?"
    if isinstance(obj, _Fields):
        return _join(obj._path, name)
    if isinstance(obj, jinja2.Undefined):
        return _join(_undefined_path(obj), name)
    if obj is jinja2.utils.missing:
        return name
    return f"({type(obj).__name__}).{name}"


class _Missing(jinja2.StrictUndefined):
    """Strict, but names the whole dotted path, and ``a.b.c`` can be asked ``is defined``."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        return f"missing field {_undefined_path(self)}"

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__":
            raise AttributeError(name)
        return type(self)(obj=self, name=name)


_found_missing: ContextVar[list[str] | None] = ContextVar("_found_missing", default=None)


class _RecordingMissing(jinja2.Undefined):
    """For missing_fields: notes each missing field where strict rendering would stop.

    Printing, testing, iterating or measuring it records the field and carries on as an empty
    value, so one render finds every missing field rather than the first.
    """

    __slots__ = ()

    def _note(self) -> None:
        found = _found_missing.get()
        path = _undefined_path(self)
        if found is not None and path not in found:
            found.append(path)

    @property
    def _undefined_message(self) -> str:
        return f"missing field {_undefined_path(self)}"

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._note()
        super()._fail_with_undefined_error(*args, **kwargs)

    # Undefined binds these to its own method at class creation; rebind them to ours.
    __add__ = __radd__ = __sub__ = __rsub__ = _fail_with_undefined_error
    __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _fail_with_undefined_error
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _fail_with_undefined_error
    __pos__ = __neg__ = __pow__ = __rpow__ = __call__ = __getitem__ = _fail_with_undefined_error
    __lt__ = __le__ = __gt__ = __ge__ = _fail_with_undefined_error
    __int__ = __float__ = __complex__ = _fail_with_undefined_error

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__":
            raise AttributeError(name)
        return type(self)(obj=self, name=name)

    def __str__(self) -> str:
        self._note()
        return ""

    def __iter__(self) -> Iterator[Any]:
        self._note()
        return iter(())

    def __len__(self) -> int:
        self._note()
        return 0

    def __bool__(self) -> bool:
        self._note()
        return False

    def __eq__(self, other: Any) -> bool:
        self._note()
        return False

    def __ne__(self, other: Any) -> bool:
        self._note()
        return True

    def __hash__(self) -> int:
        return id(self)


# --------------------------------------------------------------------------- the environment


#: Jinja2's own filters that templates may use (what the shipped templates need), besides
#: the project's: when, clock, longdate, reply_subject.
JINJA_FILTERS = ("default", "join", "length", "replace", "trim", "truncate")


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, looking dotted names up as dict keys first (a field called "items" works).

    What the sandbox refuses stops the render at once, with the attribute named, rather than
    reading as a missing field."""

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        raise SecurityError(
            f"a template may not use {attribute!r} of a {type(obj).__name__}: templates "
            "read the fields they are given and format them with filters, nothing more"
        )

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, _Fields):
            try:
                return obj[attribute]
            except KeyError:
                if attribute in {"items", "keys", "values", "get"}:
                    return super().getattr(obj, attribute)
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, _Fields) and isinstance(argument, str):
            try:
                return obj[argument]
            except KeyError:
                return self.undefined(obj=obj, name=argument)
        return super().getitem(obj, argument)


def _finalize(value: Any) -> Any:
    """Mark the line breaks of every printed value (see the module docstring)."""
    if isinstance(value, jinja2.Undefined):
        return value
    text = value if isinstance(value, str) else str(value)
    # str.replace keeps a Markup value Markup (already escaped), so no re.sub here.
    text = text.replace(_VALUE_NEWLINE, "").replace("\r\n", "\n")
    for mark in _LINE_BREAK_CHARS:
        text = text.replace(mark, _VALUE_NEWLINE)
    return text


def _zone(name: Any) -> ZoneInfo | None:
    if name is None or isinstance(name, jinja2.Undefined):
        return None
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise TemplateError(f"unknown time zone {name!r}") from err


def _local(value: datetime, tz: Any) -> datetime:
    zone = _zone(tz)
    return value.astimezone(zone) if zone is not None else value


def _clock(value: Any, tz: Any = None) -> Any:
    """``14:30`` in the given (or the value's own) zone, as "2:30 PM"."""
    if isinstance(value, jinja2.Undefined):
        return value
    local = _local(value, tz)
    return f"{local.hour % 12 or 12}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


def _longdate(value: Any, tz: Any = None) -> Any:
    """A date or datetime as "Tuesday, March 3"."""
    if isinstance(value, jinja2.Undefined):
        return value
    day = _local(value, tz) if isinstance(value, datetime) else value
    if not isinstance(day, date):
        raise TemplateError(f"longdate needs a date, not {type(value).__name__}")
    return f"{day:%A}, {day:%B} {day.day}"


def _when(value: Any, tz: Any = None) -> Any:
    """A datetime as "Tuesday, March 3 at 2:30 PM EST"."""
    if isinstance(value, jinja2.Undefined):
        return value
    local = _local(value, tz)
    zone = local.tzname() or ""
    return f"{_longdate(local)} at {_clock(local)} {zone}".rstrip()


def _reply_subject(value: Any) -> Any:
    """The original subject with one "Re: " in front."""
    if isinstance(value, jinja2.Undefined):
        return value
    subject = str(value).strip()
    return subject if re.match(r"(?i)re\s*:", subject) else f"Re: {subject}"


_OWN_FILTERS = {
    "when": _when,
    "clock": _clock,
    "longdate": _longdate,
    "reply_subject": _reply_subject,
}
#: Every filter a template may use.
FILTERS = (*JINJA_FILTERS, *_OWN_FILTERS)


def _autoescape(name: str | None) -> bool:
    return name is not None and name.endswith((".html.j2", ".htm.j2", ".xml.j2"))


def _make_environment(loader: jinja2.BaseLoader, undefined: type[jinja2.Undefined]) -> _Environment:
    env = _Environment(
        loader=loader,
        undefined=undefined,
        autoescape=_autoescape,
        finalize=_finalize,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters = {name: env.filters[name] for name in JINJA_FILTERS} | _OWN_FILTERS
    env.globals.clear()  # range, dict, cycler, joiner, namespace, lipsum: none is needed
    return env


# --------------------------------------------------------------------------- the template set


def _template_file_name(name: str) -> str:
    if name.endswith(".j2"):
        return name
    if name.endswith((".txt", ".html")):
        return f"{name}.j2"
    return f"{name}.txt.j2"


def _line_in_template(tb: TracebackType | None, filename: str | None) -> int | None:
    line = None
    while tb is not None:
        if filename and tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


class TemplateSet:
    """The message, prep-notes and digest templates: workspace overrides first, then shipped."""

    def __init__(self, override_dir: Path | None = None) -> None:
        self.search_path: tuple[Path, ...] = tuple(
            path for path in (override_dir, templates_dir()) if path is not None
        )
        loader = jinja2.FileSystemLoader([str(path) for path in self.search_path])
        self._env = _make_environment(loader, _Missing)
        self._checking_env = _make_environment(loader, _RecordingMissing)

    # -- discovery

    def kinds(self) -> list[str]:
        """Every message kind that has a template, shipped or overridden, sorted."""
        found: set[str] = set()
        for directory in self.search_path:
            if directory.is_dir():
                found.update(
                    path.name.removesuffix(".txt.j2") for path in directory.glob("*.txt.j2")
                )
        return sorted(found - NON_MESSAGE_TEMPLATES)

    def path_of(self, name: str) -> Path:
        """The file that would be used for ``name`` (a kind or a template file name)."""
        file_name = _template_file_name(name)
        for directory in self.search_path:
            if (directory / file_name).is_file():
                return directory / file_name
        raise self._not_found(file_name)

    # -- rendering

    def render_text(self, name: str, context: Mapping[str, Any]) -> str:
        """Render a template as text: prep notes, ``digest.txt.j2``, ``digest.html.j2``.

        ``name`` is a file name ("prep_notes.txt.j2") or short ("prep_notes", "digest.html").
        HTML templates are autoescaped.
        """
        rendered = self._render(self._env, _template_file_name(name), context)
        return rendered.replace(_VALUE_NEWLINE, "\n")

    def render_message(
        self, kind: str, context: Mapping[str, Any], envelope: Envelope
    ) -> EmailMessage:
        """Render one message kind into a complete text/plain RFC 5322 message."""
        file_name = _template_file_name(kind)
        headers, body = _split_message(
            self._render(self._env, file_name, context), self._origin(file_name)
        )
        message = _new_message(headers, envelope, self._origin(file_name))
        message.set_content(body, subtype="plain", charset="utf-8", cte=_body_cte(body))
        return message

    def render_digest(self, context: Mapping[str, Any], envelope: Envelope) -> EmailMessage:
        """The daily digest: multipart/alternative with ``digest.txt.j2`` and ``digest.html.j2``.

        ``digest.txt.j2`` is a message template (its headers give the subject).
        """
        text_name = _template_file_name("digest")
        headers, text = _split_message(
            self._render(self._env, text_name, context), self._origin(text_name)
        )
        html = self.render_text("digest.html.j2", context)
        message = _new_message(headers, envelope, self._origin(text_name))
        message.set_content(text, subtype="plain", charset="utf-8", cte=_body_cte(text))
        message.add_alternative(html, subtype="html", charset="utf-8", cte=_body_cte(html))
        return message

    def missing_fields(self, kind: str, context: Mapping[str, Any]) -> list[str]:
        """Every field the template would need and ``context`` lacks, in order of first use.

        ``kind`` is a message kind or any template name ("prep_notes", "digest.html.j2").
        Fields the template guards itself (``is defined``, ``default(...)``) are not listed.
        """
        found: list[str] = []
        token = _found_missing.set(found)
        try:
            self._render(self._checking_env, _template_file_name(kind), context)
        except TemplateError as err:
            # A missing value used where nothing can stand in for it (arithmetic, a call)
            # stops the render; it has been recorded, and what was found so far is the answer.
            if not isinstance(err.__cause__, jinja2.UndefinedError):
                raise
        finally:
            _found_missing.reset(token)
        return found

    # -- internals

    def _origin(self, file_name: str) -> str:
        try:
            return str(self.path_of(file_name))
        except TemplateError:
            return file_name

    def _not_found(self, file_name: str) -> TemplateError:
        where = ", ".join(str(path) for path in self.search_path)
        return TemplateError(f"no template {file_name} in {where}")

    def _render(self, env: jinja2.Environment, file_name: str, context: Mapping[str, Any]) -> str:
        try:
            template = env.get_template(file_name)
        except jinja2.TemplateNotFound as err:
            raise self._not_found(file_name) from err
        except jinja2.TemplateSyntaxError as err:
            hint = ""
            if (err.message or "").startswith("No filter named"):
                hint = f"; the filters templates may use: {', '.join(FILTERS)}"
            where = f"{err.filename or file_name}:{err.lineno}"
            raise TemplateError(f"{where}: {err.message}{hint}") from err
        except UnicodeDecodeError:
            read_utf8(self.path_of(file_name), TemplateError, "a template is text")
            raise  # pragma: no cover - read_utf8 raised: the file is not UTF-8
        try:
            return template.render(_top_level(context))
        except Exception as err:
            _raise_render_error(err, template.filename or file_name)


def _raise_render_error(err: Exception, filename: str) -> NoReturn:
    line = _line_in_template(err.__traceback__, filename)
    where = f"{filename}:{line}" if line is not None else filename
    raise TemplateError(f"{where}: {err}") from err


# --------------------------------------------------------------------------- building messages


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


_READER = email.policy.default


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
            read = email.message_from_bytes(folded + b"\r\n", policy=_READER)[name]
            if [a.addr_spec for a in read.addresses] != [a.addr_spec for a in value.addresses]:
                raise TemplateError(
                    f"{origin}: the {name} header cannot be written so that it keeps its "
                    f"addresses apart ({str(value)[:80]}...); shorten the name in it"
                )
