"""The database: engines, transactions and migrations.

SQLite by default (a file in the workspace, WAL journal, a busy timeout, and ``BEGIN
IMMEDIATE`` for every write so two processes never deadlock upgrading a read lock);
PostgreSQL by URL for several workers. Every command calls :func:`open_store`, which brings
the schema up to date with Alembic before anything else (one query, and no Alembic, when
it is already at ``SCHEMA_HEAD``). `outreach status` may read the SQLite file without this
module at all (pipeline.quickread).

One consistency model on both databases: write transactions run one at a time and
readers are never blocked. SQLite gives that with ``BEGIN IMMEDIATE``; on PostgreSQL each
write transaction first takes a transaction-scoped advisory lock. The use cases read,
decide and write inside one write transaction (an outreach's state, a message already
seen, a cursor), so without it two workers or two ticks could both decide from the same
old state under READ COMMITTED. Write transactions never wait on the network (provider
calls happen between transactions), so they are short and the lock costs little.

One narrower kind, for the hot path of several workers: :meth:`Store.write_steps` is a
write transaction that reads and decides about some steps and their outreaches only
(claiming and recording a batch of drafts). On PostgreSQL it holds the write lock *shared*
and a lock of each of its outreaches exclusively, so such transactions of different
outreaches run side by side, while any ``write()`` still excludes them all (and they it);
on SQLite it is ``write()``.
Locks are always taken in that order (the write lock, then the outreaches by their lock
key), so they cannot deadlock.
"""

from __future__ import annotations

import fcntl
import logging
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError
from sqlalchemy.orm import Session, sessionmaker

from pipeline.errors import OutreachError, SettingsError
from pipeline.migrations import SCHEMA_HEAD

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
WRITE_OPTION = "outreach_begin"  # how write transactions begin (execution option)
# PostgreSQL advisory locks of this project use the two-key form (namespace, key); the
# second key hashes the schema too, so workspaces sharing a database stay apart. Write
# transactions and named locks have namespaces of their own, so no name can collide
# with the write lock.
_WRITE_LOCK_NAMESPACE = 7240512
_NAMED_LOCK_NAMESPACE = 7240513
_OUTREACH_LOCK_NAMESPACE = 7240514
_LOCK_KEY_SQL = "hashtext(current_schema() || ':' || :name)"
_NAMED_LOCK_ARGS = f"{_NAMED_LOCK_NAMESPACE}, {_LOCK_KEY_SQL}"
_LOCK_POLL_SECONDS = 0.2
_WRITE_LOCK_ARGS = f"{_WRITE_LOCK_NAMESPACE}, {_LOCK_KEY_SQL}"
# The outreaches of some steps, found in the statements that lock them (steps never
# move), locked in the order of their lock keys so that two such transactions cannot
# deadlock. (S608: the f-strings join constants only; the ids are bound parameters)
_OUTREACH_KEY_SQL = "hashtext(current_schema() || ':' || outreach_id::text)"
_STEPS_LOCK_SQL = (
    f"SELECT pg_advisory_xact_lock({_OUTREACH_LOCK_NAMESPACE}, key) FROM ("  # noqa: S608
    f"SELECT DISTINCT {_OUTREACH_KEY_SQL} AS key FROM steps WHERE id = ANY(:steps) "
    "ORDER BY key) AS keys"
)
_SHARED_WRITE_LOCK_SQL = f"SELECT pg_advisory_xact_lock_shared({_WRITE_LOCK_ARGS})"


def alembic_config() -> Config:
    from alembic.config import Config  # Alembic is imported by the commands that migrate

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def create_db_engine(url: str, *, busy_timeout_ms: int = 10000) -> Engine:
    """An engine for ``url`` with this project's SQLite settings applied."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SettingsError(
            f"database url {url!r} is not a valid URL; expected e.g. "
            "sqlite:////path/outreach.db or postgresql+psycopg://user@host/db"
        ) from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
        )
        _configure_sqlite(engine, busy_timeout_ms)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise SettingsError(f"database url {url!r}: only sqlite and postgresql are supported")
    return create_engine(parsed, pool_pre_ping=True)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(WRITE_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def schema_revision(connection: Connection) -> str | None:
    """The revision the database is at, None for a database without our schema."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def migrate(engine: Engine) -> bool:
    """Bring the schema up to the newest revision; return True when anything changed.

    A database already at ``SCHEMA_HEAD`` costs one query: Alembic is loaded only to
    migrate."""
    with engine.connect() as connection:
        if schema_revision(connection) == SCHEMA_HEAD:
            return False
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = alembic_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current == head:
        return False
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two processes starting at once must not both create the tables.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7240511)")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    log.info("database schema upgraded from %s to %s", current, head)
    return True


@dataclass
class Store:
    """Transactions over one database. ``write()`` for changes, ``read()`` for queries."""

    engine: Engine

    def __post_init__(self) -> None:
        self._write = sessionmaker(
            bind=self.engine.execution_options(**{WRITE_OPTION: "IMMEDIATE"}),
            expire_on_commit=False,
        )
        self._read = sessionmaker(bind=self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed on success, rolled back on any error.

        Write transactions run one at a time on either database (see the module's
        docstring), so what a use case reads inside one is still true when it commits."""
        with self._write() as session, session.begin():
            if self.dialect == "postgresql":
                session.execute(
                    text(f"SELECT pg_advisory_xact_lock({_WRITE_LOCK_ARGS})"), {"name": "writes"}
                )
            yield session

    @contextmanager
    def write_step(self, step_id: int) -> Iterator[Session]:
        """:meth:`write_steps` for one step."""
        with self.write_steps([step_id]) as session:
            yield session

    @contextmanager
    def write_steps(self, step_ids: Sequence[int]) -> Iterator[Session]:
        """A write transaction that reads and changes only the steps ``step_ids`` and
        their outreaches (their accounts' availability aside): one at a time per
        outreach, beside those of other outreaches on PostgreSQL (see the module's
        docstring)."""
        if self.dialect != "postgresql":
            with self.write() as session:
                yield session
            return
        with self._write() as session, session.begin():
            session.execute(text(_SHARED_WRITE_LOCK_SQL), {"name": "writes"})
            session.execute(text(_STEPS_LOCK_SQL), {"steps": list(step_ids)})
            yield session

    @contextmanager
    def exclusive(self, name: str, *, wait: float = 0.0) -> Iterator[bool]:
        """Try to become the only holder of the lock ``name`` across processes and
        machines sharing this database; yields False when another holds it still after
        ``wait`` seconds (at once by default).

        Released when the block ends or the process dies (a PostgreSQL session lock, or
        an flock on a file beside the SQLite database), so a crash never leaves it held.
        """
        deadline = time.monotonic() + wait
        if self.dialect == "postgresql":
            with self.engine.connect() as connection:
                params = {"name": name}
                while True:
                    held = bool(
                        connection.execute(
                            text(f"SELECT pg_try_advisory_lock({_NAMED_LOCK_ARGS})"),
                            params,
                        ).scalar()
                    )
                    connection.commit()
                    if held or time.monotonic() >= deadline:
                        break
                    time.sleep(_LOCK_POLL_SECONDS)
                try:
                    yield held
                finally:
                    if held:
                        connection.execute(
                            text(f"SELECT pg_advisory_unlock({_NAMED_LOCK_ARGS})"),
                            params,
                        )
                        connection.commit()
            return
        database = self.engine.url.database
        if not database or database == ":memory:":  # one process owns an in-memory database
            yield True
            return
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)  # an account name may hold a slash
        with Path(f"{database}.{safe}.lock").open("a+b") as handle:
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        yield False
                        return
                    time.sleep(_LOCK_POLL_SECONDS)
            try:
                yield True
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str, *, busy_timeout_ms: int = 10000) -> Store:
    """Connect, migrate to the newest schema, and return the store."""
    engine = create_db_engine(url, busy_timeout_ms=busy_timeout_ms)
    try:
        migrate(engine)
    except DatabaseError as err:
        engine.dispose()
        safe = make_url(url).render_as_string(hide_password=True)
        raise OutreachError(
            f"cannot open the database {safe}: {err.orig}; check OUTREACH_DATABASE_URL "
            "or [database] url in outreach.toml, and that the server is running"
        ) from None
    return Store(engine)
