"""The Outlook calendar over Microsoft Graph (the ``Calendar`` port); see connectors.outlook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors._graph_http import Gone, GraphClient
from connectors._ids import derived_uid, key_digest
from connectors._ledger import DraftLedger, MemoryLedger, Record
from connectors.base import (
    Attendee,
    CalendarEvent,
    EventChange,
    EventChangeKind,
)
from connectors.outlook_common import (
    _CALENDAR_CURSOR,
    _PARTSTAT,
    KEY_PROPERTY_ID,
    UID_PROPERTY_ID,
    _decode,
    _encode,
    _key_filter,
    _marks,
    _marks_url,
    _time,
)
from pipeline.clock import Clock, system_clock


class OutlookCalendar:
    """The person's Outlook calendar over Graph (see connectors.outlook)."""

    def __init__(
        self,
        client: GraphClient,
        *,
        ledger: DraftLedger | None = None,
        clock: Clock = system_clock,
        window_days: int = 30,
        horizon_days: int = 365,
        page_size: int = 50,
    ) -> None:
        self.client = client
        self.ledger = ledger or MemoryLedger()
        self.clock = clock
        self.window = timedelta(days=window_days)
        self.horizon = timedelta(days=horizon_days)
        self.page_size = page_size

    def changes(self, cursor: str | None) -> tuple[list[EventChange], str]:
        state = _decode(cursor, _CALENDAR_CURSOR)
        uids: dict[str, str] = dict(state.get("uids") or {}) if state else {}
        link = state.get("link") if state else None
        now = self.clock()
        renew_at = _time(str(state.get("renew_at"))) if state else None
        try:
            items, new_link = self._round(link if isinstance(link, str) else None)
        except Gone:
            items, new_link = self._round(None)
            renew_at = None
        if renew_at is not None and now >= renew_at:
            # The window a delta link covers is fixed when its round starts: move it on,
            # once what the old link still had to say is read.
            fresh, new_link = self._round(None)
            items, renew_at = [*items, *fresh], None
        if renew_at is None or link is None:
            renew_at = now + self.horizon / 2
        ours = self._ours(items)
        changes = []
        for item in items:
            event_id = str(item["id"])
            if "@removed" in item:
                uid = uids.pop(event_id, None) or ours.get(event_id, ("", {}))[1].get("uid")
                if uid:
                    changes.append(EventChange(EventChangeKind.DELETED, uid, None))
                continue
            change = self._event_change(item, ours.get(event_id))
            if change is not None:
                uids[event_id] = change.uid
                changes.append(change)
        state = {"link": new_link, "uids": uids, "renew_at": renew_at.isoformat()}
        return changes, _encode(state, _CALENDAR_CURSOR)

    def _ours(self, items: list[dict[str, Any]]) -> dict[str, tuple[str, Record]]:
        """Event id -> (key, {"uid"}) of our events among ``items``: from the ledger, else
        read from the events' extended properties (written by another machine), twenty to
        a batch."""
        ours = {str(d.get("id")): (k, d) for k, d in self.ledger.all().items() if d.get("id")}
        unknown = [str(i["id"]) for i in items if "@removed" not in i and str(i["id"]) not in ours]
        found = (
            self.client.get_many(
                {event_id: _marks_url(f"/me/events/{event_id}") for event_id in unknown},
                missing_ok=True,
            )
            if unknown
            else {}
        )
        for event_id, item in found.items():
            marks = _marks(item)
            if marks.get(KEY_PROPERTY_ID.lower()):
                uid = marks.get(UID_PROPERTY_ID.lower())
                ours[event_id] = (str(marks[KEY_PROPERTY_ID.lower()]), {"uid": uid})
        return ours

    def _round(self, link: str | None) -> tuple[list[dict[str, Any]], str]:
        now = self.clock()
        url = link or "/me/calendarView/delta"
        params = (
            None
            if link
            else {
                "startDateTime": (now - self.window).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "endDateTime": (now + self.horizon).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
        prefer = f'odata.maxpagesize={self.page_size}, outlook.timezone="UTC"'
        return self.client.delta_round(url, params, prefer)

    def _event_change(
        self, item: dict[str, Any], ours: tuple[str, Record] | None
    ) -> EventChange | None:
        uid = str((ours[1].get("uid") if ours else None) or item.get("iCalUId") or item["id"])
        if item.get("isAllDay"):
            return None
        start, end = _event_time(item.get("start")), _event_time(item.get("end"))
        if start is None or end is None:
            return EventChange(
                EventChangeKind.UNREADABLE, uid, None, reason="the event's times cannot be read"
            )
        organizer = ((item.get("organizer") or {}).get("emailAddress") or {}).get("address")
        attendees = tuple(
            Attendee(
                str(a["emailAddress"]["address"]).lower(),
                a["emailAddress"].get("name") or None,
                _PARTSTAT.get((a.get("status") or {}).get("response", ""), "NEEDS-ACTION"),
            )
            for a in item.get("attendees") or []
            if (a.get("emailAddress") or {}).get("address")
        )
        event = CalendarEvent(
            uid=uid,
            summary=str(item.get("subject") or ""),
            start=start,
            end=end,
            organizer=organizer.lower() if organizer else None,
            attendees=attendees,
            status="cancelled" if item.get("isCancelled") else "confirmed",
            description=str((item.get("body") or {}).get("content") or ""),
            location=((item.get("location") or {}).get("displayName") or None),
            key=ours[0] if ours else None,
        )
        return EventChange(EventChangeKind.UPSERTED, uid, event)

    def _find(self, key: str) -> dict[str, Any] | None:
        found = self.client.request(
            "GET",
            "/me/events",
            params={
                "$filter": _key_filter(key),
                "$select": "id,iCalUId",
                "$expand": f"singleValueExtendedProperties($filter=id eq '{UID_PROPERTY_ID}')",
            },
        )
        items = found.get("value") or []
        return dict(items[0]) if items else None

    def put_event(self, event: CalendarEvent, key: str) -> str:
        existing = self._find(key)
        record = self.ledger.get(key) or {}
        kept = _marks(existing).get(UID_PROPERTY_ID.lower()) if existing else None
        uid = kept or record.get("uid") or event.uid or derived_uid(key)
        body: dict[str, Any] = {
            "subject": event.summary,
            "body": {"contentType": "text", "content": event.description},
            "start": {"dateTime": event.start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": event.end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "showAs": "busy",
        }
        if event.location:
            body["location"] = {"displayName": event.location}
        if existing is not None:
            self.client.request("PATCH", f"/me/events/{existing['id']}", json=body)
            self.ledger.put(key, {"id": existing["id"], "uid": uid})
            return str(uid)
        self.ledger.put(key, {"uid": uid})
        body["transactionId"] = f"outreach-{key_digest(key)}"
        body["singleValueExtendedProperties"] = [
            {"id": KEY_PROPERTY_ID, "value": key},
            {"id": UID_PROPERTY_ID, "value": uid},
        ]
        created = self.client.request("POST", "/me/events", json=body)
        self.ledger.put(key, {"id": created["id"], "uid": uid})
        return str(uid)

    def delete_event(self, key: str) -> bool:
        existing = self._find(key)
        if existing is None:
            return False
        self.client.request("DELETE", f"/me/events/{existing['id']}", missing_ok=True)
        return True


def _event_time(value: dict[str, Any] | None) -> datetime | None:
    if not value or not value.get("dateTime"):
        return None
    text = str(value["dateTime"])
    try:
        moment = datetime.fromisoformat(text[:26] if "." in text else text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        zone = str(value.get("timeZone") or "UTC")
        try:
            moment = moment.replace(tzinfo=UTC if zone == "UTC" else ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError):
            return None
    if not 1970 <= moment.year <= 2199:
        return None
    return moment.astimezone(UTC)
