"""Reading the Maildir: what changed since the last scan (mail sent, drafts deleted,
mail arrived) and where our drafts are (see ``connectors.maildir``)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from connectors._maildir_folders import (
    DRAFTS,
    INBOX,
    SENT,
    Listing,
    Unreadable,
    read_head,
    thread_root,
)
from connectors._maildir_state import StoredState
from connectors._mime import Headers
from connectors.base import DraftRef, MailChange, MailChangeKind

log = logging.getLogger(__name__)


class State(StoredState):
    """The stored state plus the scan; only used under the mailbox's lock."""

    def _read_new(self, path: Path) -> Headers | Unreadable | None:
        """Headers of a new file; None when it vanished; ``Unreadable`` (with the reason)
        when it cannot be read or parsed (logged by file name)."""
        try:
            return read_head(self.box._open, path)
        except (ValueError, UnicodeError, LookupError) as err:
            log.warning("skipping unreadable message %s: %s", path.name, err)
            return Unreadable(str(err) or type(err).__name__)

    # -- the scan ------------------------------------------------------------------------

    def scan(self) -> None:
        """Notice what changed since the last scan and append it to the journal."""
        now = self.box._clock()
        found: list[MailChange] = []
        folders = self.box._folders
        sent = folders[SENT].listing()
        drafts = folders[DRAFTS].listing()
        inbox = folders[INBOX].listing()

        for unique in sorted(sent.keys() - self.seen[SENT]):
            headers = self._read_new(sent[unique])
            if headers is None:
                continue
            self.seen[SENT].add(unique)
            self.dirty = True
            if isinstance(headers, Unreadable):
                continue
            found.append(self._sent(unique, sent[unique], headers, drafts))

        self._track_drafts(drafts)
        self.tracked = True
        found.extend(self._deleted_drafts(drafts, now))

        for unique in sorted(inbox.keys() - self.seen[INBOX]):
            headers = self._read_new(inbox[unique])
            if headers is None:
                continue
            self.seen[INBOX].add(unique)
            self.dirty = True
            if isinstance(headers, Unreadable):
                found.append(
                    MailChange(
                        kind=MailChangeKind.UNREADABLE,
                        provider_id=f"{INBOX}/{unique}",
                        message_id=None,
                        thread_id=None,
                        in_reply_to=None,
                        at=now,
                        reason=headers.reason,
                    )
                )
                continue
            found.append(
                self._change(MailChangeKind.INBOUND, INBOX, unique, inbox[unique], headers)
            )

        for name, listing in ((SENT, sent), (INBOX, inbox)):
            vanished = self.seen[name] - listing.keys()
            if vanished:
                self.seen[name] -= vanished
                self.dirty = True
        if found:
            self.journal.append(found)
            self.dirty = True

    def _change(
        self,
        kind: MailChangeKind,
        folder: str,
        unique: str,
        path: Path,
        headers: Headers,
        key: str | None = None,
    ) -> MailChange:
        self.dirty = True
        at = headers.date
        if at is None:
            try:
                at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            except OSError:
                at = self.box._clock()
        return MailChange(
            kind=kind,
            provider_id=f"{folder}/{unique}",
            message_id=headers.message_id,
            thread_id=thread_root(headers),
            in_reply_to=headers.in_reply_to,
            references=headers.references,
            key=key or headers.key,
            at=at,
            recipients=headers.recipients,
        )

    def _sent(self, unique: str, path: Path, headers: Headers, drafts: Listing) -> MailChange:
        key = self._match_ours(headers, drafts)
        if key is not None:
            entry = self.ours[key]
            entry.update(state="sent", sent=unique, missing_since=None)
        change = self._change(MailChangeKind.SENT, SENT, unique, path, headers, key)
        if change.key is not None:
            self.sent_keys[change.key] = [unique, headers.message_id, change.thread_id]
        return change

    def _match_ours(self, headers: Headers, drafts: Listing) -> str | None:
        """The key of the draft a message in Sent was sent from, if any."""
        return self._match(headers, {"draft", "deleted"}, drafts)

    def _match(
        self, headers: Headers, states: set[str], drafts: Listing | None = None
    ) -> str | None:
        """Our draft a message stands for: by key, else Message-ID, else In-Reply-To when
        exactly one of our drafts in ``states`` replies to that message (or, given the
        current ``drafts``, exactly one of those is gone from Drafts)."""
        if headers.key is not None:
            # Our key names the draft outright. A key we do not know (its record was lost
            # in a crash) is never matched by thread to another draft of ours: the caller
            # adopts it under its own key.
            return headers.key if headers.key in self.ours else None
        candidates = [(k, e) for k, e in self.ours.items() if e["state"] in states]
        if headers.message_id is not None:
            for key, entry in candidates:
                if entry["message_id"] == headers.message_id:
                    return key
        if headers.in_reply_to is not None:
            replies = [k for k, e in candidates if e["in_reply_to"] == headers.in_reply_to]
            if len(replies) > 1 and drafts is not None:
                replies = [k for k in replies if self.ours[k]["unique"] not in drafts]
            if len(replies) == 1:
                return replies[0]
        return None

    def _track_drafts(self, drafts: Listing) -> None:
        """Learn the keys of new files in Drafts (an edited draft is saved under a new
        name; a draft of ours carries its key) and forget files that are gone."""
        for unique in sorted(drafts.keys() - self.draft_keys.keys()):
            headers = self._read_new(drafts[unique])
            if headers is None:
                continue
            self.dirty = True
            if isinstance(headers, Unreadable):
                self.draft_keys[unique] = ""
                continue
            key = self._match_draft(headers)
            self.draft_keys[unique] = key or ""
            if key is not None and self.ours[key]["state"] == "draft":
                self.ours[key].update(unique=unique, missing_since=None)
            elif key is None and headers.key:
                # a draft of ours the state had lost (state file deleted): track it again
                self.remember_draft(headers.key, unique, headers, thread_root(headers))
        for unique in self.draft_keys.keys() - drafts.keys():
            del self.draft_keys[unique]
            self.dirty = True

    def _match_draft(self, headers: Headers) -> str | None:
        """The key of our draft that a new file in Drafts is a re-saved copy of, if any."""
        return self._match(headers, {"draft"})

    def _deleted_drafts(self, drafts: Listing, now: datetime) -> list[MailChange]:
        found = []
        for key, entry in self.ours.items():
            if entry["state"] != "draft":
                continue
            if entry["unique"] in drafts:
                if entry.get("missing_since"):
                    entry["missing_since"] = None
                    self.dirty = True
                continue
            if not entry.get("missing_since"):
                entry["missing_since"] = now.isoformat()
                self.dirty = True
            missing_since = datetime.fromisoformat(entry["missing_since"])
            if now - missing_since < self.box._deleted_after:
                continue
            entry["state"] = "deleted"
            self.dirty = True
            found.append(
                MailChange(
                    kind=MailChangeKind.DRAFT_DELETED,
                    provider_id=f"{DRAFTS}/{entry['unique']}",
                    message_id=entry["message_id"],
                    thread_id=entry["thread_id"],
                    in_reply_to=entry["in_reply_to"],
                    references=tuple(entry["references"]),
                    key=key,
                    at=now,
                )
            )
        return found

    # -- drafts we create ----------------------------------------------------------------

    def find(self, key: str) -> DraftRef | None:
        """The draft or sent message carrying ``key``: from memory, else by reading the
        few files in Drafts not read yet (e.g. the state file was lost after a write).

        Without listing Drafts in the usual cases: a key never written and never
        announced (see the module docstring), and a draft still in its file."""
        if key in self.sent_keys:
            unique, message_id, thread_id = self.sent_keys[key]
            return DraftRef(f"{SENT}/{unique}", message_id or "", thread_id)
        entry = self.ours.get(key)
        if self.tracked and key not in self.intents:
            if entry is None:
                return None
            if entry["state"] == "draft" and self._where_written(entry["unique"]).exists():
                return DraftRef(
                    f"{DRAFTS}/{entry['unique']}", entry["message_id"], entry["thread_id"]
                )
        drafts = self.box._folders[DRAFTS].listing()
        self._track_drafts(drafts)
        self.tracked = True
        if self.intents.pop(key, None) is not None:  # a file for it would be read by now
            self.record("intent", key, None)
        entry = self.ours.get(key)
        if entry is not None and entry["state"] == "draft" and entry["unique"] in drafts:
            return DraftRef(f"{DRAFTS}/{entry['unique']}", entry["message_id"], entry["thread_id"])
        for unique, found_key in sorted(self.draft_keys.items()):
            if found_key != key or unique not in drafts:
                continue
            headers = self._read_new(drafts[unique])
            if headers is None or isinstance(headers, Unreadable):
                continue
            self.remember_draft(key, unique, headers, thread_root(headers))
            return DraftRef(f"{DRAFTS}/{unique}", headers.message_id or "", thread_root(headers))
        return None

    def _where_written(self, unique: str) -> Path:
        """Where a draft file of ours is until a mail client moves or re-flags it."""
        return self.box._folders[DRAFTS].path / "cur" / f"{unique}:2,D"

    def draft_path(self, unique: str) -> Path | None:
        """The file of the draft ``unique`` in Drafts, if it is there."""
        written = self._where_written(unique)
        if written.exists():
            return written
        return self.box._folders[DRAFTS].listing().get(unique)

    def remember_draft(
        self, key: str, unique: str, headers: Headers, thread_id: str | None
    ) -> None:
        self.ours[key] = {
            "unique": unique,
            "message_id": headers.message_id,
            "in_reply_to": headers.in_reply_to,
            "references": list(headers.references),
            "thread_id": thread_id,
            "state": "draft",
            "missing_since": None,
            "sent": None,
        }
        self.draft_keys[unique] = key
        self.intents.pop(key, None)  # the "ours" line below settles it for a reader
        self.record("ours", key, self.ours[key])
        self.record("draft_key", unique, key)
