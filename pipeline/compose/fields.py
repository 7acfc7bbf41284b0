"""The context a template sees: blank values count as missing, and a missing field is an
error naming its path, or (when checking) recorded instead of raised."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any, NoReturn

import jinja2


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
