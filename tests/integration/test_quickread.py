"""`outreach status` reads the embedded database's file directly when opening the
workspace would change nothing, and shows exactly what the opened store shows; anything
opening would change (the schema, the accounts, the working hours) sends it the usual way.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from pipeline.app import bootstrap
from pipeline.clock import Clock, clock_from_environment
from pipeline.errors import OutreachError
from pipeline.models import Account, SkippedInput, Step
from pipeline.quickread import quick_sqlite
from pipeline.settings import Settings, load_settings, policy_from_settings
from pipeline.status import current_status, read_status
from pipeline.step_status import StepStatus
from pipeline.store import alembic_config, create_db_engine, open_store
from tests.clitools import Cli


@pytest.fixture
def demo(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Settings, Clock]:
    """The demo's workspace, with what the demo never shows added by hand: a step that
    failed, a skipped message, one account needing sign-in and one unavailable."""
    monkeypatch.delenv("OUTREACH_DATABASE_URL", raising=False)
    cli = Cli(capsys, tmp_path, monkeypatch)
    assert cli("demo", str(tmp_path / "demo")).code == 0
    settings = load_settings(tmp_path / "demo")
    clock = clock_from_environment()
    now = clock()
    store = open_store(settings.database_url)
    try:
        with store.write() as session:
            account = session.query(Account).one()
            account.needs_reauth, account.reauth_reason = True, "the token was revoked"
            account.unavailable_reason = "the disk is full"
            account.unavailable_since = now - timedelta(hours=2)
            step = session.query(Step).filter(Step.kind == "nudge").first()
            assert step is not None
            step.status, step.last_error = StepStatus.FAILED, "template field missing"
            session.add(
                SkippedInput(
                    account_id=account.id,
                    stream="mail",
                    ref="cur/1700000000.hostile",
                    reason="not a mail message",
                    at=now - timedelta(days=1),
                )
            )
    finally:
        store.close()
    return settings, clock


def _through_the_store(settings: Settings, clock: Clock) -> dict[str, object]:
    app = bootstrap(settings, clock=clock)
    try:
        return read_status(app).as_dict()
    finally:
        app.close()


def test_status_read_from_the_file_is_status_read_through_the_store(
    demo: tuple[Settings, Clock],
) -> None:
    settings, clock = demo
    with quick_sqlite(settings, policy_from_settings(settings)) as query:
        assert query is not None  # the workspace is settled: the file is read directly
    quick = current_status(settings, clock).as_dict()
    assert quick == _through_the_store(settings, clock)
    assert quick["funnel"] and quick["waiting_on_you"] and quick["skipped_inputs"]
    assert quick["accounts_needing_auth"] and quick["accounts_unavailable"]
    failed = [item for item in quick["waiting_on_you"] if item.get("step_id")]
    assert failed and "template field missing" in failed[0]["why"]


def test_new_working_hours_send_status_through_the_store_and_move_the_plans(
    demo: tuple[Settings, Clock],
) -> None:
    settings, clock = demo
    before = current_status(settings, clock).as_dict()
    moved = replace(settings, profile={**settings.profile, "timezone": "Asia/Tokyo"})
    with quick_sqlite(moved, policy_from_settings(moved)) as query:
        assert query is None
    after = current_status(moved, clock).as_dict()
    assert [i["due_at"] for i in after["upcoming"]] != [i["due_at"] for i in before["upcoming"]]
    with quick_sqlite(moved, policy_from_settings(moved)) as query:
        assert query is not None  # re-planned once; settled again


def test_an_account_not_yet_registered_sends_status_through_the_store(
    demo: tuple[Settings, Clock],
) -> None:
    settings, clock = demo
    second = replace(settings.accounts[0], name="second", address="second@example.edu")
    wider = replace(settings, accounts=(*settings.accounts, second))
    with quick_sqlite(wider, policy_from_settings(wider)) as query:
        assert query is None
    current_status(wider, clock)
    with quick_sqlite(wider, policy_from_settings(wider)) as query:
        assert query is not None


def test_a_database_behind_the_schema_is_migrated_not_read_directly(
    demo: tuple[Settings, Clock],
) -> None:
    from alembic import command

    settings, clock = demo
    engine = create_db_engine(settings.database_url)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "-1")
    finally:
        engine.dispose()
    with quick_sqlite(settings, policy_from_settings(settings)) as query:
        assert query is None
    assert current_status(settings, clock).funnel  # migrated, then read
    with quick_sqlite(settings, policy_from_settings(settings)) as query:
        assert query is not None


def test_a_file_that_is_not_a_database_gets_the_usual_error(
    demo: tuple[Settings, Clock], tmp_path: Path
) -> None:
    settings, clock = demo
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database, only bytes " * 100)
    broken = replace(settings, database_url=f"sqlite:///{junk}")
    with quick_sqlite(broken, policy_from_settings(broken)) as query:
        assert query is None
    with pytest.raises(OutreachError, match="cannot open the database"):
        current_status(broken, clock)


def test_times_read_from_the_file_come_back_in_utc(demo: tuple[Settings, Clock]) -> None:
    settings, clock = demo
    status = current_status(settings, clock).as_dict()
    found = [item.get("due_at") for item in status["upcoming"] + status["waiting_on_you"]]
    found += [item["since"] for item in status["accounts_unavailable"]]
    times = [text for text in found if text]
    assert len(times) > 3
    for text in times:
        assert datetime.fromisoformat(text).utcoffset() == timedelta(0)
