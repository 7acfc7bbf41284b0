"""Dramatiq workers: the broker from OUTREACH_BROKER_URL, thin actors, the in-process drain.

Import ``workers.broker`` (or call ``workers.broker.setup_broker``) before ``workers.actors``:
the broker must be set before any actor is declared.
"""

from __future__ import annotations

import sys


def worker_command(processes: int, threads: int) -> list[str]:
    """The command line that starts Dramatiq's worker processes on our actors."""
    return [
        sys.executable,
        "-m",
        "dramatiq",
        "workers.actors",
        "-p",
        str(processes),
        "-t",
        str(threads),
    ]
