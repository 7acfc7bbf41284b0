"""A local emulator of the Gmail API, the Google Calendar API and Google's token endpoint.

It speaks the wire formats the real client libraries (google-api-python-client over
httplib2, google-auth) use, so tests run the real clients against it (PROVIDERS.md):

- OAuth: ``POST /token`` (refresh_token grant; ``invalid_grant`` 400 for a revoked token).
  The sign-in itself (consent page, authorization-code grant, revocation) is played by
  ``tests.emulators.google.signin``, a server of its own.
  API calls need ``Authorization: Bearer <token>``; a stale token answers 401, which the
  client cures by refreshing.
- Gmail (``/gmail/v1/users/{me}/...``): ``profile``, ``messages`` list / get (raw,
  metadata, minimal, full) / insert / import, ``drafts`` create / list / get / delete,
  ``threads.get``,
  ``history`` (startHistoryId, historyTypes, pagination, 404 for an id older than the
  kept history). Search (``q``) understands ``rfc822msgid:``, ``in:``/``label:``,
  ``after:`` and ``before:``.
- Calendar (``/calendar/v3/calendars/{id}/events``): list (syncToken with 410 once
  expired, pageToken, privateExtendedProperty, iCalUID, showDeleted), get, insert (409 for
  a duplicate id), patch, update, delete (410 when already deleted).
- Batch: ``POST /batch``, ``/batch/gmail/v1``, ``/batch/calendar/v3`` (multipart/mixed of
  ``application/http`` parts; answers carry ``Content-ID: <response-...>``).

Errors use Google's envelope ``{"error": {"code", "message", "errors": [{"reason",
"domain", "message"}], "status"}}``. History ids only grow; a new thread's id is the id of
its first message, and a message joins a thread only as Gmail threads (the thread id given
with matching In-Reply-To/References and Subject; received mail by headers and Subject).

What tests and benchmarks get besides the API: state to seed and inspect (``receive``,
``send_draft``, ``edit_draft``, ``delete_draft``, ``add_event``, ``move_event``,
``cancel_event``, ``remove_event``, ...), a log of every request (``requests``), a
per-user quota in units per second answered with 429 and Retry-After, fault injection
(``fail_next``: any status, ``drop_next``: a dropped connection before or after the work
is done, ``stall_next``: a response slower than the client's time-out), ``expire_history``,
``expire_sync_tokens``, ``expire_access_tokens``, ``revoke_refresh_token``, and a fixed
``latency`` per HTTP request. Headers are read case-insensitively (httplib2 lower-cases).

One emulator serves one person (``address``); "me" and the address both name them.

Modules: ``server`` (state, knobs, dispatch, OAuth, quota, batch), ``gmail`` and
``calendar`` (each API's handlers and the other side of it), ``_wire`` (what they share),
``routing`` (the real clients pointed at the emulator).
"""

from __future__ import annotations

from tests.emulators.core import LoggedRequest, loopback_only
from tests.emulators.google._wire import GMAIL_UNITS, ApiError, b64url, unb64url
from tests.emulators.google.routing import GOOGLE_HOSTS, RoutedHttp, authorized_http, credentials
from tests.emulators.google.server import GoogleEmulator

__all__ = [
    "GMAIL_UNITS",
    "GOOGLE_HOSTS",
    "ApiError",
    "GoogleEmulator",
    "LoggedRequest",
    "RoutedHttp",
    "authorized_http",
    "b64url",
    "credentials",
    "loopback_only",
    "unb64url",
]
