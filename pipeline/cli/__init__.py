"""Command line: ``outreach``. Each module below registers its commands on the one app."""

# Command modules register themselves on import.
from pipeline.cli import accounts as _accounts  # noqa: F401
from pipeline.cli import classify as _classify  # noqa: F401  (inbound mail)
from pipeline.cli import contacts as _contacts  # noqa: F401
from pipeline.cli import core as _core  # noqa: F401
from pipeline.cli import run as _run  # noqa: F401
from pipeline.cli import service as _service  # noqa: F401  (systemd units)
from pipeline.cli import templates as _templates  # noqa: F401
from pipeline.cli._app import app, main

__all__ = ["app", "main"]
