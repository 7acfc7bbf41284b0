"""A local emulator of Microsoft Graph (mail and calendar) and of the Microsoft identity
platform's endpoints that msal uses (login.microsoftonline.com).

The real clients (msal, requests) reach it through ``RoutedSession``, which rewrites the
real hosts to the emulator and passes the original one in ``X-Forwarded-Host``, so every
URL the emulator answers with (delta links, next links, token endpoints) is the absolute
https URL Graph or Entra would give (PROVIDERS.md).

- Identity (``/{tenant}/...``): ``v2.0/.well-known/openid-configuration``,
  ``/common/discovery/instance``, ``oauth2/v2.0/authorize`` (the person signs in at once:
  a page that posts the code back to the loopback redirect, ``response_mode=form_post``),
  ``oauth2/v2.0/devicecode``, ``oauth2/v2.0/token`` (grants ``refresh_token``,
  ``device_code`` with ``authorization_pending`` until the person approves,
  ``authorization_code`` with its PKCE verifier checked). Answers carry access and refresh tokens,
  ``client_info`` and an unsigned id token whose ``aud`` is the client id. ``revoke``
  makes refreshing answer ``invalid_grant`` or ``interaction_required``.
- Graph (``/v1.0/me...``): the user; messages (list with ``$filter`` on a single-value
  extended property or ``internetMessageId``, ``$select``, ``$expand`` of extended
  properties; get; ``$value``; create from JSON or from base64 MIME; create in a folder;
  patch; delete, which moves to Deleted Items; ``createReply``); a folder by well-known
  name; per-folder message ``delta`` (``@odata.nextLink`` paging by
  ``Prefer: odata.maxpagesize``, ``@odata.deltaLink``, ``@removed`` entries, 410 for an
  expired link); events (list with an extended-property ``$filter``, create, patch,
  delete) and ``calendarView/delta`` over a window; ``$batch`` of up to 20 requests,
  each answered on its own (authorized, throttled, faulted; a body that is not JSON in
  base64), the answers in reverse order. Ids are immutable: a sent draft keeps its id,
  and events are created once per ``transactionId``.
- Errors in Graph's envelope ``{"error": {"code", "message", "innerError"}}``; throttling
  as Graph does it: at most ``max_concurrent`` (4) requests in flight per mailbox and
  ``requests_per_window`` per ``window_seconds`` (10,000 per 600 s), answered 429
  ``ApplicationThrottled`` with Retry-After.

Threading (an assumption, not verified against Exchange): a message created from MIME or
received joins the conversation of the message its In-Reply-To or References name, when
that message is in the mailbox; ``createReply`` always stays in the conversation.

The other side (tests play it): ``receive``, ``send_draft``, ``delete_draft``,
``add_event``, ``move_event``, ``cancel_event``, ``remove_event``, ``approve_device_code``,
``revoke``, ``expire_delta_links``, ``expire_access_tokens``, plus the core's faults and
latency; ``graph_requests`` (HTTP requests) and ``graph_calls`` (a batch's parts one by
one) read the log.
"""

from __future__ import annotations

from tests.emulators.core import loopback_only
from tests.emulators.graph._wire import (
    GRAPH,
    GRAPH_HOSTS,
    KEY_PROPERTY_ID,
    LOGIN,
    MESSAGE_FLAGS,
    TENANT_ID,
)
from tests.emulators.graph.clients import MemoryTokenStore, RoutedSession, graph_client, sign_in
from tests.emulators.graph.server import GraphEmulator

__all__ = [
    "GRAPH",
    "GRAPH_HOSTS",
    "KEY_PROPERTY_ID",
    "LOGIN",
    "MESSAGE_FLAGS",
    "TENANT_ID",
    "GraphEmulator",
    "MemoryTokenStore",
    "RoutedSession",
    "graph_client",
    "loopback_only",
    "sign_in",
]
