"""A Calendar over the Google Calendar API (google-api-python-client, static discovery).

- ``changes``: ``events.list`` with ``singleEvents=true``; the first call (or an unknown
  cursor) lists every event and keeps the ``nextSyncToken`` as the cursor; later calls
  pass it as ``syncToken`` and read every page. A 410 (the token expired; or a 400, a
  token Google cannot read) means a full sync again: every current event is reported as
  ``UPSERTED`` (the caller treats upserts idempotently); a deletion that happened
  meanwhile is not seen.
- Mapping: a timed event becomes a ``CalendarEvent`` whose ``uid`` is the ``iCalUID``,
  start and end aware UTC, attendees' ``responseStatus`` as PARTSTAT, organizer's email,
  our key from ``extendedProperties.private.outreachKey``. All-day events are skipped. A
  cancelled event that still carries its times (the organiser cancelled it) is an
  ``UPSERTED`` with status ``cancelled``; a cancelled event reduced to its id (it was
  deleted) is ``DELETED``, its iCalUID read with ``events.get`` when the tombstone lacks it.
- Our prep events: found by ``privateExtendedProperty=outreachKey=<key>``; created with
  the caller's iCalUID (one derived from the key when it has none) and no event id
  (Google takes one or the other at creation, not both), so an insert whose answer was
  lost and is tried again answers 409 instead of making a second event: the event with
  that iCalUID is then read (``events.list iCalUID=``) and updated in place.
Errors: see ``connectors._google_http``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from connectors._google_http import (
    Caller,
    Retrier,
    RetryPolicy,
    Sleep,
    http_status,
    pin_refresh,
)
from connectors._ids import derived_uid
from connectors.base import Attendee, CalendarEvent, EventChange, EventChangeKind
from connectors.quota import Quota, Unlimited
from pipeline.errors import PermanentError

KEY_PROPERTY = "outreachKey"
"""The private extended property carrying the idempotency key of an event we wrote."""

_CURSOR_PREFIX = "gcal1:"
_PARTSTAT = {
    "accepted": "ACCEPTED",
    "declined": "DECLINED",
    "tentative": "TENTATIVE",
    "needsAction": "NEEDS-ACTION",
}
_RESPONSE = {v: k for k, v in _PARTSTAT.items()}
CALENDAR_UNITS: Mapping[str, int] = {}
"""Calendar quota is counted in requests: every call costs 1."""


def _time(value: Mapping[str, Any] | None) -> datetime | None:
    if not value or "dateTime" not in value:
        return None
    moment = datetime.fromisoformat(str(value["dateTime"]).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def to_event(item: Mapping[str, Any]) -> CalendarEvent | None:
    """Our view of a Google event resource; None for all-day events or tombstones."""
    start, end = _time(item.get("start")), _time(item.get("end"))
    if start is None or end is None:
        return None
    attendees = tuple(
        Attendee(
            email=str(a["email"]),
            name=a.get("displayName") or None,
            partstat=_PARTSTAT.get(a.get("responseStatus", ""), "NEEDS-ACTION"),
        )
        for a in item.get("attendees", [])
        if a.get("email") and not a.get("resource")
    )
    private = (item.get("extendedProperties") or {}).get("private") or {}
    return CalendarEvent(
        uid=str(item.get("iCalUID") or item["id"]),
        summary=str(item.get("summary", "")),
        start=start,
        end=end,
        organizer=(item.get("organizer") or {}).get("email"),
        attendees=attendees,
        status=str(item.get("status", "confirmed")),
        description=str(item.get("description", "")),
        location=item.get("location") or None,
        key=private.get(KEY_PROPERTY),
    )


def to_resource(event: CalendarEvent, key: str) -> dict[str, Any]:
    """The fields of OUR event that we write (never organizer: Google sets it)."""
    resource: dict[str, Any] = {
        "summary": event.summary,
        "description": event.description,
        "start": {"dateTime": event.start.isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": event.end.isoformat(), "timeZone": "UTC"},
        "status": event.status,
        "extendedProperties": {"private": {KEY_PROPERTY: key}},
        "attendees": [
            {
                "email": a.email,
                **({"displayName": a.name} if a.name else {}),
                "responseStatus": _RESPONSE.get(a.partstat, "needsAction"),
            }
            for a in event.attendees
        ],
    }
    if event.location:
        resource["location"] = event.location
    return resource


class GoogleCalendar:
    """The person's Google Calendar (see the module docstring)."""

    def __init__(
        self,
        http: Any,
        *,
        calendar_id: str = "primary",
        quota: Quota | None = None,
        retry: RetryPolicy | None = None,
        sleep: Sleep = time.sleep,
        page_size: int = 250,
    ) -> None:
        from googleapiclient.discovery import build

        self._service = build(
            "calendar", "v3", http=http, static_discovery=True, cache_discovery=False
        )
        pin_refresh(http)
        self._events = self._service.events()
        self._calendar_id = calendar_id
        self._caller = Caller(
            quota if quota is not None else Unlimited(),
            CALENDAR_UNITS,
            Retrier(retry or RetryPolicy(), sleep),
            default_units=1,
        )
        self._page_size = page_size
        self._lock = threading.RLock()

    def close(self) -> None:
        self._service.close()

    # -- the port ----------------------------------------------------------------------------

    def changes(self, cursor: str | None) -> tuple[list[EventChange], str]:
        with self._lock:
            token = (
                cursor[len(_CURSOR_PREFIX) :]
                if cursor and cursor.startswith(_CURSOR_PREFIX)
                else None
            )
            if token:
                try:
                    items, next_token = self._list(sync_token=token)
                except PermanentError as err:
                    if http_status(err) not in (410, 400):
                        raise
                    items, next_token = self._list()
            else:
                items, next_token = self._list()
            found: list[EventChange] = []
            for item in items:
                change = self._change(item)
                if change is not None:
                    found.append(change)
            return found, _CURSOR_PREFIX + next_token

    def put_event(self, event: CalendarEvent, key: str) -> str:
        with self._lock:
            existing = self._by_key(key)
            if existing is not None:
                return self._update(existing, event, key)
            uid = event.uid or derived_uid(key)
            body = {**to_resource(replace(event, uid=uid), key), "iCalUID": uid}
            try:
                created = self._caller.call(
                    lambda: self._events.insert(calendarId=self._calendar_id, body=body),
                    "calendar.events.insert",
                )
            except PermanentError as err:
                if http_status(err) != 409:
                    raise
                # our iCalUID exists: an earlier insert landed though its answer was lost
                items, _ = self._list(iCalUID=uid, showDeleted=True)
                if not items:
                    raise
                live = [i for i in items if i.get("status") != "cancelled"] or items
                current = live[0]
                return self._update(current, event, key, force=current.get("status") == "cancelled")
            return str(created["iCalUID"])

    def delete_event(self, key: str) -> bool:
        with self._lock:
            existing = self._by_key(key)
            if existing is None:
                return False
            try:
                self._caller.call(
                    lambda: self._events.delete(
                        calendarId=self._calendar_id, eventId=existing["id"]
                    ),
                    "calendar.events.delete",
                )
            except PermanentError as err:
                if http_status(err) in (404, 410):
                    return False
                raise
            return True

    # -- internals ---------------------------------------------------------------------------

    def _list(
        self, sync_token: str | None = None, **filters: Any
    ) -> tuple[list[dict[str, Any]], str]:
        items: list[dict[str, Any]] = []
        page: str | None = None
        while True:
            params: dict[str, Any] = {
                "calendarId": self._calendar_id,
                "singleEvents": True,
                "maxResults": self._page_size,
                **filters,
            }
            if sync_token:
                params["syncToken"] = sync_token
            if page:
                params["pageToken"] = page
            answer = self._caller.call(partial(self._events.list, **params), "calendar.events.list")
            items.extend(answer.get("items", []))
            page = answer.get("nextPageToken")
            if not page:
                return items, str(answer.get("nextSyncToken", ""))

    def _change(self, item: dict[str, Any]) -> EventChange | None:
        if item.get("status") == "cancelled" and "start" not in item:
            uid = item.get("iCalUID") or self._uid_of(item["id"])
            return EventChange(EventChangeKind.DELETED, uid, None)
        event = to_event(item)
        if event is None:
            return None
        return EventChange(EventChangeKind.UPSERTED, event.uid, event)

    def _uid_of(self, event_id: str) -> str:
        try:
            found = self._caller.call(
                lambda: self._events.get(calendarId=self._calendar_id, eventId=event_id),
                "calendar.events.get",
            )
        except PermanentError as err:
            if http_status(err) in (404, 410):
                return event_id
            raise
        return str(found.get("iCalUID") or event_id)

    def _by_key(self, key: str) -> dict[str, Any] | None:
        items, _ = self._list(privateExtendedProperty=f"{KEY_PROPERTY}={key}")
        live = [i for i in items if i.get("status") != "cancelled"]
        return live[0] if live else None

    def _update(
        self, existing: dict[str, Any], event: CalendarEvent, key: str, *, force: bool = False
    ) -> str:
        uid = str(existing.get("iCalUID") or existing["id"])
        desired = replace(event, uid=uid, key=key)
        current = to_event(existing)
        if (
            not force
            and current is not None
            and replace(current, organizer=desired.organizer) == desired
        ):
            return uid
        body = to_resource(desired, key)
        updated = self._caller.call(
            lambda: self._events.patch(
                calendarId=self._calendar_id, eventId=existing["id"], body=body
            ),
            "calendar.events.patch",
        )
        return str(updated.get("iCalUID") or uid)
