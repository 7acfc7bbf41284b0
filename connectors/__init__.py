"""Adapters to the outside world behind two small ports, ``Mailbox`` and ``Calendar``.

Import the ports and their data types from here; implementations live in their own
modules (``connectors.memory``, ``connectors.maildir``, ``connectors.vdir``, ...) and are
imported only where they are wired (nothing here opens a file or a connection).
"""

from connectors.base import (
    KEY_HEADER,
    KEY_PROPERTY,
    Attendee,
    Calendar,
    CalendarEvent,
    DraftRef,
    EventChange,
    EventChangeKind,
    Mailbox,
    MailChange,
    MailChangeKind,
    ThreadRef,
)

__all__ = [
    "KEY_HEADER",
    "KEY_PROPERTY",
    "Attendee",
    "Calendar",
    "CalendarEvent",
    "DraftRef",
    "EventChange",
    "EventChangeKind",
    "MailChange",
    "MailChangeKind",
    "Mailbox",
    "ThreadRef",
]
