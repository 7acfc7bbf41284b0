"""Shared fixtures: the store on SQLite and on PostgreSQL, and service checks.

Tests that need PostgreSQL, Redis or RabbitMQ skip with a visible reason on a laptop
without them, and fail instead of skipping when CI=true.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.store import Store, open_store
from tests import paths
from tests.clitools import Cli
from tests.harness import MONDAY, TWO_CONTACTS, World, started_world
from tests.services import postgres_schema

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get(
    "OUTREACH_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("OUTREACH_TEST_REDIS", "redis://127.0.0.1:6379/15")
AMQP_URL = os.environ.get("OUTREACH_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/%2F")
CORPUS = paths.CORPUS


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (laptop) or fail (CI) when a service the test needs is not listening."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message}; CI must have it (.ci/run starts it)")
    pytest.skip(f"{message}; start it to run this test")


def require_corpus() -> Path:
    if CORPUS.is_dir():
        return CORPUS
    if IN_CI:
        pytest.fail(f"the shared corpus is missing at {CORPUS}")
    pytest.skip(f"the shared corpus is not at {CORPUS}")
    raise AssertionError("unreachable")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, empty schema, dropped afterwards."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    with postgres_schema(POSTGRES_URL) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'outreach.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that uses it runs twice: on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'outreach.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
) -> Cli:
    """The command line, run in-process on a workspace not made yet (SQLite and
    PostgreSQL)."""
    workspace = tmp_path / "ws"
    monkeypatch.setenv("OUTREACH_HOME", str(workspace))
    monkeypatch.setenv("OUTREACH_DATABASE_URL", database_url)
    return Cli(capsys, workspace, monkeypatch)


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    """Dana and Sam imported and started on Monday morning, on in-memory connectors
    (SQLite and PostgreSQL). Modules that need another world define their own."""
    with started_world(tmp_path, database_url, MONDAY, TWO_CONTACTS) as made:
        yield made
