"""The Outlook mailbox over Microsoft Graph (the ``Mailbox`` port); see connectors.outlook."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from connectors._graph_http import Gone, GraphClient
from connectors._ledger import DraftLedger, MemoryLedger, Record
from connectors._mime import (
    ensure_delivery_headers,
    ensure_self_only,
    msgids,
    prepare_draft,
    to_bytes,
)
from connectors.base import (
    KEY_HEADER,
    DraftRef,
    MailChange,
    MailChangeKind,
    ThreadRef,
)
from connectors.outlook_common import (
    _FOLDERS,
    _MAIL_CURSOR,
    _RECENT,
    _SELECT,
    DIGEST_HEADER,
    DISCARDED_PROPERTY_ID,
    KEY_PROPERTY_ID,
    MESSAGE_FLAGS,
    _decode,
    _encode,
    _first,
    _headers,
    _judged_url,
    _key_filter,
    _marks,
    _time,
)
from pipeline.clock import Clock, system_clock


class OutlookMailbox:
    """The person's Outlook mailbox over Graph (see connectors.outlook)."""

    def __init__(
        self,
        address: str,
        client: GraphClient,
        *,
        ledger: DraftLedger | None = None,
        clock: Clock = system_clock,
        page_size: int = 50,
    ) -> None:
        self._address = address
        self.client = client
        self.ledger = ledger or MemoryLedger()
        self.clock = clock
        self.page_size = page_size
        self._drafts_folder: str | None = None
        self._index: dict[str, tuple[str, Record]] | None = None  # the ledger, per sync

    @property
    def address(self) -> str:
        return self._address

    # -- reading ------------------------------------------------------------------------------

    def changes(self, cursor: str | None) -> tuple[list[MailChange], str]:
        state = _decode(cursor, _MAIL_CURSOR)
        now = self.clock()
        if state is None or not all(isinstance(state.get(f), str) for f in _FOLDERS):
            links = {folder: self._delta_round(folder, None)[1] for folder in _FOLDERS}
            return [], _encode({**links, "at": now.isoformat()}, _MAIL_CURSOR)
        since = _time(state.get("at"))
        self._index = None
        found: list[MailChange | None] = []
        links = {}
        prefer = f"odata.maxpagesize={self.page_size}"
        first = self.client.get_many({folder: state[folder] for folder in _FOLDERS}, prefer)
        for folder in _FOLDERS:
            page = first[folder]
            if isinstance(page, Gone):
                items, links[folder] = self._delta_round(folder, None)
                if folder == "drafts":
                    found.extend(self._missing_drafts(items, since or now, now))
                items = self._since(items, since or now)
            elif page.get("@odata.nextLink"):
                more, links[folder] = self.client.delta_round(page["@odata.nextLink"], None, prefer)
                items = [*(page.get("value") or []), *more]
            else:
                items, links[folder] = page.get("value") or [], str(page["@odata.deltaLink"])
            found.extend(self._interpret(folder, item, now) for item in items)
        changes = [c for c in found if c is not None]
        changes.sort(key=lambda c: c.at or now)
        return changes, _encode({**links, "at": now.isoformat()}, _MAIL_CURSOR)

    @staticmethod
    def _since(items: list[dict[str, Any]], since: datetime) -> list[dict[str, Any]]:
        """The items of a new round that arrived at or after the old round (Graph counts
        whole seconds: one at the boundary may come again, which callers skip by id)."""
        floor = since.replace(microsecond=0)
        return [i for i in items if (_time(i.get("receivedDateTime")) or floor) >= floor]

    def _delta_round(self, folder: str, link: str | None) -> tuple[list[dict[str, Any]], str]:
        url = link or f"/me/mailFolders/{folder}/messages/delta"
        params = None if link else {"$select": _SELECT}
        return self.client.delta_round(url, params, f"odata.maxpagesize={self.page_size}")

    def _interpret(self, folder: str, item: dict[str, Any], now: datetime) -> MailChange | None:
        provider_id = str(item["id"])
        if "@removed" in item:
            return self._removed_draft(provider_id, now) if folder == "drafts" else None
        if folder == "drafts" or item.get("isDraft"):
            return None
        headers = _headers(item)
        if DIGEST_HEADER.lower() in headers:
            return None
        message_id = item.get("internetMessageId") or headers.get("message-id")
        record = self._record_for(provider_id, message_id)
        key = headers.get(KEY_HEADER.lower()) or (record[0] if record else None)
        in_reply_to = _first(headers.get("in-reply-to"))
        references = msgids(headers.get("references"))
        if record and not in_reply_to:
            in_reply_to = record[1].get("in_reply_to")
            references = tuple(record[1].get("references") or ())
        sent = folder == "sentitems"
        if sent and key is None:
            key = self._key_of(provider_id)
        listed = [
            str((r.get("emailAddress") or {}).get("address") or "").strip().lower()
            for name in ("toRecipients", "ccRecipients", "bccRecipients")
            for r in item.get(name) or []
        ]
        return MailChange(
            MailChangeKind.SENT if sent else MailChangeKind.INBOUND,
            provider_id,
            message_id,
            item.get("conversationId"),
            in_reply_to,
            references,
            key=key if sent else None,
            at=_time(item.get("sentDateTime" if sent else "receivedDateTime")) or now,
            recipients=tuple(dict.fromkeys(a for a in listed if "@" in a)),
        )

    def _removed_draft(self, provider_id: str, now: datetime) -> MailChange | None:
        """A draft left Drafts: sent (Sent Items reports it), or deleted by the person. Our
        key is read from the item itself when it still exists (in Deleted Items), so any
        machine can tell; the ledger covers a draft deleted for good."""
        current = self.client.request("GET", _judged_url(provider_id), missing_ok=True)
        return self._judge(provider_id, current, now, None)

    def _missing_drafts(
        self, present: list[dict[str, Any]], since: datetime, now: datetime
    ) -> list[MailChange]:
        """After Drafts' delta link expired: our drafts of the last ``_RECENT`` that are no
        longer there, looked at twenty to a batch; a deletion is reported when the item
        changed after the old round (a hard-deleted draft cannot be dated and is left)."""
        here = {str(item["id"]) for item in present}
        recent = (now - _RECENT).isoformat()
        candidates = [
            str(data["draft_id"])
            for data in self.ledger.all().values()
            if data.get("state") == "draft"
            and data.get("draft_id")
            and str(data["draft_id"]) not in here
            and str(data.get("created") or recent) >= recent
        ]
        urls = {pid: _judged_url(pid) for pid in candidates}
        found = self.client.get_many(urls, missing_ok=True) if urls else {}
        judged = [self._judge(pid, found.get(pid), now, since) for pid in candidates]
        return [change for change in judged if change is not None]

    def _judge(
        self, provider_id: str, current: Any, now: datetime, since: datetime | None
    ) -> MailChange | None:
        record = self._record_for(provider_id, None)
        data: Record = dict(record[1]) if record else {}
        key = record[0] if record else None
        if since is not None and not isinstance(current, dict):
            return None  # gone for good: when is unknown
        if isinstance(current, dict):
            if not current.get("isDraft") or current.get("parentFolderId") == self._drafts_id():
                return None  # sent, or back in Drafts
            changed = _time(current.get("lastModifiedDateTime"))
            if since is not None and changed is not None and changed < since.replace(microsecond=0):
                return None  # deleted before the old round: reported then
            marks = _marks(current)
            if DISCARDED_PROPERTY_ID.lower() in marks:
                return None
            key = key or marks.get(KEY_PROPERTY_ID.lower())
            data.setdefault("message_id", current.get("internetMessageId"))
            data.setdefault("thread_id", current.get("conversationId"))
        if not key or data.get("state") == "discarded":
            return None
        return MailChange(
            MailChangeKind.DRAFT_DELETED,
            provider_id,
            data.get("message_id"),
            data.get("thread_id"),
            data.get("in_reply_to"),
            tuple(data.get("references") or ()),
            key=key,
            at=now,
        )

    def _key_of(self, provider_id: str) -> str | None:
        """Our key on a message, read from its extended property (a sent message whose
        header was dropped, made by a process whose ledger this one cannot see)."""
        item = self.client.request(
            "GET",
            f"/me/messages/{provider_id}",
            params={
                "$select": "id",
                "$expand": f"singleValueExtendedProperties($filter=id eq '{KEY_PROPERTY_ID}')",
            },
            missing_ok=True,
        )
        for prop in (item or {}).get("singleValueExtendedProperties") or []:
            if str(prop.get("id", "")).lower() == KEY_PROPERTY_ID.lower():
                return str(prop.get("value"))
        return None

    def _record_for(self, provider_id: str, message_id: str | None) -> tuple[str, Record] | None:
        if self._index is None:
            self._index = {}
            for key, data in self.ledger.all().items():
                for field in ("draft_id", "message_id"):
                    if data.get(field):
                        self._index[str(data[field])] = (key, data)
        return self._index.get(provider_id) or (self._index.get(message_id) if message_id else None)

    def _drafts_id(self) -> str:
        if self._drafts_folder is None:
            folder = self.client.request("GET", "/me/mailFolders/drafts", params={"$select": "id"})
            self._drafts_folder = str(folder["id"])
        return self._drafts_folder

    def fetch_raw(self, provider_ids: Sequence[str]) -> dict[str, bytes]:
        """The MIME of each message (``$value``), 20 to a ``$batch``."""
        urls = {pid: f"/me/messages/{pid}/$value" for pid in dict.fromkeys(provider_ids)}
        fetched = self.client.get_many(urls, raw=True)
        return {pid: raw for pid, raw in fetched.items() if isinstance(raw, bytes)}

    # -- drafts ------------------------------------------------------------------------------

    def find_draft(self, key: str) -> DraftRef | None:
        item = self._find(key)
        return None if item is None else self._ref(item)

    def _find(self, key: str) -> dict[str, Any] | None:
        found = self.client.request(
            "GET",
            "/me/messages",
            params={
                "$filter": _key_filter(key),
                "$select": "id,internetMessageId,conversationId,isDraft,parentFolderId",
            },
        )
        drafts = self._drafts_id()
        for item in found.get("value") or []:
            if not item.get("isDraft") or item.get("parentFolderId") == drafts:
                return dict(item)
        return None

    @staticmethod
    def _ref(item: dict[str, Any]) -> DraftRef:
        return DraftRef(
            str(item["id"]), str(item.get("internetMessageId") or ""), item.get("conversationId")
        )

    def create_draft(self, message: EmailMessage, key: str, thread: ThreadRef | None) -> DraftRef:
        existing = self._find(key)
        if existing is not None:
            return self._ref(existing)
        draft = prepare_draft(message, key, thread, self._address)
        message_id = str(draft["Message-ID"])
        record: Record = {
            "state": "creating",
            "created": self.clock().isoformat(),
            "message_id": message_id,
            "in_reply_to": _first(str(draft.get("In-Reply-To") or "")),
            "references": list(msgids(str(draft.get("References") or ""))),
        }
        healed = self._unmarked(self.ledger.get(key))
        self.ledger.put(key, record)
        marker = {"singleValueExtendedProperties": [{"id": KEY_PROPERTY_ID, "value": key}]}
        if healed is not None:
            created = self.client.request("PATCH", f"/me/messages/{healed}", json=marker)
        elif thread is not None and thread.reply_to_id:
            created = self._reply(draft, key, thread.reply_to_id)
        else:
            created = self.client.request(
                "POST",
                "/me/messages",
                data=base64.b64encode(to_bytes(draft)),
                headers={"Content-Type": "text/plain"},
            )
            created = self.client.request("PATCH", f"/me/messages/{created['id']}", json=marker)
        ref = self._ref(created)
        record.update(state="draft", draft_id=ref.draft_id, thread_id=ref.thread_id)
        record["message_id"] = ref.message_id or message_id
        self.ledger.put(key, record)
        return ref

    def _unmarked(self, record: Record | None) -> str | None:
        """The id of a draft created before a crash that kept it from being marked (still
        in Drafts: one the person deleted since is theirs to keep deleted)."""
        if not record or record.get("state") != "creating" or not record.get("message_id"):
            return None
        escaped = str(record["message_id"]).replace("'", "''")
        found = self.client.request(
            "GET",
            "/me/messages",
            params={
                "$filter": f"internetMessageId eq '{escaped}'",
                "$select": "id,isDraft,parentFolderId",
            },
        )
        drafts = self._drafts_id()
        for item in found.get("value") or []:
            if item.get("isDraft") and item.get("parentFolderId") == drafts:
                return str(item["id"])
        return None

    def _reply(self, draft: EmailMessage, key: str, parent_id: str) -> Any:
        body = draft.get_body(("html", "plain"))
        content = body.get_content() if body is not None else ""
        subtype = body.get_content_subtype() if body is not None else "plain"

        def listed(name: str) -> list[dict[str, Any]]:
            values = [str(v) for v in draft.get_all(name, [])]
            return [{"emailAddress": {"address": a}} for _, a in getaddresses(values) if a]

        return self.client.request(
            "POST",
            f"/me/messages/{parent_id}/createReply",
            json={
                "message": {
                    "subject": str(draft.get("Subject") or ""),
                    "body": {
                        "contentType": "html" if subtype == "html" else "text",
                        "content": content,
                    },
                    "toRecipients": listed("To"),
                    "ccRecipients": listed("Cc"),
                    "internetMessageHeaders": [{"name": KEY_HEADER, "value": key}],
                    "singleValueExtendedProperties": [{"id": KEY_PROPERTY_ID, "value": key}],
                }
            },
        )

    def discard_draft(self, key: str) -> bool:
        item = self._find(key)
        if item is None or not item.get("isDraft"):
            return False
        record = self.ledger.get(key) or {}
        self.ledger.put(key, {**record, "state": "discarded", "draft_id": item["id"]})
        mark = {"singleValueExtendedProperties": [{"id": DISCARDED_PROPERTY_ID, "value": key}]}
        if self.client.request("PATCH", f"/me/messages/{item['id']}", json=mark, missing_ok=True):
            self.client.request("DELETE", f"/me/messages/{item['id']}", missing_ok=True)
        return True

    def deliver_to_self(self, message: EmailMessage) -> str:
        ensure_self_only(message, self._address)
        digest = ensure_delivery_headers(message, self._address, self.clock())
        body = digest.get_body(("html", "plain"))
        subtype = body.get_content_subtype() if body is not None else "plain"
        created = self.client.request(
            "POST",
            "/me/mailFolders/inbox/messages",
            json={
                "subject": str(digest.get("Subject") or ""),
                "body": {
                    "contentType": "html" if subtype == "html" else "text",
                    "content": body.get_content() if body is not None else "",
                },
                "from": {"emailAddress": {"address": self._address}},
                "toRecipients": [{"emailAddress": {"address": self._address}}],
                "internetMessageHeaders": [{"name": DIGEST_HEADER, "value": "1"}],
                "singleValueExtendedProperties": [{"id": MESSAGE_FLAGS, "value": "1"}],
            },
        )
        return str(created["id"])
