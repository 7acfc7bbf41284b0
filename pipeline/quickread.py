"""Reading the store with plain SQL, for a command that only reads and must start fast.

Opening a workspace the usual way (pipeline.app.bootstrap) imports SQLAlchemy, the
models and the use cases: most of a second before `outreach status` shows anything. A
command that only reads can do without them when opening would change nothing: the
schema is at ``SCHEMA_HEAD``, the accounts table matches outreach.toml, and the planned
drafts were made for today's working hours (:func:`settled`; bootstrap asks the same
question before it writes anything). On the embedded SQLite database such a command reads
the file with the standard library's sqlite3 (:func:`quick_sqlite`); otherwise it opens
the workspace as every command does and runs the same SQL through the session
(:func:`session_query`).

The SQL given to a :class:`Query` is portable between SQLite and PostgreSQL, with
``:name`` parameters. Aware datetimes are bound as each database stores them, and
:func:`utc` reads a stored time back as an aware UTC datetime from either.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pipeline.migrations import SCHEMA_HEAD

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from pipeline.lifecycle import Policy
    from pipeline.settings import AccountSettings, Settings

WORKING_HOURS_STREAM = "working_hours"
"""The sync_cursors stream that remembers, per account, the working hours its plans
were made for (pipeline.planning)."""

# How SQLAlchemy keeps a datetime in SQLite: naive UTC text that sorts as it compares.
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


class Query(Protocol):
    """Runs one SELECT with ``:name`` parameters and returns its rows as tuples."""

    def __call__(self, sql: str, /, **params: Any) -> list[tuple[Any, ...]]: ...


def utc(value: datetime | str | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite keeps naive UTC text)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def from_json(value: Any) -> Any:
    """A stored JSON column as Python values (SQLite keeps the text)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def _bound(params: Mapping[str, Any], *, sqlite: bool) -> dict[str, Any]:
    if not sqlite:
        return dict(params)
    return {
        name: value.astimezone(UTC).strftime(_SQLITE_TIME) if isinstance(value, datetime) else value
        for name, value in params.items()
    }


def session_query(session: Session) -> Query:
    """A :class:`Query` inside ``session``'s transaction."""
    from sqlalchemy import text

    sqlite = session.get_bind().dialect.name == "sqlite"

    def run(sql: str, /, **params: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in session.execute(text(sql), _bound(params, sqlite=sqlite))]

    return run


def _connection_query(connection: sqlite3.Connection) -> Query:
    def run(sql: str, /, **params: Any) -> list[tuple[Any, ...]]:
        return connection.execute(sql, _bound(params, sqlite=True)).fetchall()

    return run


def accounts_in_sync(
    configured: Iterable[AccountSettings], stored: Iterable[tuple[str, str, str, bool]]
) -> bool:
    """Whether the accounts table, as (name, kind, address, removed) rows, already says
    what outreach.toml does: every configured account present with its kind and
    address and not removed, every other one marked removed (see app.sync_accounts)."""
    rows = {name: (kind, address, removed) for name, kind, address, removed in stored}
    for account in configured:
        if rows.pop(account.name, None) != (account.kind, account.address.lower(), False):
            return False
    return all(removed for _, _, removed in rows.values())


def plans_current(wanted: str, known: Mapping[int, str], accounts: Iterable[int]) -> bool:
    """Whether every account's plans were made for the working hours ``wanted``."""
    return all(known.get(account) == wanted for account in accounts)


def settled(query: Query, settings: Settings, policy: Policy) -> bool:
    """Whether opening the workspace would change nothing: the schema is the newest, the
    accounts match outreach.toml, and no plan waits to be made again."""
    if query("SELECT version_num FROM alembic_version") != [(SCHEMA_HEAD,)]:
        return False
    accounts = query("SELECT id, name, kind, address, removed_at FROM accounts")
    stored = [
        (name, kind, address, removed is not None) for _, name, kind, address, removed in accounts
    ]
    if not accounts_in_sync(settings.accounts, stored):
        return False
    known = query(
        "SELECT account_id, cursor FROM sync_cursors WHERE stream = :stream",
        stream=WORKING_HOURS_STREAM,
    )
    return plans_current(policy.working_hours(), dict(known), (row[0] for row in accounts))


def sqlite_file(url: str) -> Path | None:
    """The file of a plain ``sqlite:///PATH`` URL, None for any other database or URL."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = url[len(prefix) :]
    if not path or path == ":memory:" or any(c in path for c in "?%#"):
        return None
    return Path(path)


@contextmanager
def quick_sqlite(settings: Settings, policy: Policy) -> Iterator[Query | None]:
    """A :class:`Query` over the embedded database's file, read in one snapshot, when it
    exists and is :func:`settled`; None otherwise (open the workspace as usual then)."""
    path = sqlite_file(settings.database_url)
    if path is None or not path.is_file():
        yield None
        return
    connection = None
    try:
        connection = sqlite3.connect(path, timeout=settings.busy_timeout_ms / 1000)
        connection.isolation_level = None  # transactions as written below
        connection.execute("PRAGMA query_only = ON")
        connection.execute("BEGIN")  # one snapshot for every query
        query = _connection_query(connection)
        ready = settled(query, settings, policy)
    except sqlite3.Error:  # no schema yet, not our database, a file it cannot read:
        ready = False  # the usual way says what is wrong
    try:
        yield query if ready else None
    finally:
        if connection is not None:
            connection.close()
