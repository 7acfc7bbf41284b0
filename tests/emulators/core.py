"""What every provider emulator shares: the HTTP server, the request log, the clock,
fault injection and the quota helpers.

A provider emulator subclasses ``EmulatorServer`` and implements ``handle`` (answer one
request) and ``fault_answer`` (a status fault in the provider's own error envelope); it
calls ``take_fault`` and ``log`` from ``handle``. The server answers on 127.0.0.1 on a
free port (``url``), one thread per connection, HTTP/1.1 with keep-alive.

Knobs for tests: ``fail_next`` (any status, optionally with Retry-After), ``drop_next``
(the connection closes without an answer, before or after the work is done),
``stall_next`` (the answer comes after a delay: a client time-out), ``latency`` (added
to every request), ``max_concurrent`` (requests in flight at once; one more is answered
with ``throttle_answer``). ``requests`` logs every request; ``clock`` is the emulator's
idea of now, which a test may move.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import pytest

JSON = dict[str, Any]

PHRASES = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    410: "Gone",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: object, headers: Mapping[str, str] | None = None) -> Answer:
        return cls(
            status,
            json.dumps(data).encode(),
            {"Content-Type": "application/json; charset=UTF-8", **(headers or {})},
        )


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the emulator saw it: ``batch`` is the id of the enclosing batch
    request for a part of one (None for a plain HTTP request), ``method_name`` the API
    method (e.g. ``gmail.users.history.list``), ``units`` the quota it was charged."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    method_name: str
    status: int
    units: int
    batch: int | None
    at: float


@dataclass
class Fault:
    kind: str  # "status", "drop", "stall"
    match: str | None
    times: int
    status: int = 503
    retry_after: float | None = None
    reason: str | None = None
    after: bool = True  # drop/stall after the work is done (the client never hears back)
    seconds: float = 0.0

    def matches(self, method_name: str, path: str) -> bool:
        return self.match is None or self.match in method_name or self.match in path


class Bucket:
    """A rate per second as a token bucket answering how long to wait."""

    def __init__(self, rate: float, *, burst: float | None = None) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else rate
        self.level = self.capacity
        self.stamp = time.monotonic()

    def take(self, units: int) -> float:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        if units <= self.level:
            self.level -= units
            return 0.0
        return (units - self.level) / self.rate


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case."""
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


class EmulatorServer:
    """The server, the request log and the fault queue of one provider emulator."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        clock: Callable[[], datetime] | None = None,
        max_concurrent: int | None = None,
    ) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))  # a test may move time
        self.latency = latency
        self.max_concurrent = max_concurrent
        self._inflight = 0
        self._lock = threading.RLock()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[LoggedRequest] = []
        self._faults: list[Fault] = []

    # -- to implement ---------------------------------------------------------------------

    def handle(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        batch: int | None = None,
    ) -> tuple[Answer, Fault | None]:
        raise NotImplementedError

    def fault_answer(self, fault: Fault) -> Answer:
        raise NotImplementedError

    def throttle_answer(self, retry_after: int) -> Answer:
        """The answer to a request over ``max_concurrent``."""
        return self.fault_answer(Fault("status", None, 1, 429, retry_after=retry_after))

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        emulator: EmulatorServer = self

        class BoundHandler(Handler):
            owner = emulator

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), BoundHandler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the emulator first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def now(self) -> datetime:
        return self._clock()

    # -- faults and the log ---------------------------------------------------------------

    def fail_next(
        self,
        status: int = 503,
        *,
        times: int = 1,
        match: str | None = None,
        retry_after: float | None = None,
        reason: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests (method name or path contains
        ``match``) with ``status`` in the provider's envelope, before doing any work."""
        with self._lock:
            self._faults.append(
                Fault("status", match, times, status, retry_after=retry_after, reason=reason)
            )

    def drop_next(self, *, times: int = 1, match: str | None = None, after: bool = True) -> None:
        """Close the connection instead of answering; ``after``: the work is done first
        (the client cannot know whether its request took effect)."""
        with self._lock:
            self._faults.append(Fault("drop", match, times, after=after))

    def stall_next(self, seconds: float, *, times: int = 1, match: str | None = None) -> None:
        """Do the work, then wait ``seconds`` before answering (a client time-out)."""
        with self._lock:
            self._faults.append(Fault("stall", match, times, seconds=seconds))

    def take_fault(self, name: str, path: str, *, inner: bool) -> Fault | None:
        """The next fault for this request; a batch's parts only get status faults (the
        connection belongs to the enclosing batch request)."""
        with self._lock:
            for fault in self._faults:
                if inner and fault.kind != "status":
                    continue
                if fault.matches(name, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def log(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: bytes,
        name: str,
        status: int,
        units: int,
        batch: int | None,
    ) -> None:
        entry = LoggedRequest(method, path, query, body, name, status, units, batch, time.time())
        with self._lock:
            self.requests.append(entry)

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def wait(self, seconds: float) -> None:
        self._release.wait(seconds)

    # -- concurrency ----------------------------------------------------------------------

    def enter(self) -> bool:
        """Count a request in flight; False when it is one too many."""
        with self._lock:
            if self.max_concurrent is not None and self._inflight >= self.max_concurrent:
                return False
            self._inflight += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._inflight -= 1


class Handler(BaseHTTPRequestHandler):
    owner: EmulatorServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall between header and body

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests read the request log instead

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        owner = self.owner
        if not owner.enter():
            self._answer(owner.throttle_answer(1), None)
            return
        try:
            if owner.latency:
                owner.wait(owner.latency)
            answer, fault = owner.handle(self.command, self.path, headers, body)
            if fault is not None and fault.kind == "stall":
                owner.wait(fault.seconds)
        finally:
            owner.leave()
        self._answer(answer, fault)

    def _answer(self, answer: Answer, fault: Fault | None) -> None:
        if (fault is not None and fault.kind == "drop") or answer.status == 0:
            self.close_connection = True
            return
        self.send_response(answer.status, PHRASES.get(answer.status))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if answer.body and self.command != "HEAD":
            self.wfile.write(answer.body)

    def _guarded(self) -> None:
        try:
            self._serve()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _guarded


@contextlib.contextmanager
def loopback_only() -> Iterator[list[str]]:
    """Refuse (and, at the end, fail on) any name lookup but the loopback's: the tests
    reach only the local emulators, never the real services."""
    real = socket.getaddrinfo
    refused: list[str] = []

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in (None, "127.0.0.1", "localhost", "::1"):
            refused.append(str(host))
            raise socket.gaierror(socket.EAI_NONAME, f"tests must not reach {host}")
        return real(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", guarded)
        yield refused
    assert refused == [], f"a test tried to reach {sorted(set(refused))}"
