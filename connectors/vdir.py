"""A Calendar over a vdir: a directory of ``.ics`` files, one event each, as vdirsyncer
and khal keep them.

Changes are noticed by listing the directory and comparing each file's modification time,
size and inode (a program that replaces a file atomically gives it a new inode) with what
``root/.outreach-state.json`` remembers; only new or changed files are parsed. The state
also keeps the event each file held (so a removed file can be reported by uid, and a first
sync can answer from memory) and a journal of recent changes behind the cursors. Our own
events (``put_event``) live in files named after their key (``outreach-<digest>.ics``) and
carry ``X-OUTREACH-KEY``; they are written atomically.

Reading is forgiving: a file that does not parse, an event without an end (no DTEND and
no DURATION) or an all-day event (not a conversation) is skipped with a log line naming
the file. Files are read by the project's one iCalendar reader, pipeline.inbound.calendar:
TZIDs are IANA names, Windows names such as "W. Europe Standard Time", Outlook display
names, or the file's own VTIMEZONE; a floating time or an unknown TZID is read in
``default_tz``. Recurring events are read as their first occurrence.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import IO, Any

import icalendar

from connectors._files import write_atomically
from connectors._ids import derived_uid, key_digest
from connectors._journal import Journal
from connectors.base import (
    KEY_PROPERTY,
    Attendee,
    CalendarEvent,
    EventChange,
    EventChangeKind,
)
from pipeline.bounds import add_safely, out_of_range, time_problem
from pipeline.errors import PermanentError, TransientError
from pipeline.inbound.calendar import address, attendees, main_event, parse_calendars, utc_time

try:  # POSIX; elsewhere the lock is a no-op and one process should use the vdir
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

STATE_FILE = ".outreach-state.json"
LOCK_FILE = ".outreach-state.lock"
_STATE_VERSION = 1
_PRODID = "-//outreach-pipeline//connectors.vdir//EN"

Opener = Callable[[Path], IO[bytes]]


def _open_binary(path: Path) -> IO[bytes]:
    return path.open("rb")


class IcsSkipped(ValueError):
    """An .ics file that holds no usable timed event (the reason says why). ``ordinary``
    when that is normal for a calendar (an all-day event, a task): not worth telling."""

    def __init__(self, reason: str, *, ordinary: bool = False) -> None:
        super().__init__(reason)
        self.ordinary = ordinary


def _text(vevent: icalendar.Component, name: str) -> str | None:
    value = vevent.get(name)
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def _time(vevent: icalendar.Component, name: str, default_tz: tzinfo) -> datetime | date:
    prop = vevent.get(name)
    value = utc_time(prop, default_tz)
    if value is None:
        raw = getattr(prop, "dt", None)
        if isinstance(raw, datetime):
            raise IcsSkipped(f"time {raw.isoformat()} is out of range")
        raise IcsSkipped(f"{name} is not a date or a date-time")
    return value


def parse_event(data: bytes, default_tz: tzinfo = UTC, fallback_uid: str = "") -> CalendarEvent:
    """The timed event in an .ics file's bytes; raises ``IcsSkipped`` saying why not.

    Read by the project's one iCalendar reader (``pipeline.inbound.calendar``): the same
    zone names (IANA, Windows, Outlook display names) and addresses as invitations by mail.
    """
    calendars = parse_calendars(data)  # some writers put several VCALENDARs in one file
    if not calendars:
        raise IcsSkipped("does not parse as iCalendar")
    vevents = [vevent for calendar in calendars for vevent in calendar.walk("VEVENT")]
    if not vevents:
        raise IcsSkipped("holds no VEVENT", ordinary=True)
    vevent = main_event(vevents)
    uid = _text(vevent, "UID") or fallback_uid
    if not uid:
        raise IcsSkipped("event without UID")
    if vevent.get("DTSTART") is None:
        raise IcsSkipped("event without a readable DTSTART")
    start = _time(vevent, "DTSTART", default_tz)
    if not isinstance(start, datetime):
        raise IcsSkipped("all-day event", ordinary=True)
    if vevent.get("DTEND") is not None:
        end = _time(vevent, "DTEND", default_tz)
    elif vevent.get("DURATION") is not None:
        duration = getattr(vevent.get("DURATION"), "dt", None)
        if not isinstance(duration, timedelta):
            raise IcsSkipped("DURATION is not a duration")
        moved = add_safely(start, duration)
        if moved is None:
            raise IcsSkipped(f"DTSTART plus DURATION {duration} is past year 9999")
        end = moved
    else:
        raise IcsSkipped("event without an end (no DTEND, no DURATION)", ordinary=True)
    if not isinstance(end, datetime):
        raise IcsSkipped("DTEND is a date while DTSTART is a date-time")
    people = tuple(
        Attendee(email=email, name=name, partstat=partstat)
        for email, name, partstat in attendees(vevent)
    )
    problem = time_problem(start, end)
    if problem is not None:
        raise IcsSkipped(f"not a conversation: {problem}", ordinary=not out_of_range(start, end))
    organizer = vevent.get("ORGANIZER")
    return CalendarEvent(
        uid=uid,
        summary=_text(vevent, "SUMMARY") or "",
        start=start,
        end=end,
        organizer=address(organizer) if organizer is not None else None,
        attendees=people,
        status=(_text(vevent, "STATUS") or "confirmed").strip().lower(),
        description=_text(vevent, "DESCRIPTION") or "",
        location=_text(vevent, "LOCATION"),
        key=_text(vevent, KEY_PROPERTY),
    )


def render_event(event: CalendarEvent, key: str, stamp: datetime) -> bytes:
    """Our event as an .ics file (one VEVENT, times in UTC, carrying ``X-OUTREACH-KEY``)."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", _PRODID)
    calendar.add("version", "2.0")
    vevent = icalendar.Event()
    vevent.add("uid", event.uid)
    vevent.add("dtstamp", stamp.astimezone(UTC))
    vevent.add("dtstart", event.start)
    vevent.add("dtend", event.end)
    vevent.add("summary", event.summary)
    vevent.add("status", event.status.upper())
    if event.description:
        vevent.add("description", event.description)
    if event.location:
        vevent.add("location", event.location)
    if event.organizer:
        vevent.add("organizer", f"mailto:{event.organizer}")
    for attendee in event.attendees:
        params = {"PARTSTAT": attendee.partstat}
        if attendee.name:
            params["CN"] = attendee.name
        vevent.add("attendee", f"mailto:{attendee.email}", parameters=params)
    vevent.add(KEY_PROPERTY, key)
    calendar.add_component(vevent)
    return bytes(calendar.to_ical())


def our_file_name(key: str) -> str:
    """The file holding our event for ``key``: stable, so put_event needs no lookup."""
    return f"outreach-{key_digest(key)}.ics"


class VdirCalendar:
    """The person's calendar as a local vdir (see the module docstring)."""

    def __init__(
        self,
        root: Path,
        *,
        default_tz: tzinfo = UTC,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        opener: Opener = _open_binary,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._default_tz = default_tz
        self._clock = clock
        self._open = opener

    # -- the port ------------------------------------------------------------------------

    def changes(self, cursor: str | None) -> tuple[list[EventChange], str]:
        with self._state() as state:
            self._scan(state)
            position = state.journal.position(cursor)
            if position is None:
                snapshot = [
                    EventChange(EventChangeKind.UPSERTED, event.uid, event)
                    for event in state.events()
                ]
                return snapshot, state.journal.cursor()
            return state.journal.since(position), state.journal.cursor()

    def put_event(self, event: CalendarEvent, key: str) -> str:
        path = self.root / our_file_name(key)
        existing = self._read_ours(path)
        uid = existing.uid if existing else (event.uid or derived_uid(key))
        ours = replace(event, uid=uid, key=key)
        if ours != existing:
            self._write(path, render_event(ours, key, self._clock()))
        return uid

    def delete_event(self, key: str) -> bool:
        path = self.root / our_file_name(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as err:
            raise PermanentError(f"cannot remove {path.name}: {err.strerror}") from err
        return True

    # -- internals -----------------------------------------------------------------------

    def _read(self, path: Path) -> CalendarEvent:
        """Parse one file; raises ``IcsSkipped`` (or FileNotFoundError when it vanished)."""
        try:
            with self._open(path) as handle:
                data = handle.read()
        except FileNotFoundError:
            raise
        except OSError as err:
            raise IcsSkipped(f"unreadable: {err.strerror}") from err
        return parse_event(data, self._default_tz, fallback_uid=path.stem)

    def _read_ours(self, path: Path) -> CalendarEvent | None:
        try:
            return self._read(path)
        except FileNotFoundError:
            return None
        except IcsSkipped as err:
            log.warning("our event file %s is unusable (%s): rewriting it", path.name, err)
            return None

    def _write(self, path: Path, data: bytes) -> None:
        try:
            write_atomically(path, data)
        except OSError as err:
            raise TransientError(f"cannot write {path.name}: {err.strerror}") from err

    def _scan(self, state: _State) -> None:
        found: list[EventChange] = []
        present: dict[str, list[int]] = {}
        with os.scandir(self.root) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.name.endswith(".ics"):
                    continue
                try:
                    stat = entry.stat()
                except FileNotFoundError:
                    continue
                present[entry.name] = [stat.st_mtime_ns, stat.st_size, stat.st_ino]
        for name in sorted(present):
            known = state.files.get(name)
            if known is not None and known["signature"] == present[name]:
                continue
            try:
                event: CalendarEvent | None = self._read(self.root / name)
            except FileNotFoundError:
                continue
            except IcsSkipped as err:
                log.warning("skipping %s: %s", name, err)
                if not err.ordinary:
                    found.append(EventChange(EventChangeKind.UNREADABLE, name, None, str(err)))
                event = None
            before = state.event_of(name)
            if before is not None and (event is None or event.uid != before.uid):
                found.append(EventChange(EventChangeKind.DELETED, before.uid, None))
            if event is not None and event != before:
                found.append(EventChange(EventChangeKind.UPSERTED, event.uid, event))
            state.files[name] = {
                "signature": present[name],
                "event": _encode_event(event) if event else None,
            }
            state.dirty = True
        for name in sorted(state.files.keys() - present.keys()):
            before = state.event_of(name)
            if before is not None:
                found.append(EventChange(EventChangeKind.DELETED, before.uid, None))
            del state.files[name]
            state.dirty = True
        if found:
            state.journal.append(found)
            state.dirty = True

    @contextlib.contextmanager
    def _state(self) -> Iterator[_State]:
        lock_path = self.root / LOCK_FILE
        try:
            lock = lock_path.open("a")
        except OSError as err:
            raise PermanentError(f"cannot open {lock_path}: {err.strerror}") from err
        with lock:
            if fcntl is not None:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            state = _State.load(self.root / STATE_FILE, self._open)
            yield state
            if state.dirty:
                state.save(self.root / STATE_FILE)


class _State:
    """What the calendar remembers between calls; only used under the lock."""

    def __init__(self, data: dict[str, Any] | None) -> None:
        self.dirty = data is None
        data = data or {}
        self.journal: Journal[EventChange] = (
            Journal.from_json(data["journal"], _decode_change) if "journal" in data else Journal()
        )
        # file name -> {"signature": [mtime_ns, size, inode], "event": what it held or None}
        self.files: dict[str, dict[str, Any]] = dict(data.get("files", {}))

    def event_of(self, name: str) -> CalendarEvent | None:
        known = self.files.get(name)
        if known is None or known["event"] is None:
            return None
        return _decode_event(known["event"])

    def events(self) -> list[CalendarEvent]:
        return [e for e in (self.event_of(name) for name in sorted(self.files)) if e]

    @classmethod
    def load(cls, path: Path, opener: Opener) -> _State:
        try:
            with opener(path) as handle:
                data = json.loads(handle.read())
        except FileNotFoundError:
            return cls(None)
        except (OSError, ValueError) as err:
            log.warning("state file %s is unreadable (%s): starting afresh", path, err)
            return cls(None)
        if not isinstance(data, dict) or data.get("version") != _STATE_VERSION:
            log.warning("state file %s has an unknown format: starting afresh", path)
            return cls(None)
        return cls(data)

    def save(self, path: Path) -> None:
        data = {
            "version": _STATE_VERSION,
            "journal": self.journal.to_json(_encode_change),
            "files": self.files,
        }
        try:
            write_atomically(path, json.dumps(data, separators=(",", ":")).encode("utf-8"))
        except OSError as err:
            raise TransientError(f"cannot write {path}: {err.strerror}") from err
        self.dirty = False


def _encode_event(event: CalendarEvent) -> dict[str, Any]:
    return {
        "uid": event.uid,
        "summary": event.summary,
        "start": event.start.isoformat(),
        "end": event.end.isoformat(),
        "organizer": event.organizer,
        "attendees": [[a.email, a.name, a.partstat] for a in event.attendees],
        "status": event.status,
        "description": event.description,
        "location": event.location,
        "key": event.key,
    }


def _decode_event(data: dict[str, Any]) -> CalendarEvent:
    return CalendarEvent(
        uid=data["uid"],
        summary=data["summary"],
        start=datetime.fromisoformat(data["start"]),
        end=datetime.fromisoformat(data["end"]),
        organizer=data["organizer"],
        attendees=tuple(Attendee(e, n, p) for e, n, p in data["attendees"]),
        status=data["status"],
        description=data["description"],
        location=data["location"],
        key=data["key"],
    )


def _encode_change(change: EventChange) -> dict[str, Any]:
    return {
        "kind": change.kind.value,
        "uid": change.uid,
        "event": _encode_event(change.event) if change.event else None,
        "reason": change.reason,
    }


def _decode_change(data: dict[str, Any]) -> EventChange:
    return EventChange(
        kind=EventChangeKind(data["kind"]),
        uid=data["uid"],
        event=_decode_event(data["event"]) if data["event"] else None,
        reason=data.get("reason"),
    )
