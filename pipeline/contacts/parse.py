"""Reading contact files into records: LinkedIn, Google, Outlook and generic CSV, and vCard.

Pure: :func:`parse_contacts` reads the one file it is given and returns what it found,
records and problems together, so that the caller decides what to write. Nothing here
touches the database.

What the parser promises:

- every problem carries the file, the physical line where the record starts, the column
  header (CSV) or property name (vCard), and a message that says what is expected;
- a row or card with any problem yields no record (the caller may import the rest);
- a record needs a first name, given as such or as the first part of a full name;
- a name is at most :data:`MAX_NAME_LENGTH` characters (first and last together), an
  organization, role, field or referrer at most :data:`MAX_LENGTHS` (see
  :func:`length_problem`): the same rule on every database, and short enough for a header;
- a problem with the file as a whole is marked :attr:`Problem.whole_file`: not a text file,
  no header row, a header that a ``mapping`` does not fit or that has no column for a name
  or an email, no contact at all, a quote never closed (the rest of the file is lost);
  problems with the header yield no records at all;
- blank rows are counted, not reported;
- records that share an email address inside one file are merged into the first;
- every non-empty cell ends up in a field or in ``custom``, under a key usable as a
  Jinja2 identifier (see :func:`custom_field_key`).
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from pathlib import Path

from pipeline.contacts.csv_files import _parse_csv
from pipeline.contacts.drafts import _MAPPING_NOT_FOR_VCARD, _NOT_TEXT, _looks_binary, _result
from pipeline.contacts.records import FORMATS, ParseResult, Problem
from pipeline.contacts.vcards import _looks_like_vcard, _parse_vcards


def parse_contacts(
    path: Path, *, fmt: str | None = None, mapping: Mapping[str, str] | None = None
) -> ParseResult:
    """Read the contacts in ``path``.

    ``fmt`` is one of :data:`FORMATS`, or ``None`` to detect it: ``.vcf``/``.vcard`` files
    and files that begin with ``BEGIN:VCARD`` are vCards; a CSV file is recognized as a
    LinkedIn, Google or Outlook export by its header row, else read as a generic CSV.
    ``mapping`` maps header names of the file to field names (:data:`FIELDS`), e.g.
    ``{"Mail": "email", "Firm": "organization"}``; it adds to, or overrides, what the
    parser recognizes by itself. Raises ``ValueError`` for an unknown ``fmt`` and
    ``OSError`` when the file cannot be read; everything wrong inside the file is a
    :class:`Problem` in the result.
    """
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown contact file format {fmt!r}; expected one of {FORMATS}")
    data = path.read_bytes()
    text, encoding = decode_text(data)
    file = str(path)
    if _looks_binary(data, text):
        problem = Problem(file, 1, None, _NOT_TEXT, whole_file=True)
        return _result(fmt or "csv", [], [problem], 0, encoding)
    if fmt is None and (path.suffix.lower() in {".vcf", ".vcard"} or _looks_like_vcard(text)):
        fmt = "vcard"
    if fmt == "vcard":
        drafts, problems = _parse_vcards(text, file)
        if mapping:
            problems.insert(0, Problem(file, 1, None, _MAPPING_NOT_FOR_VCARD, whole_file=True))
        return _result("vcard", drafts, problems, 0, encoding)
    return _parse_csv(text, file, fmt, dict(mapping or {}), encoding)


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode a file's bytes: UTF-8 (with or without BOM), UTF-16, else cp1252; never fails.

    Returns the text and the name of the encoding used.
    """
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace"), "utf-16"
    else:
        utf16 = _guess_utf16_without_bom(data)
        if utf16 is not None:
            try:
                return data.decode(utf16), utf16
            except UnicodeDecodeError:
                pass
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def _guess_utf16_without_bom(data: bytes) -> str | None:
    sample = data[:400]
    if len(sample) < 4 or b"\x00" not in sample:
        return None
    even_zeros = sample[0::2].count(0)
    odd_zeros = sample[1::2].count(0)
    half = len(sample) // 2
    if odd_zeros > half * 0.4 and even_zeros < half * 0.1:
        return "utf-16-le"
    if even_zeros > half * 0.4 and odd_zeros < half * 0.1:
        return "utf-16-be"
    return None
