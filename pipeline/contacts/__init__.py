"""Contacts: reading contact files (one module per format, pure), writing them to the
store, finding and correcting contacts, and the use cases the CLI calls.

- records: the record, the problems and the result of reading a file; the field names
- parse: `parse_contacts` (detects the format, decodes the bytes), with drafts (records
  under construction), csv_files (LinkedIn, Google, Outlook and generic CSV) and vcards
- importing: `import_records`, all or nothing, matched to the contacts already stored
- lookup: `resolve_contact` by id, address or name; editing: `update_contact`
- usecases: import, list, show and set, each in its own transaction
"""

from __future__ import annotations

from pipeline.contacts.editing import SETTABLE, update_contact
from pipeline.contacts.importing import ImportReport, Progress, import_records
from pipeline.contacts.lookup import contact_summary, name_key, resolve_contact
from pipeline.contacts.parse import decode_text, parse_contacts
from pipeline.contacts.records import (
    FIELD_ALIASES,
    FIELDS,
    FORMATS,
    MAX_LENGTHS,
    MAX_NAME_LENGTH,
    TEXT_FIELDS,
    ContactRecord,
    ParseResult,
    Problem,
    custom_field_key,
    length_problem,
    mapped_field,
)
from pipeline.contacts.usecases import (
    import_contacts,
    list_contacts,
    set_contact_fields,
    show_contact,
)

__all__ = [
    "FIELDS",
    "FIELD_ALIASES",
    "FORMATS",
    "MAX_LENGTHS",
    "MAX_NAME_LENGTH",
    "SETTABLE",
    "TEXT_FIELDS",
    "ContactRecord",
    "ImportReport",
    "ParseResult",
    "Problem",
    "Progress",
    "contact_summary",
    "custom_field_key",
    "decode_text",
    "import_contacts",
    "import_records",
    "length_problem",
    "list_contacts",
    "mapped_field",
    "name_key",
    "parse_contacts",
    "resolve_contact",
    "set_contact_fields",
    "show_contact",
    "update_contact",
]
