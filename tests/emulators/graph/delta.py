"""Changes and delta links, shared by the mail folders and the calendar view."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.emulators.core import (
    JSON,
    Answer,
)
from tests.emulators.graph._wire import (
    GraphError,
    GraphState,
    _decode,
    _encode,
    _folder_name,
    _in_window,
    _Message,
    _Request,
)


class DeltaSide(GraphState):
    """The change log, delta links and their pages (the mail half renders a message)."""

    def _json(self, found: _Message, request: _Request) -> JSON:
        raise NotImplementedError  # MailSide

    def _in(self, folder: str) -> list[_Message]:
        raise NotImplementedError  # MailSide

    def expire_delta_links(self) -> None:
        """Every delta link handed out so far answers 410 Gone."""
        with self._lock:
            self._min_seq = self._seq

    def _delta(self, request: _Request, name: str) -> Answer:
        folder = _folder_name(name)
        return self._delta_answer(request, folder, lambda m: self._json(m, request))

    def _delta_answer(
        self, request: _Request, stream: str, render: Callable[[Any], JSON]
    ) -> Answer:
        """One page of a delta round: the items changed after the token's sequence number
        (all current items without a token), then a delta link at the current one."""
        page_size = request.max_page_size() or self.page_size
        skip = request.param("$skiptoken")
        delta = request.param("$deltatoken")
        if skip:
            state = _decode(skip)
            if state is None:
                raise GraphError(400, "Invalid skip token.", "ErrorInvalidSyncStateData")
        elif delta:
            state = _decode(delta)
            if state is None or state.get("stream") != stream:
                raise GraphError(400, "Invalid delta token.", "ErrorInvalidSyncStateData")
            state = {**state, "upto": self._seq, "offset": 0}
        else:
            state = {**self._window_of(request), "stream": stream, "since": None}
            state.update(upto=self._seq, offset=0)
        since = state.get("since")
        if since is not None and since < self._min_seq:
            raise GraphError(410, "The sync state is no longer valid.", "SyncStateNotFound")
        entries = self._delta_entries(stream, since, state["upto"], render, state)
        offset = state["offset"]
        page = entries[offset : offset + page_size]
        path = request.path
        base = f"{request.origin}{path}"
        body: JSON = {"value": page}
        if offset + page_size < len(entries):
            body["@odata.nextLink"] = (
                f"{base}?$skiptoken={_encode({**state, 'offset': offset + page_size})}"
            )
        else:
            window: JSON = {k: state[k] for k in ("start", "end") if k in state}
            token = _encode({"stream": stream, "since": state["upto"], **window})
            body["@odata.deltaLink"] = f"{base}?$deltatoken={token}"
        return Answer.json(200, body)

    def _window_of(self, request: _Request) -> JSON:
        start, end = request.param("startDateTime"), request.param("endDateTime")
        if start is None and end is None:
            return {}
        if not start or not end:
            raise GraphError(400, "startDateTime and endDateTime are required.", "BadRequest")
        return {"start": start, "end": end}

    def _delta_entries(
        self,
        stream: str,
        since: int | None,
        upto: int,
        render: Callable[[Any], JSON],
        state: JSON,
    ) -> list[JSON]:
        if since is None:
            current = self._current(stream, state)
            return [render(item) for item in current]
        changed: dict[str, None] = {}
        for seq, where, item_id in self._log:
            if since < seq <= upto and where == stream:
                changed.pop(item_id, None)
                changed[item_id] = None
        present = {self._item_id(item): item for item in self._current(stream, state)}
        entries = []
        for item_id in changed:
            if item_id in present:
                entries.append(render(present[item_id]))
            else:
                entries.append({"id": item_id, "@removed": {"reason": "deleted"}})
        return entries

    def _current(self, stream: str, state: JSON) -> list[Any]:
        if stream == "events":
            return [e for e in self._events.values() if _in_window(e, state)]
        return self._in(stream)

    @staticmethod
    def _item_id(item: Any) -> str:
        return item["id"] if isinstance(item, dict) else str(item.id)

    def _change(self, stream: str, item_id: str) -> None:
        self._seq += 1
        self._log.append((self._seq, stream, item_id))
