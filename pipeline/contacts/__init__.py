"""Contacts: reading contact files (one module per format, pure), writing them to the
store, finding and correcting contacts, and the use cases the CLI calls.

- records: the record, the problems and the result of reading a file; the field names
- parse: `parse_contacts` (detects the format, decodes the bytes), with drafts (records
  under construction), csv_files (LinkedIn, Google, Outlook and generic CSV) and vcards
- importing: `import_records`, all or nothing, matched to the contacts already stored
- lookup: `resolve_contact` by id, address or name; editing: `update_contact`
- usecases: import, list, show and set, each in its own transaction

Only records (the field names and formats) loads with the package; the other modules
load when one of their names is first used, so a command that only shows its help
imports neither the parsers nor SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
from pipeline.lazy import attributes_loaded_when_used

if TYPE_CHECKING:
    from pipeline.contacts.editing import SETTABLE, update_contact
    from pipeline.contacts.importing import ImportReport, Progress, import_records
    from pipeline.contacts.lookup import contact_summary, name_key, resolve_contact
    from pipeline.contacts.parse import decode_text, parse_contacts
    from pipeline.contacts.usecases import (
        import_contacts,
        list_contacts,
        set_contact_fields,
        show_contact,
    )

_LOADED_WHEN_USED = {
    "decode_text": "parse",
    "parse_contacts": "parse",
    "SETTABLE": "editing",
    "update_contact": "editing",
    "ImportReport": "importing",
    "Progress": "importing",
    "import_records": "importing",
    "contact_summary": "lookup",
    "name_key": "lookup",
    "resolve_contact": "lookup",
    "import_contacts": "usecases",
    "list_contacts": "usecases",
    "set_contact_fields": "usecases",
    "show_contact": "usecases",
}


__getattr__ = attributes_loaded_when_used(__name__, _LOADED_WHEN_USED)


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
