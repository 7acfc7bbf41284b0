"""Test-side stand-ins for the other side: a mail client on a Maildir, a calendar client
on a vdir, and a uniform "world" over each implementation for the contract suite.

The Maildir and vdir helpers touch the files the way neomutt, mbsync, vdirsyncer or khal
would, without going through the connector under test.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import icalendar

from connectors.base import CalendarEvent, Mailbox
from connectors.memory import InMemoryCalendar, InMemoryMailbox

if TYPE_CHECKING:
    from tests.emulators.google import GoogleEmulator
    from tests.emulators.graph import GraphEmulator

Edit = Callable[[EmailMessage], None]
_names = itertools.count(1)


# -- a mail client on a Maildir -----------------------------------------------------------


CONTACT = "ada@example.com"


def outreach(subject: str = "Informational interview?", me: str = "me@example.org") -> EmailMessage:
    """A first message of ours to Ada, as the pipeline hands it to a mailbox."""
    message = EmailMessage()
    message["From"] = f"Me <{me}>"
    message["To"] = f"Ada <{CONTACT}>"
    message["Subject"] = subject
    message.set_content("Would you have 20 minutes for a chat?")
    return message


def client_name(flags: str = "") -> str:
    """A Maildir file name as another program would choose it."""
    unique = f"{1_700_000_000 + next(_names)}.R{os.getpid()}.client"
    return f"{unique}:2,{flags}" if flags else unique


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def files(folder: Path) -> list[Path]:
    return sorted(
        p for sub in ("new", "cur") for p in (folder / sub).glob("*") if not p.name.startswith(".")
    )


def deliver(folder: Path, raw: bytes) -> Path:
    """An MDA (or mbsync) drops a new message into ``folder/new``."""
    (folder / "tmp").mkdir(parents=True, exist_ok=True)
    (folder / "new").mkdir(parents=True, exist_ok=True)
    name = client_name()
    tmp = folder / "tmp" / name
    tmp.write_bytes(raw)
    target = folder / "new" / name
    tmp.rename(target)
    return target


def read_message(folder: Path, name: str) -> Path:
    """The reader opens a new message: it moves to cur/ with the S flag."""
    path = next(p for p in files(folder) if p.name.split(":")[0] == name.split(":")[0])
    target = folder / "cur" / f"{path.name.split(':')[0]}:2,S"
    path.rename(target)
    return target


def find_draft_file(drafts: Path, key: str) -> Path:
    for path in files(drafts):
        if parse(path.read_bytes()).get("X-Outreach-Key") == key:
            return path
    raise AssertionError(f"no draft with key {key!r} in {drafts}")


def maildir_send_draft(root: Path, key: str, edit: Edit | None = None) -> Path:
    """The person sends a draft: the client writes a copy into Sent and removes the draft."""
    draft = find_draft_file(root / ".Drafts", key)
    message = parse(draft.read_bytes())
    if edit is not None:
        edit(message)
    if "Date" not in message:
        message["Date"] = datetime.now(UTC)
    sent = root / ".Sent" / "cur" / client_name("S")
    sent.write_bytes(message.as_bytes())
    draft.unlink()
    return sent


def maildir_delete_draft(root: Path, key: str) -> None:
    find_draft_file(root / ".Drafts", key).unlink()


# -- a calendar client on a vdir ----------------------------------------------------------


def ics_for(event: CalendarEvent) -> bytes:
    """An .ics as another calendar program would write it (one VEVENT)."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//tests//other side//EN")
    cal.add("version", "2.0")
    vevent = icalendar.Event()
    vevent.add("uid", event.uid)
    vevent.add("summary", event.summary)
    vevent.add("dtstamp", datetime.now(UTC))
    vevent.add("dtstart", event.start)
    vevent.add("dtend", event.end)
    vevent.add("status", event.status.upper())
    if event.organizer:
        vevent.add("organizer", f"mailto:{event.organizer}")
    for attendee in event.attendees:
        params = {"PARTSTAT": attendee.partstat}
        if attendee.name:
            params["CN"] = attendee.name
        vevent.add("attendee", f"mailto:{attendee.email}", parameters=params)
    if event.description:
        vevent.add("description", event.description)
    if event.location:
        vevent.add("location", event.location)
    cal.add_component(vevent)
    return bytes(cal.to_ical())


def vdir_write(root: Path, event: CalendarEvent) -> Path:
    """vdirsyncer brings down an event: written to a temp name, then renamed."""
    path = root / f"{event.uid.replace('@', '_')}.ics"
    tmp = root / f".{path.name}.tmp"
    tmp.write_bytes(ics_for(event))
    tmp.rename(path)
    return path


# -- one world per implementation, for the contract suite ---------------------------------


class MailWorld(Protocol):
    box: Mailbox

    def receive(self, raw: bytes) -> None: ...
    def send_draft(self, key: str, edit: Edit | None = None) -> None: ...
    def delete_draft(self, key: str) -> None: ...
    def send_own(self, raw: bytes) -> None: ...
    def drafts(self) -> list[EmailMessage]: ...
    def sent(self) -> list[EmailMessage]: ...
    def inbox(self) -> list[EmailMessage]: ...


class MemoryMailWorld:
    def __init__(self, address: str) -> None:
        self.memory = InMemoryMailbox(address)
        self.box: Mailbox = self.memory

    def receive(self, raw: bytes) -> None:
        self.memory.receive(raw)

    def send_draft(self, key: str, edit: Edit | None = None) -> None:
        def apply(message: EmailMessage) -> None:
            if edit is not None:
                edit(message)

        self.memory.send_draft(key, edit=apply)

    def delete_draft(self, key: str) -> None:
        self.memory.delete_draft(key)

    def send_own(self, raw: bytes) -> None:
        self.memory.send_message(raw)

    def drafts(self) -> list[EmailMessage]:
        return [m.message for m in self.memory.drafts()]

    def sent(self) -> list[EmailMessage]:
        return [m.message for m in self.memory.sent()]

    def inbox(self) -> list[EmailMessage]:
        return [m.message for m in self.memory.inbox()]


class MaildirMailWorld:
    def __init__(self, root: Path, box: Mailbox) -> None:
        self.root = root
        self.box = box

    def receive(self, raw: bytes) -> None:
        deliver(self.root, raw)

    def send_draft(self, key: str, edit: Edit | None = None) -> None:
        maildir_send_draft(self.root, key, edit)

    def delete_draft(self, key: str) -> None:
        maildir_delete_draft(self.root, key)

    def send_own(self, raw: bytes) -> None:
        (self.root / ".Sent" / "cur").mkdir(parents=True, exist_ok=True)
        (self.root / ".Sent" / "cur" / client_name("S")).write_bytes(raw)

    def drafts(self) -> list[EmailMessage]:
        return [parse(p.read_bytes()) for p in files(self.root / ".Drafts")]

    def sent(self) -> list[EmailMessage]:
        return [parse(p.read_bytes()) for p in files(self.root / ".Sent")]

    def inbox(self) -> list[EmailMessage]:
        return [parse(p.read_bytes()) for p in files(self.root)]


class GmailMailWorld:
    """The person in Gmail's own interface, played on the emulator."""

    def __init__(self, emulator: GoogleEmulator, box: Mailbox) -> None:
        self.emulator = emulator
        self.box = box

    def receive(self, raw: bytes) -> None:
        self.emulator.receive(raw)

    def send_draft(self, key: str, edit: Edit | None = None) -> None:
        def apply(message: EmailMessage) -> None:
            if edit is not None:
                edit(message)

        self.emulator.send_draft(key, edit=apply)

    def delete_draft(self, key: str) -> None:
        self.emulator.delete_draft(key)

    def send_own(self, raw: bytes) -> None:
        self.emulator.person_sends(raw)

    def drafts(self) -> list[EmailMessage]:
        return [parse(raw) for raw in self.emulator.drafts()]

    def sent(self) -> list[EmailMessage]:
        return [parse(raw) for raw in self.emulator.labelled("SENT")]

    def inbox(self) -> list[EmailMessage]:
        return [parse(raw) for raw in self.emulator.labelled("INBOX")]


class OutlookMailWorld:
    """The person in Outlook (web or desktop), played on the Graph emulator."""

    def __init__(self, emulator: GraphEmulator, box: Mailbox) -> None:
        self.emulator = emulator
        self.box = box

    def receive(self, raw: bytes) -> None:
        self.emulator.receive(raw)

    def send_draft(self, key: str, edit: Edit | None = None) -> None:
        self.emulator.send_draft(key, edit=edit)

    def delete_draft(self, key: str) -> None:
        self.emulator.delete_draft(key)

    def send_own(self, raw: bytes) -> None:
        self.emulator.person_sends(raw)

    def drafts(self) -> list[EmailMessage]:
        return self.emulator.folder("drafts")

    def sent(self) -> list[EmailMessage]:
        return self.emulator.folder("sentitems")

    def inbox(self) -> list[EmailMessage]:
        return self.emulator.folder("inbox")


class CalendarWorld(Protocol):
    def add_external(self, event: CalendarEvent) -> None: ...
    def move(self, uid: str, start: datetime, end: datetime) -> None: ...
    def cancel(self, uid: str) -> None: ...
    def remove(self, uid: str) -> None: ...


class MemoryCalendarWorld:
    def __init__(self, calendar: InMemoryCalendar) -> None:
        self.calendar = calendar

    def add_external(self, event: CalendarEvent) -> None:
        self.calendar.add_external_event(event)

    def move(self, uid: str, start: datetime, end: datetime) -> None:
        self.calendar.move_event(uid, start, end)

    def cancel(self, uid: str) -> None:
        self.calendar.cancel_event(uid)

    def remove(self, uid: str) -> None:
        self.calendar.remove_event(uid)


class VdirCalendarWorld:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.written: dict[str, CalendarEvent] = {}

    def add_external(self, event: CalendarEvent) -> None:
        self.written[event.uid] = event
        vdir_write(self.root, event)

    def move(self, uid: str, start: datetime, end: datetime) -> None:
        self.add_external(replace(self.written[uid], start=start, end=end))

    def cancel(self, uid: str) -> None:
        self.add_external(replace(self.written[uid], status="cancelled"))

    def remove(self, uid: str) -> None:
        (self.root / f"{uid.replace('@', '_')}.ics").unlink()
        del self.written[uid]


_RESPONSE_STATUS = {
    "ACCEPTED": "accepted",
    "DECLINED": "declined",
    "TENTATIVE": "tentative",
    "NEEDS-ACTION": "needsAction",
}


def google_event(event: CalendarEvent, owner: str) -> dict[str, Any]:
    """An event as Google Calendar holds someone else's invitation on the person's
    calendar (organizer and attendees with their responseStatus)."""
    resource: dict[str, Any] = {
        "iCalUID": event.uid,
        "summary": event.summary,
        "status": event.status,
        "start": {"dateTime": event.start.isoformat()},
        "end": {"dateTime": event.end.isoformat()},
        "attendees": [
            {
                "email": a.email,
                **({"displayName": a.name} if a.name else {}),
                "responseStatus": _RESPONSE_STATUS.get(a.partstat, "needsAction"),
                **({"self": True} if a.email == owner else {}),
            }
            for a in event.attendees
        ],
    }
    if event.organizer:
        resource["organizer"] = {"email": event.organizer}
    if event.description:
        resource["description"] = event.description
    if event.location:
        resource["location"] = event.location
    return resource


class GoogleCalendarWorld:
    """Other organisers changing the person's Google Calendar, on the emulator."""

    def __init__(self, emulator: GoogleEmulator) -> None:
        self.emulator = emulator

    def add_external(self, event: CalendarEvent) -> None:
        self.emulator.add_event(google_event(event, self.emulator.address))

    def move(self, uid: str, start: datetime, end: datetime) -> None:
        self.emulator.move_event(uid, start, end)

    def cancel(self, uid: str) -> None:
        self.emulator.cancel_event(uid)

    def remove(self, uid: str) -> None:
        self.emulator.remove_event(uid)


_RESPONSE = {"ACCEPTED": "accepted", "DECLINED": "declined", "TENTATIVE": "tentativelyAccepted"}


def graph_event(event: CalendarEvent) -> dict[str, Any]:
    """An event as Graph holds someone else's invitation on the person's calendar."""
    resource: dict[str, Any] = {
        "iCalUId": event.uid,
        "subject": event.summary,
        "start": {"dateTime": event.start.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"},
        "end": {"dateTime": event.end.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"},
        "isCancelled": event.status == "cancelled",
        "body": {"contentType": "text", "content": event.description},
        "attendees": [
            {
                "type": "required",
                "emailAddress": {"address": a.email, **({"name": a.name} if a.name else {})},
                "status": {"response": _RESPONSE.get(a.partstat, "none"), "time": ""},
            }
            for a in event.attendees
        ],
    }
    if event.organizer:
        resource["organizer"] = {"emailAddress": {"address": event.organizer}}
    if event.location:
        resource["location"] = {"displayName": event.location}
    return resource


class OutlookCalendarWorld:
    """Other organisers changing the person's Outlook calendar, on the Graph emulator."""

    def __init__(self, emulator: GraphEmulator) -> None:
        self.emulator = emulator

    def add_external(self, event: CalendarEvent) -> None:
        self.emulator.add_event(graph_event(event))

    def move(self, uid: str, start: datetime, end: datetime) -> None:
        self.emulator.move_event(uid, start, end)

    def cancel(self, uid: str) -> None:
        self.emulator.cancel_event(uid)

    def remove(self, uid: str) -> None:
        self.emulator.remove_event(uid)
