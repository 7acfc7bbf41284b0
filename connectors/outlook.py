"""Outlook and Microsoft 365 mail and calendar through Microsoft Graph.

``OutlookMailbox`` (the ``Mailbox`` port):

- ``changes``: a delta round per folder (Sent Items, Inbox, Drafts), the three first pages
  in one ``$batch`` (a sync with nothing new is one request), following
  ``@odata.nextLink`` to the ``@odata.deltaLink``; the cursor holds the three delta links,
  so an older cursor replays the same changes. Sent Items gives ``SENT`` (our key from the
  ``X-Outreach-Key`` header, else from the ledger by immutable id or Message-ID), Inbox
  ``INBOUND`` (our digest left out), Drafts' ``@removed`` entries of OUR drafts give
  ``DRAFT_DELETED`` unless the same immutable id is now a sent message (sending moves a
  draft; it keeps its id). A delta link that expired (410) starts that folder again from
  now and reports what arrived since the cursor's round (for Drafts: our recent drafts
  that left it since then).
- ``create_draft``: finds a draft (or sent message) carrying the key first, through a
  single-value extended property that Graph can ``$filter`` on; else creates it from MIME
  (keeps our Message-ID, In-Reply-To and References) and sets the property. A reply whose
  ``ThreadRef.reply_to_id`` is known is made with ``createReply`` instead, so Outlook keeps
  it in the conversation. A crash between creating and marking is healed by the ledger's
  Message-ID. ``discard_draft`` deletes our draft while it still is one.
- ``deliver_to_self``: the digest is created in the person's own Inbox as a received
  message (PidTagMessageFlags without the unsent flag), never sent: Mail.Send is not used.

``OutlookCalendar`` (the ``Calendar`` port): ``calendarView/delta`` over a window around
now (``window_days`` back and ``horizon_days`` ahead, moved on when half the horizon has
passed), meetings as organizer or attendee;
our events carry the key and our uid in extended properties (found with ``$filter``,
read with ``$expand`` by a machine whose ledger lacks them) and are created with a
``transactionId`` derived from the key, so a retried create makes one.

All requests go through ``connectors._graph_http.GraphClient`` (errors, throttling).
"""

from __future__ import annotations

from connectors.outlook_calendar import OutlookCalendar
from connectors.outlook_common import (
    DIGEST_HEADER,
    DISCARDED_PROPERTY_ID,
    KEY_PROPERTY_ID,
    MESSAGE_FLAGS,
    UID_PROPERTY_ID,
)
from connectors.outlook_mail import OutlookMailbox

__all__ = [
    "DIGEST_HEADER",
    "DISCARDED_PROPERTY_ID",
    "KEY_PROPERTY_ID",
    "MESSAGE_FLAGS",
    "UID_PROPERTY_ID",
    "OutlookCalendar",
    "OutlookMailbox",
]
