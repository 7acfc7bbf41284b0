"""The store: migrations, aware times, idempotent step keys, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from pipeline.migrations import SCHEMA_HEAD
from pipeline.models import Account, Base, Contact, Outreach, Step, SyncCursor
from pipeline.store import (
    Store,
    alembic_config,
    create_db_engine,
    migrate,
    open_store,
    schema_revision,
)

NOW = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def test_migrations_create_every_table_the_models_describe(store: Store) -> None:
    """Given a new database, when it is opened, then every modelled table exists."""
    tables = set(inspect(store.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_opening_twice_does_not_migrate_again(database_url: str) -> None:
    """Given an up-to-date database, when it is opened again, then nothing is migrated."""
    open_store(database_url).close()
    engine = create_db_engine(database_url)
    try:
        assert migrate(engine) is False
    finally:
        engine.dispose()


def test_the_schema_head_known_without_alembic_is_alembics_head() -> None:
    """SCHEMA_HEAD lets an up-to-date database open without loading Alembic; a new
    migration must move it, or databases would stop one revision short."""
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == SCHEMA_HEAD


def test_a_database_one_revision_behind_is_brought_up_to_the_head(database_url: str) -> None:
    """Given a database taken one revision back by Alembic, when it is opened, then the
    newest migration runs again and it ends at the head."""
    from alembic import command

    open_store(database_url).close()
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "-1")
        with engine.connect() as connection:
            assert schema_revision(connection) != SCHEMA_HEAD
        assert migrate(engine) is True
        with engine.connect() as connection:
            assert schema_revision(connection) == SCHEMA_HEAD
    finally:
        engine.dispose()


def test_times_come_back_aware_and_in_utc(store: Store) -> None:
    """Given a time stored in another zone, when read back, then it is the same instant in UTC."""
    local = NOW.astimezone(timezone(timedelta(hours=-5)))
    with store.write() as session:
        session.add(Account(name="a", kind="memory", address="me@example.edu", created_at=local))
    with store.read() as session:
        account = session.scalars(select(Account)).one()
    assert account.created_at == NOW
    assert account.created_at.tzinfo is not None
    assert account.created_at.utcoffset() == timedelta(0)


def test_naive_times_are_refused(store: Store) -> None:
    """A naive datetime is a bug: the store refuses it rather than guess its zone."""
    with pytest.raises(Exception, match="naive"), store.write() as session:
        session.add(
            Account(
                name="a", kind="memory", address="x@example.edu", created_at=datetime(2026, 1, 1)
            )
        )


def test_a_failed_write_leaves_nothing_behind(store: Store) -> None:
    """Given a transaction that fails half-way, then none of its writes remain."""
    with pytest.raises(IntegrityError), store.write() as session:
        session.add(Account(name="a", kind="memory", address="x@example.edu", created_at=NOW))
        session.flush()
        session.add(Account(name="a", kind="memory", address="y@example.edu", created_at=NOW))
        session.flush()
    with store.read() as session:
        assert session.scalars(select(Account)).all() == []


def test_sqlite_uses_wal_journal(sqlite_url: str) -> None:
    opened = open_store(sqlite_url)
    try:
        with opened.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        opened.close()


def test_the_models_and_the_migrations_agree(store: Store) -> None:
    """Given the migrated schema, then autogenerate finds nothing left to migrate."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_concurrent_read_modify_write_transactions_lose_no_update(database_url: str) -> None:
    """Given eight threads each reading a value and writing it back plus one, in write
    transactions on one database, then every increment counts (writes run one at a time,
    on PostgreSQL as on SQLite)."""
    store = open_store(database_url)
    try:
        with store.write() as session:
            session.add(Account(name="a", kind="memory", address="me@example.edu", created_at=NOW))
            session.flush()
            session.add(SyncCursor(account_id=1, stream="mail", cursor="0", updated_at=NOW))

        def bump(times: int) -> None:
            for _ in range(times):
                with store.write() as session:
                    row = session.get(SyncCursor, (1, "mail"))
                    assert row is not None
                    value = int(row.cursor)
                    time.sleep(0.001)  # widen the window a lost update would need
                    row.cursor = str(value + 1)

        threads = [threading.Thread(target=bump, args=(25,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with store.read() as session:
            row = session.get(SyncCursor, (1, "mail"))
            assert row is not None and row.cursor == "200"
    finally:
        store.close()


def test_an_exclusive_lock_has_one_holder_until_released(database_url: str) -> None:
    """Given one store holding the "tick" lock, another store on the same database is
    refused it at once, gets other names, and gets it after the first lets go."""
    first, second = open_store(database_url), open_store(database_url)
    try:
        with first.exclusive("tick") as held:
            assert held
            with second.exclusive("tick") as again, second.exclusive("other") as other:
                assert (again, other) == (False, True)
        with second.exclusive("tick") as after:
            assert after
    finally:
        first.close()
        second.close()


def _two_outreaches(store: Store) -> tuple[int, int, int]:
    """Two outreaches of one account: the ids of a step of the first, another step of the
    first, and a step of the second."""
    with store.write() as session:
        session.add(Account(name="a", kind="memory", address="me@example.edu", created_at=NOW))
        session.flush()
        steps = []
        for n in (1, 2):
            contact = Contact(first_name=f"P{n}", created_at=NOW, updated_at=NOW)
            session.add(contact)
            session.flush()
            row = Outreach(
                account_id=1,
                contact_id=contact.id,
                template="first_cold",
                email=f"p{n}@example.org",
                stage="planned",
                state={"n": 0},
                created_at=NOW,
                updated_at=NOW,
            )
            session.add(row)
            session.flush()
            for kind in ("first_outreach", "nudge"):
                step = Step(
                    key=f"a/{n}/{kind}/1",
                    outreach_id=row.id,
                    kind=kind,
                    seq=1,
                    status="planned",
                    due_at=NOW,
                    created_at=NOW,
                    updated_at=NOW,
                )
                session.add(step)
                session.flush()
                steps.append(step.id)
    return steps[0], steps[1], steps[2]


def test_step_transactions_of_one_outreach_lose_no_update(database_url: str) -> None:
    """Given eight threads each reading an outreach's state and writing it back plus one,
    through the steps of that outreach, then every increment counts."""
    store = open_store(database_url)
    try:
        first, sibling, _ = _two_outreaches(store)

        def bump(step_id: int, times: int) -> None:
            for _ in range(times):
                with store.write_step(step_id) as session:
                    step = session.get(Step, step_id)
                    assert step is not None
                    row = session.get(Outreach, step.outreach_id)
                    assert row is not None
                    value = row.state["n"]
                    time.sleep(0.001)  # widen the window a lost update would need
                    row.state = {"n": value + 1}

        threads = [
            threading.Thread(target=bump, args=(first if n % 2 else sibling, 25)) for n in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with store.read() as session:
            row = session.scalars(select(Outreach).order_by(Outreach.id)).first()
            assert row is not None and row.state == {"n": 200}
    finally:
        store.close()


def test_step_transactions_of_two_outreaches_run_side_by_side_on_postgresql(
    postgres_url: str,
) -> None:
    """Given a step transaction open on one outreach, then a step transaction of another
    outreach commits meanwhile, and a whole write() waits for the open one."""
    store = open_store(postgres_url)
    try:
        first, _, other = _two_outreaches(store)
        holding, release = threading.Event(), threading.Event()
        finished: list[str] = []

        def hold() -> None:
            with store.write_step(first):
                holding.set()
                release.wait(timeout=60)
                finished.append("held")  # before the lock is let go

        def whole_write() -> None:
            with store.write():
                finished.append("write")

        holder = threading.Thread(target=hold)
        holder.start()
        assert holding.wait(timeout=60)
        with store.write_step(other) as session:  # does not wait for the holder
            session.get(Step, other)
        finished.append("other")
        writer = threading.Thread(target=whole_write)
        writer.start()
        waiting = _wait_for_lock_waiters(store, 1)  # the whole write waits for the holder
        release.set()
        holder.join(timeout=60)
        writer.join(timeout=60)
        assert waiting == 1
        assert finished == ["other", "held", "write"]
    finally:
        store.close()


def _wait_for_lock_waiters(store: Store, count: int) -> int:
    """Wait (up to a minute) until ``count`` sessions wait for this schema's write lock."""
    query = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND classid = 7240512 AND objid = hashtext(current_schema() || '\\:writes')::oid"
    )
    waiting = 0
    for _ in range(600):
        with store.engine.connect() as connection:
            waiting = int(connection.execute(query).scalar() or 0)
        if waiting >= count:
            break
        time.sleep(0.1)
    return waiting
