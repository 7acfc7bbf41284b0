"""Talking to Microsoft Graph: one thin client that authorizes, throttles itself and
translates every failure into the project's errors at the boundary.

- Authorization: ``token(force)`` returns an access token (``connectors.outlook_auth``
  builds it on msal's cache); a 401 refreshes once and tries again, a second 401 is an
  ``AuthError``. The token source raises ``AuthError`` when Entra answers
  ``invalid_grant`` or ``interaction_required``.
- Graph's per-mailbox limits: at most ``concurrency`` (4) requests in flight from this
  process to one ``mailbox`` (every client of that mailbox shares the slots), and each
  request takes one unit from ``quota`` first (``connectors.outlook_open`` gives a token
  bucket at 90% of 10,000 requests per 10 minutes, shared through Redis when the broker
  is Redis). 429 and 503 are retried after their ``Retry-After`` while that is at most
  ``max_wait`` seconds and attempts remain, then become ``TransientError(retry_after)``
  for the queue to retry. Other 5xx, time-outs and dropped connections are
  ``TransientError`` at once (a POST that may have taken effect is not resent here: the
  callers' operations are idempotent by key, and the queue's retry finds what was made).
- 4xx other than 401/404/410: ``PermanentError`` with Graph's error code (never a body).
- Every request asks for immutable ids (``Prefer: IdType="ImmutableId"``), so a draft keeps
  its id when it is sent and moves to Sent Items.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import requests

from connectors.quota import Quota, Unlimited
from pipeline.errors import AuthError, PermanentError, TransientError

GRAPH_REQUESTS_PER_SECOND = 10_000 / 600
"""Graph's published limit per app and mailbox: 10,000 requests per 10 minutes."""
GRAPH_ROOT = "https://graph.microsoft.com/v1.0"
BATCH_LIMIT = 20
"""Graph's most requests in one $batch."""
IMMUTABLE_IDS = 'IdType="ImmutableId"'


class TokenSource(Protocol):
    def __call__(self, force_refresh: bool = False) -> str: ...


class Gone(Exception):
    """410 Gone: a delta link expired; the caller starts a new round."""


class GraphClient:
    """``request`` returns the decoded JSON (or bytes for ``raw=True``), None for a 404 when
    ``missing_ok``; raises the project's errors otherwise."""

    def __init__(
        self,
        session: requests.Session,
        token: TokenSource,
        *,
        timeout: float = 30.0,
        concurrency: int = 4,
        mailbox: str | None = None,
        max_wait: float = 30.0,
        attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        quota: Quota | None = None,
    ) -> None:
        self.session = session
        self.quota = quota or Unlimited()
        self.token = token
        self.timeout = timeout
        self.max_wait = max_wait
        self.attempts = attempts
        self.sleep = sleep
        self._slots = _slots(mailbox, concurrency)

    def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        missing_ok: bool = False,
        raw: bool = False,
    ) -> Any:
        target = url if url.startswith("https://") else GRAPH_ROOT + url
        refreshed = False
        for attempt in range(1, self.attempts + 1):
            answer = self._send(method, target, json, data, params, headers, refreshed)
            status = answer.status_code
            if status == 401 and not refreshed:
                refreshed = True
                continue
            if status in (429, 503):
                wait = _retry_after(answer)
                if wait <= self.max_wait and attempt < self.attempts:
                    self.sleep(wait)
                    continue
                raise TransientError(
                    f"Microsoft Graph asks to wait ({status} {_code(answer)})", retry_after=wait
                )
            return self._result(answer, missing_ok=missing_ok, raw=raw)
        raise TransientError("Microsoft Graph kept refusing the request; try again later")

    def get_many(
        self,
        urls: Mapping[str, str],
        prefer: str = "",
        *,
        raw: bool = False,
        missing_ok: bool = False,
    ) -> dict[str, Any]:
        """GET each of ``urls`` (name -> URL) through ``$batch``, at most 20 to a request;
        return name -> the decoded answer (``raw``: the bytes, which a batch carries in
        base64), a ``Gone`` for a 410, or None for a 404 when ``raw`` or ``missing_ok``.
        The answers come back in any order; one that was throttled or refused for its
        token is asked again on its own (``request`` waits and refreshes as usual)."""
        results: dict[str, Any] = {}
        names = list(urls)
        for start in range(0, len(names), BATCH_LIMIT):
            chunk = names[start : start + BATCH_LIMIT]
            parts = [
                {
                    "id": str(number),
                    "method": "GET",
                    "url": _relative(urls[name]),
                    "headers": {"Prefer": ", ".join(p for p in (IMMUTABLE_IDS, prefer) if p)},
                }
                for number, name in enumerate(chunk)
            ]
            answer = self.request("POST", "/$batch", json={"requests": parts})
            wait = 0.0
            for response in (answer or {}).get("responses") or []:
                name = chunk[int(response["id"])]
                status = int(response.get("status") or 500)
                if status < 300:
                    body = response.get("body")
                    results[name] = base64.b64decode(body or "") if raw else (body or {})
                elif status == 404 and (raw or missing_ok):
                    results[name] = None
                elif status == 410:
                    results[name] = Gone(str(status))
                elif status in (429, 503):
                    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
                    wait = max(wait, _seconds(headers.get("retry-after")))
                elif status < 500 and status != 401:
                    code = ((response.get("body") or {}).get("error") or {}).get("code")
                    raise PermanentError(f"Microsoft Graph refused the request ({status} {code})")
            if wait > self.max_wait:
                raise TransientError("Microsoft Graph asks to wait (429)", retry_after=wait)
            if wait:
                self.sleep(wait)
            for name in chunk:
                if name not in results:
                    try:
                        results[name] = self.request(
                            "GET",
                            urls[name],
                            headers={"Prefer": prefer},
                            raw=raw,
                            missing_ok=raw or missing_ok,
                        )
                    except Gone as err:
                        results[name] = err
        return results

    def delta_round(
        self, url: str, params: Mapping[str, str] | None, prefer: str
    ) -> tuple[list[dict[str, Any]], str]:
        """Follow a delta query's ``@odata.nextLink`` pages to its ``@odata.deltaLink``;
        return every item and that link."""
        items: list[dict[str, Any]] = []
        while True:
            page = self.request("GET", url, params=params, headers={"Prefer": prefer})
            items.extend(page.get("value") or [])
            if not page.get("@odata.nextLink"):
                return items, str(page["@odata.deltaLink"])
            url, params = page["@odata.nextLink"], None

    def _send(
        self,
        method: str,
        url: str,
        json: Any,
        data: bytes | None,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        force_refresh: bool,
    ) -> requests.Response:
        extra = dict(headers or {})
        prefer = ", ".join(p for p in (IMMUTABLE_IDS, extra.pop("Prefer", "")) if p)
        sent = {"Authorization": f"Bearer {self.token(force_refresh)}", "Prefer": prefer, **extra}
        self.quota.acquire(1)
        with self._slots:
            try:
                return self.session.request(
                    method,
                    url,
                    json=json,
                    data=data,
                    params=params,
                    headers=sent,
                    timeout=self.timeout,
                )
            except requests.Timeout as err:
                raise TransientError("Microsoft Graph did not answer in time") from err
            except requests.RequestException as err:
                raise TransientError(
                    f"Microsoft Graph could not be reached ({type(err).__name__})"
                ) from err

    @staticmethod
    def _result(answer: requests.Response, *, missing_ok: bool, raw: bool) -> Any:
        status = answer.status_code
        if status < 300:
            if raw:
                return answer.content
            return answer.json() if answer.content else None
        code = _code(answer)
        if status == 401:
            raise AuthError(
                f"Microsoft Graph refused the account's authorization ({code}); "
                "run `outreach accounts add outlook` again"
            )
        if status == 404 and missing_ok:
            return None
        if status == 410:
            raise Gone(code)
        if status >= 500:
            raise TransientError(f"Microsoft Graph failed ({status} {code})")
        raise PermanentError(f"Microsoft Graph refused the request ({status} {code})")


_SLOTS: dict[str, threading.BoundedSemaphore] = {}
_SLOTS_LOCK = threading.Lock()


def _slots(mailbox: str | None, concurrency: int) -> threading.BoundedSemaphore:
    """The in-flight slots of one mailbox in this process (a client's own when None)."""
    if mailbox is None:
        return threading.BoundedSemaphore(concurrency)
    with _SLOTS_LOCK:
        return _SLOTS.setdefault(mailbox.lower(), threading.BoundedSemaphore(concurrency))


def _relative(url: str) -> str:
    return url[len(GRAPH_ROOT) :] if url.startswith(GRAPH_ROOT) else url


def _retry_after(answer: requests.Response) -> float:
    return _seconds(answer.headers.get("Retry-After"))


def _seconds(value: str | None) -> float:
    try:
        return max(0.0, float(value or ""))
    except ValueError:
        return 1.0


def _code(answer: requests.Response) -> str:
    try:
        error = answer.json().get("error") or {}
    except ValueError:
        return "no error code"
    return str(error.get("code") or "no error code") if isinstance(error, dict) else str(error)
