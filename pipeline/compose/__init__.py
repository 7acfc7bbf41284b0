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

from connectors._ids import message_id_for
from pipeline.compose.envelope import MAX_LINE_OCTETS, POLICY, Envelope
from pipeline.compose.environment import FILTERS, JINJA_FILTERS
from pipeline.compose.kinds import (
    NON_MESSAGE_TEMPLATES,
    REPLY_KINDS,
    first_outreach_kind,
    kinds_for_contact,
)
from pipeline.compose.templates import TemplateSet

__all__ = [
    "FILTERS",
    "JINJA_FILTERS",
    "MAX_LINE_OCTETS",
    "NON_MESSAGE_TEMPLATES",
    "POLICY",
    "REPLY_KINDS",
    "Envelope",
    "TemplateSet",
    "first_outreach_kind",
    "kinds_for_contact",
    "message_id_for",
]
