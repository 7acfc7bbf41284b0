"""Command line: ``outreach``. Each module below registers its commands on the one app."""

from pipeline.cli._app import app, main

# Command modules register themselves on import.
from pipeline.cli import classify as _classify  # noqa: E402,F401  (inbound mail)
from pipeline.cli import contacts as _contacts  # noqa: E402,F401
from pipeline.cli import core as _core  # noqa: E402,F401

__all__ = ["app", "main"]
