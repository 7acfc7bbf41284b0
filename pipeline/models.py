"""SQLAlchemy 2 tables. Metadata about mail, never message bodies.

The schema is created and evolved only by the Alembic migrations in pipeline/migrations;
these classes describe it for the ORM, and a test checks that the two agree.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from pipeline.contacts.records import full_name

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (naive UTC text) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given; the store keeps aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


UTC_DATETIME = UTCDateTime()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[str]: JSON,
        datetime: UTC_DATETIME,
    }


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(320))
    needs_reauth: Mapped[bool] = mapped_column(Boolean, default=False)
    reauth_reason: Mapped[str | None] = mapped_column(Text)
    # Set while the mailbox or calendar as a whole cannot be used (read-only, full disk):
    # its steps wait and each tick tries again; cleared by the next success.
    unavailable_reason: Mapped[str | None] = mapped_column(Text)
    unavailable_since: Mapped[datetime | None]
    # Set while the account is not in outreach.toml (removed by the person): its steps
    # wait and its history stays; cleared when an account of that name is added again.
    removed_at: Mapped[datetime | None]
    # Random, made once per account: mixed into every Message-ID it writes, so that two
    # people whose step keys coincide never share one (see connectors._ids).
    message_id_secret: Mapped[str] = mapped_column(
        String(64), default=lambda: secrets.token_hex(16)
    )
    created_at: Mapped[datetime]


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    organization: Mapped[str | None] = mapped_column(String(300))
    role: Mapped[str | None] = mapped_column(String(300))
    field: Mapped[str | None] = mapped_column(String(300))
    how_found: Mapped[str | None] = mapped_column(Text)
    referred_by: Mapped[str | None] = mapped_column(String(300))
    referred_by_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    timezone: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    flagged: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    emails: Mapped[list[ContactEmail]] = relationship(
        back_populates="contact", order_by="ContactEmail.position", cascade="all, delete-orphan"
    )

    @property
    def name(self) -> str:
        return full_name(self.first_name, self.last_name)

    @property
    def primary_email(self) -> str | None:
        usable = [e.email for e in self.emails if e.status == "ok"]
        return usable[0] if usable else None


class ContactEmail(Base):
    __tablename__ = "contact_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="ok")  # ok | bounced

    contact: Mapped[Contact] = relationship(back_populates="emails")


class Suppression(Base):
    """An address never to be written to again (opt-out, hard bounce)."""

    __tablename__ = "suppressions"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(String(50))
    at: Mapped[datetime]


class Outreach(Base):
    __tablename__ = "outreaches"
    __table_args__ = (
        UniqueConstraint("account_id", "contact_id", "goal"),
        # who an address belongs to (a reply's sender, a bounce's recipient)
        Index("ix_outreaches_account_id_email", "account_id", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    goal: Mapped[str] = mapped_column(String(50), default="advice")
    template: Mapped[str] = mapped_column(String(50))
    email: Mapped[str] = mapped_column(String(320))
    stage: Mapped[str] = mapped_column(String(30), index=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    thread_id: Mapped[str | None] = mapped_column(String(300))
    root_message_id: Mapped[str | None] = mapped_column(String(500), index=True)
    subject: Mapped[str | None] = mapped_column(Text)
    referrer_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    waiting_on: Mapped[str] = mapped_column(String(20), default="you")  # you | contact | nobody
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    contact: Mapped[Contact] = relationship(foreign_keys=[contact_id])
    account: Mapped[Account] = relationship()


class Step(Base):
    """One thing to do for an outreach; its key makes it happen at most once."""

    __tablename__ = "steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    outreach_id: Mapped[int] = mapped_column(ForeignKey("outreaches.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), index=True)
    due_at: Mapped[datetime] = mapped_column(UTC_DATETIME, index=True)
    deadline: Mapped[datetime | None]
    in_thread: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_draft_id: Mapped[str | None] = mapped_column(String(300))
    provider_thread_id: Mapped[str | None] = mapped_column(String(300))
    message_id: Mapped[str | None] = mapped_column(String(500), index=True)
    drafted_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    # How the draft read (pipeline.likeness; no readable text): tells apart the steps a
    # sent message may have come from when it lost our key and Message-ID.
    fingerprint: Mapped[list[int] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    outreach: Mapped[Outreach] = relationship()


class MessageSeen(Base):
    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("account_id", "provider_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    provider_id: Mapped[str] = mapped_column(String(500))
    message_id: Mapped[str | None] = mapped_column(String(500), index=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(500))
    direction: Mapped[str] = mapped_column(String(10))  # in | out
    kind: Mapped[str | None] = mapped_column(String(30))
    intent: Mapped[str | None] = mapped_column(String(20))
    outreach_id: Mapped[int | None] = mapped_column(ForeignKey("outreaches.id"), index=True)
    at: Mapped[datetime | None]
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Meeting(Base):
    __tablename__ = "meetings"
    __table_args__ = (UniqueConstraint("account_id", "uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    outreach_id: Mapped[int | None] = mapped_column(ForeignKey("outreaches.id"), index=True)
    uid: Mapped[str] = mapped_column(String(500))
    start: Mapped[datetime]
    end: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))
    summary: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(Text)  # the place or the video link
    prep_key: Mapped[str | None] = mapped_column(String(300))
    prep_event_id: Mapped[str | None] = mapped_column(String(500))
    prep_at: Mapped[datetime | None]


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class SyncCursor(Base):
    __tablename__ = "sync_cursors"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    stream: Mapped[str] = mapped_column(String(20), primary_key=True)
    cursor: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class Event(Base):
    """Append-only audit log: every observation and every decision."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTC_DATETIME, index=True)
    outreach_id: Mapped[int | None] = mapped_column(ForeignKey("outreaches.id"), index=True)
    kind: Mapped[str] = mapped_column(String(50))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Digest(Base):
    """A digest delivered: once per account, day and destination (the inbox, a file)."""

    __tablename__ = "digests"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    destination: Mapped[str] = mapped_column(String(300), primary_key=True)
    delivered_at: Mapped[datetime]


class SkippedInput(Base):
    """A message or calendar event that could not be handled: kept with the reason (never
    its content), shown to the person, and skipped so that everyone else's work goes on."""

    __tablename__ = "skipped_inputs"
    __table_args__ = (UniqueConstraint("account_id", "stream", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    stream: Mapped[str] = mapped_column(String(20))  # mail | calendar
    ref: Mapped[str] = mapped_column(String(500))  # the provider's id of the item
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
