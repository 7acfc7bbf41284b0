"""The template set: the workspace's templates first, then the shipped ones; rendering a
message, a text, or the fields a template lacks for a context."""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

import jinja2

from pipeline.compose.envelope import _VALUE_NEWLINE, Envelope
from pipeline.compose.environment import FILTERS, _make_environment
from pipeline.compose.fields import _found_missing, _Missing, _RecordingMissing, _top_level
from pipeline.compose.kinds import NON_MESSAGE_TEMPLATES
from pipeline.compose.messages import _body_cte, _new_message, _split_message
from pipeline.errors import TemplateError
from pipeline.resources import templates_dir
from pipeline.textfiles import read_utf8


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
        origin = self._origin(file_name)
        headers, body = _split_message(self._render(self._env, file_name, context), origin)
        message = _new_message(headers, envelope, origin)
        message.set_content(body, subtype="plain", charset="utf-8", cte=_body_cte(body))
        return message

    def render_digest(self, context: Mapping[str, Any], envelope: Envelope) -> EmailMessage:
        """The daily digest: multipart/alternative with ``digest.txt.j2`` and ``digest.html.j2``.

        ``digest.txt.j2`` is a message template (its headers give the subject).
        """
        text_name = _template_file_name("digest")
        origin = self._origin(text_name)
        headers, text = _split_message(self._render(self._env, text_name, context), origin)
        html = self.render_text("digest.html.j2", context)
        message = _new_message(headers, envelope, origin)
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
