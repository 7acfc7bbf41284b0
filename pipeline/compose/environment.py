"""The Jinja2 environment templates run in: an immutable sandbox, no globals, only the
filters listed in FILTERS (Jinja2's few, and the date and subject filters defined here),
and every printed value with its line breaks masked."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from pipeline.compose.envelope import _LINE_BREAK_CHARS, _VALUE_NEWLINE
from pipeline.compose.fields import _Fields
from pipeline.errors import TemplateError

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
