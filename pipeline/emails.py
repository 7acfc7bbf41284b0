"""Email addresses and personal names as they come from contact files: pure, stdlib only.

An address is accepted when it is a plausible single addr-spec (``local@domain``) as people
write them in address books. Normalized, it is ASCII (the domain IDNA-encoded), lowercase
throughout and stripped of the wrappers that exports add (``<...>``, ``mailto:``), so that
two spellings of one address compare equal.

An address with a non-ASCII character before the @ (``dörte@example.org``, RFC 6531) is
refused, wherever it comes from (a contacts file, ``contacts set``, ``referral add``, an
account): a draft to it needs SMTPUTF8 all the way, from the Drafts folder (IMAP servers
without UTF8=ACCEPT, the mbsync copy of the local Maildir) through the person's provider to
every relay, and a message that one of them refuses is lost after the person sent it. An
international domain alone (``ana@bücher.example``) is fine: it is written in ASCII (IDNA).
"""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.headerregistry import Address

MAX_ADDRESS_LENGTH = 254  # RFC 5321 path limit less the angle brackets
MAX_LOCAL_LENGTH = 64
MAX_DOMAIN_LENGTH = 253
MAX_LABEL_LENGTH = 63

# Characters of an RFC 5322 dot-atom besides letters, digits and the dot.
_ATOM_SPECIALS = frozenset("!#$%&'*+-/=?^_`{|}~")
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
# Full stops that IDNA treats as label separators (ideographic, fullwidth, halfwidth).
_IDNA_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_MAILTO = "mailto:"


class InvalidEmail(ValueError):
    """The text is not a plausible single email address; the message says why."""


class UnsupportedEmail(InvalidEmail):
    """A valid address that no draft is written to (an internationalized local part)."""


def normalize_email(value: str) -> str:
    """Return ``value`` as one canonical address, or raise :class:`InvalidEmail`.

    Strips surrounding space, ``<...>`` and a ``mailto:`` prefix, IDNA-encodes the domain
    and lowercases the whole address: ``" <Ana@Bücher.Example> "`` becomes
    ``"ana@xn--bcher-kva.example"``. Normalizing a normalized address returns it unchanged.
    """
    if "\r" in value or "\n" in value:
        raise InvalidEmail("contains a line break")
    text = value.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if text[: len(_MAILTO)].lower() == _MAILTO:
        text = text[len(_MAILTO) :].strip()
    if not text:
        raise InvalidEmail("is empty")
    if any(ch.isspace() for ch in text):
        raise InvalidEmail("contains a space")
    if "@" not in text:
        raise InvalidEmail("has no @")
    if text.count("@") > 1:
        raise InvalidEmail("has more than one @")
    local, domain = text.split("@")
    address = f"{_check_local(local)}@{_encode_domain(domain)}".lower()
    if len(address) > MAX_ADDRESS_LENGTH:
        raise InvalidEmail(f"is longer than {MAX_ADDRESS_LENGTH} characters")
    return address


def is_valid_email(value: str) -> bool:
    """Whether :func:`normalize_email` accepts ``value``."""
    return email_problem(value) is None


def email_problem(value: str) -> str | None:
    """Why :func:`normalize_email` refuses ``value`` ("has no @"...), or None."""
    try:
        normalize_email(value)
    except InvalidEmail as err:
        return str(err)
    return None


def split_name(full: str) -> tuple[str, str]:
    """Split a full name into (first, last), as well as a name without structure allows.

    ``"Ada Lovelace"`` -> ``("Ada", "Lovelace")``; ``"Lovelace, Ada"`` -> the same;
    ``"Ludwig van Beethoven"`` -> ``("Ludwig", "van Beethoven")``;
    ``"Martin Luther King Jr."`` -> ``("Martin Luther", "King Jr.")``; a single word is a
    first name. Honorifics stay with the first name: callers that care keep them apart.
    """
    parts = [part.strip() for part in " ".join(full.split()).split(",") if part.strip()]
    suffixes: list[str] = []
    while len(parts) > 1 and _is_suffix(parts[-1]):
        suffixes.insert(0, parts.pop())
    if len(parts) == 2:
        # "Last, First": the form that directories and exports use for sorting.
        return parts[1], " ".join([parts[0], *suffixes])
    words = " ".join(parts).split()
    while len(words) > 2 and _is_suffix(words[-1]):
        suffixes.insert(0, words.pop())
    if not words:
        return "", " ".join(suffixes)
    if len(words) == 1:
        return words[0], " ".join(suffixes)
    start = len(words) - 1
    while start > 1 and words[start - 1].casefold() in _SURNAME_PARTICLES:
        start -= 1
    return " ".join(words[:start]), " ".join([*words[start:], *suffixes])


def format_address(name: str, email: str) -> str:
    """Return a header-ready ``Name <email>``, quoting the name when it needs quotes.

    ``email`` is normalized first (so :class:`InvalidEmail` can be raised); a name with a
    line break is refused for the same reason an address is: it could inject a header.
    """
    address = normalize_email(email)
    display = " ".join(name.split())
    if "\r" in name or "\n" in name:
        raise InvalidEmail("the display name contains a line break")
    if not display:
        return address
    local, _, domain = address.partition("@")
    try:
        return str(Address(display_name=display, username=local, domain=domain))
    except (HeaderParseError, ValueError) as err:  # pragma: no cover - address is checked
        raise InvalidEmail(str(err)) from err


_SURNAME_PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "di", "da", "dos", "das", "du"}
    | {"la", "le", "ter", "ten", "bin", "ibn", "al", "el", "st.", "mac"}
)
_SUFFIXES = frozenset(
    {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "phd", "ph.d.", "md", "m.d.", "esq", "esq."}
)


def _is_suffix(word: str) -> bool:
    return word.casefold() in _SUFFIXES


def _check_local(local: str) -> str:
    if not local:
        raise InvalidEmail("has nothing before the @")
    if len(local) > MAX_LOCAL_LENGTH:
        raise InvalidEmail(f"has more than {MAX_LOCAL_LENGTH} characters before the @")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise InvalidEmail("has a misplaced dot before the @")
    for ch in local:
        if ch.isascii():
            if not (ch.isalnum() or ch == "." or ch in _ATOM_SPECIALS):
                raise InvalidEmail(f"has {ch!r} before the @, which an address cannot hold")
        elif not ch.isprintable():
            raise InvalidEmail(f"has the unprintable character {ch!r} before the @")
        else:
            raise UnsupportedEmail(
                f"has {ch!r} before the @: an internationalized address, which many mail "
                "servers cannot deliver to yet, so no draft is written to it; ask the person "
                "for an address in plain ASCII letters"
            )
    return local


def _encode_domain(domain: str) -> str:
    domain = domain.translate(_IDNA_DOTS)
    if domain.startswith("[") or domain.endswith("]"):
        raise InvalidEmail("has an IP address instead of a domain name")
    if domain.endswith("."):
        domain = domain[:-1]
    if not domain:
        raise InvalidEmail("has nothing after the @")
    labels = domain.split(".")
    if len(labels) < 2:
        raise InvalidEmail(f"has no dot in its domain {domain!r}")
    encoded = [_encode_label(label, domain) for label in labels]
    if encoded[-1].isdigit():
        raise InvalidEmail(f"has a numeric top-level domain in {domain!r}")
    result = ".".join(encoded)
    if len(result) > MAX_DOMAIN_LENGTH:
        raise InvalidEmail(f"has a domain longer than {MAX_DOMAIN_LENGTH} characters")
    return result


def _encode_label(label: str, domain: str) -> str:
    if not label:
        raise InvalidEmail(f"has an empty label in its domain {domain!r}")
    if label.isascii():
        ascii_label = label.lower()
    else:
        try:
            ascii_label = label.encode("idna").decode("ascii").lower()
        except UnicodeError as err:
            raise InvalidEmail(f"has an invalid international domain {domain!r}") from err
    if len(ascii_label) > MAX_LABEL_LENGTH or not _LDH_LABEL.fullmatch(ascii_label):
        raise InvalidEmail(f"has a bad label {label!r} in its domain {domain!r}")
    if ascii_label.startswith("xn--"):
        try:
            ascii_label.encode("ascii").decode("idna")
        except UnicodeError as err:
            raise InvalidEmail(f"has a bad punycode label {label!r} in {domain!r}") from err
    return ascii_label
