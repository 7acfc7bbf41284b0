"""The calendar: events, the calendar view delta, and the other organisers' side."""

from __future__ import annotations

import copy
import uuid
from datetime import datetime

from tests.emulators.core import (
    JSON,
    Answer,
)
from tests.emulators.graph._wire import (
    GraphError,
    _expanded,
    _iso,
    _properties,
    _property_matches,
    _Request,
)
from tests.emulators.graph.delta import DeltaSide


class CalendarSide(DeltaSide):
    """Events and the calendar view; invitations from others."""

    def add_event(self, event: JSON) -> str:
        """An invitation lands on the calendar (Graph's event JSON); returns its id."""
        with self._lock:
            return str(self._create_event(copy.deepcopy(event))["id"])

    def event_by_uid(self, uid: str) -> JSON:
        with self._lock:
            return next(e for e in self._events.values() if e["iCalUId"] == uid)

    def move_event(self, uid: str, start: datetime, end: datetime) -> None:
        with self._lock:
            event = self.event_by_uid(uid)
            event["start"] = {"dateTime": _iso(start)[:-1], "timeZone": "UTC"}
            event["end"] = {"dateTime": _iso(end)[:-1], "timeZone": "UTC"}
            self._touch_event(event)

    def cancel_event(self, uid: str) -> None:
        with self._lock:
            event = self.event_by_uid(uid)
            event["isCancelled"] = True
            self._touch_event(event)

    def remove_event(self, uid: str) -> None:
        with self._lock:
            event = self.event_by_uid(uid)
            del self._events[event["id"]]
            self._change("events", event["id"])

    def events(self) -> list[JSON]:
        with self._lock:
            return [copy.deepcopy(e) for e in self._events.values()]

    def _create_event(self, data: JSON) -> JSON:
        event_id = f"AAMkAGI2TG93AAA{next(self._ids):08d}="
        data.setdefault("iCalUId", f"040000008200E00074C5B7101A82E008{uuid.uuid4().hex}")
        data["id"] = event_id
        data.setdefault("isCancelled", False)
        data.setdefault("isAllDay", False)
        data.setdefault("organizer", {"emailAddress": {"name": "Me", "address": self.address}})
        data.setdefault("attendees", [])
        data["_properties"] = _properties(data)
        data.pop("singleValueExtendedProperties", None)
        self._events[event_id] = data
        self._touch_event(data)
        return data

    def _touch_event(self, event: JSON) -> None:
        event["lastModifiedDateTime"] = _iso(self.now())
        self._change("events", event["id"])

    def _event_json(self, event: JSON, request: _Request) -> JSON:
        data = {k: copy.deepcopy(v) for k, v in event.items() if not k.startswith("_")}
        selected = request.param("$select")
        if selected:
            keep = {part.strip() for part in selected.split(",")} | {"id"}
            data = {k: v for k, v in data.items() if k in keep}
        data.update(_expanded(event["_properties"], request))
        return data

    def _events_get(self, request: _Request, event_id: str) -> Answer:
        event = self._events.get(event_id)
        if event is None:
            raise GraphError(404, "The specified object was not found in the store.")
        return Answer.json(200, self._event_json(event, request))

    def _events_delta(self, request: _Request) -> Answer:
        return self._delta_answer(request, "events", lambda e: self._event_json(e, request))

    def _events_list(self, request: _Request) -> Answer:
        wanted = request.param("$filter")
        found = [
            self._event_json(e, request)
            for e in self._events.values()
            if wanted is None or _property_matches(e["_properties"], wanted)
        ]
        return Answer.json(200, {"value": found})

    def _events_create(self, request: _Request) -> Answer:
        data = request.json()
        transaction = data.get("transactionId")
        if transaction:
            for event in self._events.values():
                if event.get("transactionId") == transaction:
                    return Answer.json(201, self._event_json(event, request))
        data.pop("iCalUId", None)  # read-only in Graph
        return Answer.json(201, self._event_json(self._create_event(data), request))

    def _events_patch(self, request: _Request, event_id: str) -> Answer:
        event = self._events.get(event_id)
        if event is None:
            raise GraphError(404, "The specified object was not found in the store.")
        data = request.json()
        event["_properties"].update(_properties(data))
        data.pop("singleValueExtendedProperties", None)
        data.pop("iCalUId", None)
        event.update(data)
        self._touch_event(event)
        return Answer.json(200, self._event_json(event, request))

    def _events_delete(self, request: _Request, event_id: str) -> Answer:
        if self._events.pop(event_id, None) is None:
            raise GraphError(404, "The specified object was not found in the store.")
        self._change("events", event_id)
        return Answer(204)
