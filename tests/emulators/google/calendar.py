"""The Google Calendar half of the Google emulator (see ``tests.emulators.google``)."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime

from tests.emulators.core import (
    JSON,
    Answer,
)
from tests.emulators.google._wire import (
    _EVENT_ID,
    ApiError,
    GoogleState,
    _json_body,
    _rfc3339,
    _sync_seq,
    b64url,
    unb64url,
)


class CalendarSide(GoogleState):
    """Google Calendar: the other side (add, move, cancel, remove events) and the API
    handlers (events list with sync tokens, get, insert, patch, update, delete). Mixed
    into ``GoogleEmulator``."""

    # -- the other side of the calendar ------------------------------------------------------

    def add_event(self, resource: JSON) -> str:
        """An event someone else organised appears (or is replaced); return its id."""
        with self._lock:
            body = copy.deepcopy(resource)
            event_id = body.get("id") or uuid.uuid4().hex[:26]
            if event_id in self._events:
                return str(self._replace_event(event_id, body, keep_organizer=False)["id"])
            return str(self._create_event(body, event_id)["id"])

    def event_id(self, ical_uid: str) -> str:
        with self._lock:
            for event_id, event in self._events.items():
                if event["iCalUID"] == ical_uid and event["status"] != "cancelled":
                    return event_id
            for event_id, event in self._events.items():
                if event["iCalUID"] == ical_uid:
                    return event_id
        raise KeyError(ical_uid)

    def move_event(self, ical_uid: str, start: datetime, end: datetime) -> None:
        with self._lock:
            event = self._events[self.event_id(ical_uid)]
            event["start"] = {"dateTime": start.isoformat()}
            event["end"] = {"dateTime": end.isoformat()}
            self._touch(event)

    def cancel_event(self, ical_uid: str) -> None:
        """The organiser cancels: the event stays, every field kept, status cancelled."""
        with self._lock:
            event = self._events[self.event_id(ical_uid)]
            event["status"] = "cancelled"
            self._touch(event)

    def remove_event(self, ical_uid: str) -> None:
        """The event is deleted (incremental sync shows an id-and-status tombstone)."""
        with self._lock:
            event = self._events[self.event_id(ical_uid)]
            event["status"] = "cancelled"
            event["_deleted"] = True
            self._touch(event)

    def events(self, *, deleted: bool = False) -> list[JSON]:
        with self._lock:
            return [
                self._public_event(e)
                for e in self._events.values()
                if deleted or not e.get("_deleted")
            ]

    # -- calendar ----------------------------------------------------------------------------

    def _calendar(self, calendar_id: str) -> None:
        if calendar_id not in ("primary", self.address):
            raise ApiError(404, "Not Found", "notFound")

    def _touch(self, event: JSON) -> None:
        self._seq += 1
        event["_seq"] = self._seq
        event["updated"] = _rfc3339(self._clock())
        event["etag"] = f'"{self._seq}"'
        event["sequence"] = event.get("sequence", -1) + 1

    def _create_event(self, body: JSON, event_id: str) -> JSON:
        now = _rfc3339(self._clock())
        event = {
            **body,
            "kind": "calendar#event",
            "id": event_id,
            "iCalUID": body.get("iCalUID") or f"{event_id}@google.com",
            "status": body.get("status") or "confirmed",
            "created": now,
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
            "creator": {"email": self.address, "self": True},
            "organizer": body.get("organizer") or {"email": self.address, "self": True},
        }
        self._events[event_id] = event
        self._touch(event)
        return event

    def _replace_event(self, event_id: str, body: JSON, *, keep_organizer: bool) -> JSON:
        old = self._events[event_id]
        event = {
            **body,
            "kind": "calendar#event",
            "id": event_id,
            "iCalUID": old["iCalUID"],
            "created": old["created"],
            "htmlLink": old["htmlLink"],
            "creator": old["creator"],
            "sequence": old.get("sequence", 0),
            "status": body.get("status") or "confirmed",
            "organizer": old["organizer"]
            if keep_organizer
            else body.get("organizer", old["organizer"]),
        }
        self._events[event_id] = event
        self._touch(event)
        return event

    @staticmethod
    def _public_event(event: JSON) -> JSON:
        if event.get("_deleted"):
            return {
                "kind": "calendar#event",
                "etag": event["etag"],
                "id": event["id"],
                "status": "cancelled",
            }
        return {k: copy.deepcopy(v) for k, v in event.items() if not k.startswith("_")}

    def _event(self, calendar_id: str, event_id: str) -> JSON:
        self._calendar(calendar_id)
        event = self._events.get(event_id)
        if event is None:
            raise ApiError(404, "Not Found", "notFound")
        return event

    def _events_list(self, calendar_id: str, *, query: dict[str, list[str]], body: bytes) -> Answer:
        self._calendar(calendar_id)
        sync = next(iter(query.get("syncToken") or []), None)
        page_token = next(iter(query.get("pageToken") or []), None)
        props = query.get("privateExtendedProperty", [])
        ical_uid = next(iter(query.get("iCalUID") or []), None)
        show_deleted = (query.get("showDeleted") or ["false"])[0] == "true"
        if sync and (props or ical_uid or query.get("timeMin") or query.get("q")):
            raise ApiError(400, "Sync token cannot be combined with these filters.", "invalid")
        since: int | None = None
        snapshot = self._seq
        if page_token:
            state = json.loads(unb64url(page_token))
            since, snapshot, offset = state["since"], state["snapshot"], state["offset"]
        else:
            offset = 0
            if sync:
                since = _sync_seq(sync)
                if since is None or since < self._min_seq:
                    raise ApiError(
                        410,
                        "Sync token is no longer valid, a full sync is required.",
                        "fullSyncRequired",
                        domain="calendar",
                    )
        found = []
        for event in sorted(self._events.values(), key=lambda e: e["_seq"]):
            if since is not None:
                if not since < event["_seq"] <= snapshot:
                    continue
            else:
                if event["status"] == "cancelled" and not show_deleted:
                    continue
                if event["_seq"] > snapshot:
                    continue
            if ical_uid and event["iCalUID"] != ical_uid:
                continue
            private = event.get("extendedProperties", {}).get("private", {})
            if any(private.get(p.partition("=")[0]) != p.partition("=")[2] for p in props):
                continue
            found.append(self._public_event(event))
        size = min(int((query.get("maxResults") or ["250"])[0]), 2500)
        page = found[offset : offset + size]
        data: JSON = {
            "kind": "calendar#events",
            "summary": self.address,
            "timeZone": "UTC",
            "updated": _rfc3339(self._clock()),
            "items": page,
        }
        if offset + size < len(found):
            data["nextPageToken"] = b64url(
                json.dumps({"since": since, "snapshot": snapshot, "offset": offset + size}).encode()
            )
        else:
            data["nextSyncToken"] = b64url(f"sync:{snapshot}".encode())
        return Answer.json(200, data)

    def _events_get(
        self, calendar_id: str, event_id: str, *, query: dict[str, list[str]], body: bytes
    ) -> Answer:
        event = self._event(calendar_id, event_id)
        return Answer.json(200, self._public_event({**event, "_deleted": False}))

    def _events_insert(
        self, calendar_id: str, *, query: dict[str, list[str]], body: bytes
    ) -> Answer:
        self._calendar(calendar_id)
        data = _json_body(body)
        if data.get("id") and data.get("iCalUID"):
            # Google: "only one of them should be supplied at event creation time"
            raise ApiError(400, "Invalid resource: supply id or iCalUID, not both.", "invalid")
        event_id = data.get("id") or uuid.uuid4().hex[:26]
        if not _EVENT_ID.fullmatch(event_id):
            raise ApiError(400, "Invalid resource id value.", "invalid")
        if event_id in self._events:
            raise ApiError(409, "The requested identifier already exists.", "duplicate")
        uid = data.get("iCalUID")
        if uid and any(
            e["iCalUID"] == uid and e["status"] != "cancelled" for e in self._events.values()
        ):
            raise ApiError(409, "The requested identifier already exists.", "duplicate")
        if "start" not in data or "end" not in data:
            raise ApiError(400, "Missing end time.", "required")
        data.pop("organizer", None)
        return Answer.json(200, self._public_event(self._create_event(data, event_id)))

    def _events_patch(
        self, calendar_id: str, event_id: str, *, query: dict[str, list[str]], body: bytes
    ) -> Answer:
        event = self._event(calendar_id, event_id)
        merged = {k: v for k, v in event.items() if not k.startswith("_")}
        merged.update(_json_body(body))
        merged.setdefault("status", "confirmed")
        return Answer.json(
            200, self._public_event(self._replace_event(event_id, merged, keep_organizer=True))
        )

    def _events_update(
        self, calendar_id: str, event_id: str, *, query: dict[str, list[str]], body: bytes
    ) -> Answer:
        self._event(calendar_id, event_id)
        data = _json_body(body)
        return Answer.json(
            200, self._public_event(self._replace_event(event_id, data, keep_organizer=True))
        )

    def _events_delete(
        self, calendar_id: str, event_id: str, *, query: dict[str, list[str]], body: bytes
    ) -> Answer:
        event = self._event(calendar_id, event_id)
        if event.get("_deleted"):
            raise ApiError(410, "Resource has been deleted", "deleted")
        event["status"] = "cancelled"
        event["_deleted"] = True
        self._touch(event)
        return Answer(204)
