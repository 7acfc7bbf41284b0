"""Command line: ``outreach``. Each module below registers its commands on the one app."""

from pipeline.cli._app import app, main

# Command modules register themselves on import.
from pipeline.cli import classify as _classify  # noqa: E402,F401  (inbound mail)

__all__ = ["app", "main"]
