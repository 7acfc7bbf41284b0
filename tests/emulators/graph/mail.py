"""Mail: the person's side of the mailbox and the /me/messages handlers."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import parseaddr

from tests.emulators.core import (
    JSON,
    Answer,
    header_value,
)
from tests.emulators.graph._wire import (
    _MSGID,
    KEY_PROPERTY_ID,
    MESSAGE_FLAGS,
    GraphError,
    _apply,
    _expanded,
    _folder_id,
    _folder_name,
    _iso,
    _matches,
    _Message,
    _mime_of,
    _properties,
    _recipients,
    _Request,
)
from tests.emulators.graph.delta import DeltaSide


class MailSide(DeltaSide):
    """Messages, folders, drafts, replies; what the person does in Outlook."""

    def receive(self, raw: bytes, at: datetime | None = None) -> str:
        """A message arrives in the inbox; returns its id."""
        with self._lock:
            return self._add("inbox", raw, is_draft=False, at=at)

    def send_draft(self, key: str, edit: Callable[[EmailMessage], None] | None = None) -> str:
        """The person sends our draft from Outlook (edited first, when ``edit``): the item
        keeps its id and moves to Sent Items."""
        with self._lock:
            found = self._by_key(key)
            if edit is not None:
                message = found.parsed()
                edit(message)
                found.raw = message.as_bytes(policy=policy.SMTP)
            found.is_draft = False
            found.sent = self.now()
            self._move(found, "sentitems")
            return found.id

    def person_sends(self, raw: bytes) -> str:
        """The person writes and sends a message of their own (or a copy of a draft they
        deleted): it lands in Sent Items. Returns its id."""
        with self._lock:
            return self._add("sentitems", raw, is_draft=False, at=None)

    def delete_draft(self, key: str) -> None:
        """The person deletes our draft: it moves to Deleted Items."""
        with self._lock:
            self._move(self._by_key(key), "deleteditems")

    def empty_deleted_items(self) -> None:
        """The person empties Deleted Items: what is there is gone for good."""
        with self._lock:
            for found in self._in("deleteditems"):
                del self._messages[found.id]
                self._change("deleteditems", found.id)

    def folder(self, name: str) -> list[EmailMessage]:
        with self._lock:
            return [m.parsed() for m in self._in(name)]

    def message(self, message_id: str) -> _Message:
        with self._lock:
            return self._messages[message_id]

    def _me(self, request: _Request) -> Answer:
        return Answer.json(
            200,
            {
                "id": "66f3-3332eca7ea81",
                "displayName": "Me",
                "mail": self.address,
                "userPrincipalName": self.address,
            },
        )

    def _folder(self, request: _Request, name: str) -> Answer:
        folder = _folder_name(name)
        return Answer.json(
            200,
            {
                "id": _folder_id(folder),
                "displayName": folder,
                "totalItemCount": len(self._in(folder)),
            },
        )

    def _list(self, request: _Request) -> Answer:
        items = [m for m in self._messages.values() if _matches(m, request.param("$filter"))]
        top = int(request.param("$top") or 10)
        return Answer.json(200, {"value": [self._json(m, request) for m in items[:top]]})

    def _get(self, request: _Request, message_id: str) -> Answer:
        return Answer.json(200, self._json(self._message(message_id), request))

    def _value(self, request: _Request, message_id: str) -> Answer:
        return Answer(200, self._message(message_id).raw, {"Content-Type": "text/plain"})

    def _create_draft(self, request: _Request) -> Answer:
        return self._create(request, "drafts")

    def _create(self, request: _Request, name: str) -> Answer:
        folder = _folder_name(name)
        content_type = (header_value(request.headers, "content-type") or "").lower()
        if content_type.startswith("text/plain"):
            try:
                raw = base64.b64decode(request.body, validate=True)
            except binascii.Error as err:
                raise GraphError(400, "Invalid base64 string for MIME content.") from err
            message_id = self._add(folder, raw, is_draft=True)
            return Answer.json(201, self._json(self._messages[message_id], request))
        data = request.json()
        properties = _properties(data)
        flags = properties.pop(MESSAGE_FLAGS, None)
        is_draft = flags is None or bool(int(flags) & 8)
        message_id = self._add(folder, _mime_of(data, self.address), is_draft=is_draft)
        self._messages[message_id].properties.update(properties)
        return Answer.json(201, self._json(self._messages[message_id], request))

    def _reply(self, request: _Request, parent_id: str) -> Answer:
        parent = self._message(parent_id)
        original = parent.parsed()
        data = request.json().get("message") or {}
        reply = EmailMessage()
        reply["From"] = self.address
        sender = original.get("Reply-To") or original.get("From") or ""
        reply["To"] = str(sender)
        subject = str(original.get("Subject") or "")
        reply["Subject"] = subject if subject.lower().startswith("re:") else f"RE: {subject}"
        parent_msgid = parent.message_id()
        if parent_msgid:
            chain = _MSGID.findall(str(original.get("References") or ""))
            reply["In-Reply-To"] = parent_msgid
            reply["References"] = " ".join([*chain, parent_msgid])
        reply.set_content("\r\n")
        raw = _apply(reply, data, self.address)
        message_id = self._add("drafts", raw, is_draft=True, conversation=parent.conversation_id)
        self._messages[message_id].properties.update(_properties(data))
        return Answer.json(201, self._json(self._messages[message_id], request))

    def _patch(self, request: _Request, message_id: str) -> Answer:
        found = self._message(message_id)
        data = request.json()
        if set(data) - {"singleValueExtendedProperties"} and not found.is_draft:
            raise GraphError(400, "Only drafts can be changed.", "ErrorInvalidRequest")
        found.properties.update(_properties(data))
        found.modified = self.now()
        rest = {k: v for k, v in data.items() if k != "singleValueExtendedProperties"}
        if rest:
            found.raw = _apply(found.parsed(), rest, self.address)
        self._change(found.folder, found.id)
        return Answer.json(200, self._json(found, request))

    def _delete(self, request: _Request, message_id: str) -> Answer:
        found = self._message(message_id)
        if found.folder == "deleteditems":
            del self._messages[found.id]
            self._change("deleteditems", found.id)
        else:
            self._move(found, "deleteditems")
        return Answer(204)

    def _json(self, found: _Message, request: _Request) -> JSON:
        message = found.parsed()
        headers = [
            {"name": name, "value": str(value)}
            for name, value in message.items()
            if name.lower().startswith("x-")
            or name.lower() in ("in-reply-to", "references", "message-id")
        ]
        sender = parseaddr(str(message.get("From") or ""))
        body_part = message.get_body(("html", "plain"))
        content = body_part.get_content() if body_part is not None else ""
        data: JSON = {
            "id": found.id,
            "createdDateTime": _iso(found.received),
            "lastModifiedDateTime": _iso(found.modified or found.received),
            "receivedDateTime": _iso(found.received),
            "sentDateTime": _iso(found.sent or found.received),
            "subject": str(message.get("Subject") or ""),
            "isDraft": found.is_draft,
            "isRead": not found.is_draft,
            "conversationId": found.conversation_id,
            "internetMessageId": found.message_id(),
            "parentFolderId": _folder_id(found.folder),
            "from": {"emailAddress": {"name": sender[0], "address": sender[1]}},
            "toRecipients": _recipients(message, "To"),
            "ccRecipients": _recipients(message, "Cc"),
            "bccRecipients": _recipients(message, "Bcc"),
            "body": {
                "contentType": "html"
                if body_part is not None and body_part.get_content_subtype() == "html"
                else "text",
                "content": content,
            },
            "internetMessageHeaders": headers,
        }
        selected = request.param("$select")
        if selected:
            keep = {s.strip() for s in selected.split(",")} | {"id"}
            data = {k: v for k, v in data.items() if k in keep}
        elif found.is_draft or found.folder == "sentitems":
            data.pop("internetMessageHeaders")  # Graph returns them on $select only
        data.update(_expanded(found.properties, request))
        return data

    def _message(self, message_id: str) -> _Message:
        found = self._messages.get(message_id)
        if found is None:
            raise GraphError(404, "The specified object was not found in the store.")
        return found

    def _in(self, folder: str) -> list[_Message]:
        return [m for m in self._messages.values() if m.folder == folder]

    def _by_key(self, key: str) -> _Message:
        for found in self._messages.values():
            if found.properties.get(KEY_PROPERTY_ID) == key and found.folder == "drafts":
                return found
        raise AssertionError(f"no draft with key {key!r}")

    def _add(
        self,
        folder: str,
        raw: bytes,
        *,
        is_draft: bool,
        at: datetime | None = None,
        conversation: str | None = None,
    ) -> str:
        message_id = f"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A{next(self._ids):08d}AAA="
        found = _Message(
            message_id,
            folder,
            raw,
            is_draft,
            conversation or "",
            at or self.now(),
            None if is_draft or folder != "sentitems" else self.now(),
        )
        if not found.conversation_id:
            found.conversation_id = self._conversation_of(found)
        self._messages[message_id] = found
        self._change(folder, message_id)
        return message_id

    def _conversation_of(self, found: _Message) -> str:
        message = found.parsed()
        named = _MSGID.findall(
            f"{message.get('In-Reply-To') or ''} {message.get('References') or ''}"
        )
        for other in self._messages.values():
            if other.message_id() in named:
                return other.conversation_id
        return f"AAQkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZi{uuid.uuid4().hex[:16]}="

    def _move(self, found: _Message, folder: str) -> None:
        found.modified = self.now()
        self._change(found.folder, found.id)
        found.folder = folder
        self._change(folder, found.id)
