"""The envelope of a composed message (who from and to, where in a thread) and the email
policy every message is made with: strict address and Message-ID headers, CRLF line ends;
and the header rules a template's text must keep to."""

from __future__ import annotations

import email.policy
import email.utils
import functools
import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import (
    AddressHeader,
    BaseHeader,
    HeaderRegistry,
    UnstructuredHeader,
)
from email.message import EmailMessage
from email.policy import EmailPolicy, Policy
from typing import Any, cast

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


class _HeaderClasses(HeaderRegistry):
    """A header registry that makes each header class once, and each header made from a
    text once while it is in use.

    The standard library's builds a new class (``type(...)``) for every header it creates
    or asks the maximum count of: ten headers a message made twenty classes, a tenth of
    the time composing one took. The class depends only on which class the name maps
    to, so one per mapped class is kept. A header is immutable and made from its name and
    text alone, so the ones every message of a batch has (From, Date, MIME-Version,
    Content-Type, often Subject) are parsed once, not once per message."""

    def __init__(self) -> None:
        super().__init__()
        self.__setstate__({})

    def map_to_type(self, name: str, cls: type[BaseHeader]) -> None:
        super().map_to_type(name, cls)
        self._made.clear()
        self._from_text.cache_clear()

    # A policy (and so a message) pickles and copies without what is made: made again.
    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_made", "_from_text")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._made: dict[object, type[BaseHeader]] = {}  # mapped class -> made class
        self._from_text = functools.lru_cache(maxsize=_HEADERS_KEPT)(super().__call__)

    def __getitem__(self, name: str) -> type[BaseHeader]:
        mapped = self.registry.get(name.lower(), self.default_class)
        made = self._made.get(mapped)
        if made is None:
            made = self._made[mapped] = super().__getitem__(name)
        return made

    def __call__(self, name: str, value: Any) -> BaseHeader:
        if type(value) is str:  # an address, a date, a list: made each time
            return self._from_text(name, value)
        return super().__call__(name, value)


_HEADERS_KEPT = 256  # the headers a batch shares, and room for those it does not


def _make_policy() -> EmailPolicy[EmailMessage]:
    registry = _HeaderClasses()
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
#: How a mail reader takes our headers (the standard library's default policy, its
#: header classes made once).
READER = email.policy.default.clone(header_factory=_HeaderClasses())
