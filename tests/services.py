"""Helpers for tests and benchmarks that use the machine's real services."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, unquote, urlsplit, urlunsplit


@contextmanager
def postgres_schema(base_url: str, prefix: str = "t") -> Iterator[str]:
    """A fresh, empty schema on ``base_url``, as a URL whose search_path is that schema;
    dropped afterwards. Tests and benchmarks use it to stay apart on one server."""
    import sqlalchemy

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(base_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{base_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


class ServiceUnavailable(RuntimeError):
    """A service is listening but cannot give the test what it needs (the reason says)."""


@contextmanager
def rabbitmq_vhost(base_url: str, prefix: str = "outreach-test") -> Iterator[str]:
    """A new, empty RabbitMQ virtual host, as ``base_url`` with that vhost; deleted (with
    every queue in it) afterwards. Test runs that share one RabbitMQ stay apart this way,
    as a Redis namespace keeps them apart on Redis.

    Made with ``rabbitmqctl`` (root, or a user holding the node's Erlang cookie), or the
    command in $OUTREACH_TEST_RABBITMQCTL, e.g. ``docker exec rabbit rabbitmqctl``.
    Raises ServiceUnavailable when that command is missing or refuses."""
    command = shlex.split(os.environ.get("OUTREACH_TEST_RABBITMQCTL", "rabbitmqctl"))
    if not command or shutil.which(command[0]) is None:
        raise ServiceUnavailable(
            f"cannot make a RabbitMQ virtual host: {command[0] if command else 'rabbitmqctl'} "
            "is not on PATH (set OUTREACH_TEST_RABBITMQCTL, e.g. to "
            "'docker exec NAME rabbitmqctl')"
        )

    def rabbitmqctl(*args: str) -> None:
        try:
            done = subprocess.run(
                [*command, "-q", *args], capture_output=True, text=True, timeout=120
            )
        except subprocess.TimeoutExpired as err:
            raise ServiceUnavailable(f"`rabbitmqctl {args[0]}` did not answer in 120 s") from err
        if done.returncode != 0:
            raise ServiceUnavailable(
                f"`rabbitmqctl {' '.join(args)}` failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[:500]}"
            )

    parts = urlsplit(base_url)
    user = unquote(parts.username or "guest")
    vhost = f"{prefix}-{uuid.uuid4().hex[:12]}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        yield urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))
    finally:
        rabbitmqctl("delete_vhost", vhost)
