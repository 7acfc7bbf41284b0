"""What the Gmail and Google Calendar connectors share: the HTTP transport, the retry
policy, batches, and the translation of Google's errors into the project's.

Errors at the boundary (``translate``):

- 429, 5xx, 403 ``rateLimitExceeded``/``userRateLimitExceeded``/``backendError``, time-outs,
  dropped connections -> ``TransientError`` (``retry_after`` from the Retry-After header);
- ``google.auth.exceptions.RefreshError`` (``invalid_grant``: revoked or expired), 401 that
  a refresh did not cure, 403 ``insufficientPermissions`` -> ``AuthError``;
- other 4xx -> ``PermanentError``.

``Retrier`` retries transient failures a bounded number of times inside the connector,
waiting what Retry-After says (or an exponential back-off with jitter), never longer than
``max_wait`` per wait nor ``budget`` in all; past that the ``TransientError`` goes to the
caller (the queue retries later). Auth and permanent errors are never retried.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httplib2
from google.auth import exceptions as auth_exceptions
from googleapiclient.errors import BatchError, HttpError

from connectors.quota import Quota
from pipeline.errors import AuthError, OutreachError, PermanentError, TransientError

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], None]

_TRANSIENT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "backendError", "quotaExceeded"}
_UNSAFE_METHODS = {"POST", "PATCH"}
MAX_BATCH = 50
"""Calls per batch request: Google allows 100 and recommends at most 50."""


class NoResendHttp(httplib2.Http):  # type: ignore[misc]
    """An ``httplib2.Http`` that never resends a POST or PATCH on its own.

    httplib2 silently resends a request whose connection dropped before the answer came
    back; for a POST that may already have taken effect (drafts.create) that makes a
    duplicate. Here such a failure surfaces, and the connector decides (it looks for what
    the first attempt may have created before trying again).
    """

    def _conn_request(
        self, conn: Any, request_uri: str, method: str, body: Any, headers: Any
    ) -> tuple[Any, bytes]:
        if method not in _UNSAFE_METHODS:
            return super()._conn_request(conn, request_uri, method, body, headers)  # type: ignore[no-any-return]
        try:
            if conn.sock is None:
                conn.connect()
            conn.request(method, request_uri, body, headers)
            raw_response = conn.getresponse()
            content = raw_response.read()
        except socket.gaierror as err:
            conn.close()
            raise httplib2.ServerNotFoundError(f"Unable to find the server at {conn.host}") from err
        except (OSError, http.client.HTTPException):
            conn.close()
            raise
        response = httplib2.Response(raw_response)
        decompress = getattr(httplib2, "_decompressContent", None)
        if decompress is not None:
            content = decompress(response, content, getattr(self, "limit_kwargs", {}))
        return response, content


def pin_refresh(http: Any) -> None:
    """Make the credentials of an ``AuthorizedHttp`` always refresh through its transport.

    google-api-python-client refreshes inside a batch request (a 401 part, or credentials
    not yet valid) with a bare ``httplib2.Http()``: no time-out, no proxy settings, no
    routing. Refreshes here go through the same transport as every other request.
    """
    credentials = getattr(http, "credentials", None)
    transport = getattr(http, "http", None)
    if credentials is None or transport is None or getattr(credentials, "_pinned", False):
        return
    from google_auth_httplib2 import Request

    original = credentials.refresh
    request = Request(transport)

    def refresh(_ignored: Any) -> None:
        original(request)

    # an instance attribute shadows the method; google-auth calls self.refresh(request)
    setattr(credentials, "refresh", refresh)  # noqa: B010
    setattr(credentials, "_pinned", True)  # noqa: B010


def default_http(timeout: float = 30.0) -> NoResendHttp:
    """The transport production uses (wrap it in ``google_auth_httplib2.AuthorizedHttp``)."""
    return NoResendHttp(timeout=timeout)


# -- errors --------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoogleFailure:
    """What a failed call said: HTTP status, Google's reason and the Retry-After."""

    status: int
    reason: str | None
    message: str
    retry_after: float | None


def failure_of(err: HttpError) -> GoogleFailure:
    status = int(err.resp.status)
    reason, message = None, ""
    try:
        data = json.loads(err.content)
        error = data.get("error", {}) if isinstance(data, dict) else {}
        if isinstance(error, dict):
            message = str(error.get("message", ""))
            errors = error.get("errors") or []
            if errors and isinstance(errors[0], dict):
                reason = errors[0].get("reason")
        elif isinstance(error, str):
            reason = error
    except (ValueError, TypeError):
        pass
    return GoogleFailure(status, reason, message, _retry_after(err.resp))


def _retry_after(headers: Mapping[str, Any]) -> float | None:
    value = headers.get("retry-after") if hasattr(headers, "get") else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return None  # an HTTP date: rare with Google; fall back to our back-off


def is_transient(failure: GoogleFailure) -> bool:
    if failure.status == 429 or failure.status >= 500:
        return True
    return failure.status == 403 and failure.reason in _TRANSIENT_REASONS


def translate(err: BaseException, what: str) -> OutreachError:
    """The project's error for a failure of a Google call (``what`` names the call)."""
    if isinstance(err, OutreachError):
        return err
    if isinstance(err, HttpError):
        failure = failure_of(err)
        text = f"{what}: HTTP {failure.status} {failure.reason or ''}".rstrip()
        if is_transient(failure):
            return TransientError(text, retry_after=failure.retry_after)
        if failure.status == 401 or (
            failure.status == 403 and failure.reason == "insufficientPermissions"
        ):
            return AuthError(f"{text}: the Google account needs to be authorized again")
        return PermanentError(f"{text}: {failure.message}")
    if isinstance(err, auth_exceptions.RefreshError):
        if getattr(err, "retryable", False):
            return TransientError(f"{what}: refreshing the access token failed for now")
        return AuthError(
            f"{what}: Google refused to refresh the access token (revoked or expired); "
            "authorize the account again"
        )
    if isinstance(err, auth_exceptions.TransportError | BatchError):
        return TransientError(f"{what}: {type(err).__name__}")
    if isinstance(err, OSError | http.client.HTTPException | httplib2.HttpLib2Error):
        return TransientError(f"{what}: {type(err).__name__}: connection failed or timed out")
    raise err


_CAUGHT = (
    HttpError,
    BatchError,
    auth_exceptions.GoogleAuthError,
    OSError,
    http.client.HTTPException,
    httplib2.HttpLib2Error,
)


# -- retries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How long the connector itself keeps trying a transient failure."""

    attempts: int = 4
    base: float = 0.5
    max_wait: float = 30.0
    budget: float = 60.0


class Retrier:
    """Runs a call, retrying transient failures as the policy allows (never a tight loop:
    every retry waits Retry-After or a back-off of at least ``base`` seconds)."""

    def __init__(self, policy: RetryPolicy, sleep: Sleep = time.sleep) -> None:
        self.policy = policy
        self.sleep = sleep

    def waits(self) -> Iterator[int]:
        """Attempt numbers; between them the caller calls ``pause``."""
        yield from range(self.policy.attempts)

    def pause(self, error: TransientError, attempt: int, spent: float) -> float:
        """Wait before attempt ``attempt + 1``; re-raise ``error`` when out of budget."""
        policy = self.policy
        if attempt + 1 >= policy.attempts:
            raise error
        if error.retry_after is not None:
            wait = error.retry_after
        else:
            wait = policy.base * (2**attempt) * (1 + random.random())
        if wait > policy.max_wait or spent + wait > policy.budget:
            raise error
        log.info("transient failure (%s); retrying in %.1f s", error, wait)
        self.sleep(wait)
        return wait

    def run(self, call: Callable[[], T], what: str) -> T:
        spent = 0.0
        for attempt in self.waits():
            try:
                return call()
            except _CAUGHT as err:
                error = translate(err, what)
                if not isinstance(error, TransientError):
                    raise error from err
                spent += self.pause(error, attempt, spent)
        raise AssertionError("unreachable")  # pragma: no cover


class Caller:
    """Executes API requests: quota first, then the call, with bounded retries."""

    def __init__(
        self, quota: Quota, units: Mapping[str, int], retrier: Retrier, *, default_units: int = 5
    ) -> None:
        self.quota = quota
        self.units = units
        self.retrier = retrier
        self.default_units = default_units

    def cost(self, name: str) -> int:
        return self.units.get(name, self.default_units)

    def once(self, request: Any, name: str) -> Any:
        """One attempt, no retry (the caller handles what a retry would need)."""
        self.quota.acquire(self.cost(name))
        try:
            return request.execute(num_retries=0)
        except _CAUGHT as err:
            raise translate(err, name) from err

    def call(self, make: Callable[[], Any], name: str) -> Any:
        """``make()`` builds the request anew for each attempt."""

        def attempt() -> Any:
            self.quota.acquire(self.cost(name))
            return make().execute(num_retries=0)

        return self.retrier.run(attempt, name)

    def batch(
        self,
        service: Any,
        requests: Sequence[tuple[str, Callable[[], Any]]],
        name: str,
        *,
        missing: tuple[int, ...] = (404,),
    ) -> dict[str, Any]:
        """Run ``(id, make_request)`` pairs in batch requests of at most ``MAX_BATCH``.

        Returns id -> response; an answer with a status in ``missing`` leaves the id out.
        Parts that fail transiently are retried in a later batch after their Retry-After;
        other failures raise. When only some parts of a batch came through (Gmail answers
        429 to the parts it has no concurrency left for), later batches are no larger than
        what came through.
        """
        results: dict[str, Any] = {}
        pending = list(requests)
        spent = 0.0
        attempt = 0
        size = MAX_BATCH
        while pending:
            failed: list[tuple[str, Callable[[], Any]]] = []
            worst: TransientError | None = None
            start = 0
            while start < len(pending):
                chunk = pending[start : start + size]
                start += len(chunk)
                outcome = self._one_batch(service, chunk, name, missing)
                results.update(outcome.done)
                failed.extend(outcome.retry)
                if outcome.retry and outcome.done:
                    size = min(size, len(outcome.done))
                if outcome.error is not None and (
                    worst is None or (outcome.error.retry_after or 0) > (worst.retry_after or 0)
                ):
                    worst = outcome.error
            if not failed:
                break
            assert worst is not None
            spent += self.retrier.pause(worst, attempt, spent)
            attempt += 1
            pending = failed
        return results

    def _one_batch(
        self,
        service: Any,
        chunk: Sequence[tuple[str, Callable[[], Any]]],
        name: str,
        missing: tuple[int, ...],
    ) -> _BatchOutcome:
        outcome = _BatchOutcome({}, [], None)
        makers = dict(chunk)
        errors: dict[str, BaseException] = {}

        def collect(request_id: str, response: Any, exception: BaseException | None) -> None:
            if exception is None:
                outcome.done[request_id] = response
            else:
                errors[request_id] = exception

        batch = service.new_batch_http_request(callback=collect)
        for request_id, make in chunk:
            batch.add(make(), request_id=request_id)
        self.quota.acquire(self.cost(name) * len(chunk))
        try:
            batch.execute()
        except _CAUGHT as err:
            error = translate(err, f"batch of {name}")
            if not isinstance(error, TransientError):
                raise error from err
            outcome.retry.extend(chunk)
            outcome.error = error
            return outcome
        for request_id, exception in errors.items():
            if isinstance(exception, HttpError) and exception.resp.status in missing:
                continue
            error = translate(exception, name)
            if not isinstance(error, TransientError):
                raise error from exception
            outcome.retry.append((request_id, makers[request_id]))
            if outcome.error is None or (error.retry_after or 0) > (outcome.error.retry_after or 0):
                outcome.error = error
        return outcome


@dataclass
class _BatchOutcome:
    done: dict[str, Any]
    retry: list[tuple[str, Callable[[], Any]]]
    error: TransientError | None


def http_status(err: BaseException) -> int | None:
    """The HTTP status of a Google client error, None for anything else."""
    cause = err.__cause__ if isinstance(err, OutreachError) else err
    if isinstance(cause, HttpError):
        return int(cause.resp.status)
    return None
