"""The App that actors use: handed over by the CLI (embedded), or built from the
environment in a worker process ($OUTREACH_HOME, $OUTREACH_DATABASE_URL)."""

from __future__ import annotations

import os
import threading

from pipeline.app import App, bootstrap
from pipeline.settings import load_settings, workspace_dir

_lock = threading.Lock()
_app: App | None = None


def use_app(app: App | None) -> None:
    """Make ``app`` the one actors in this process use (None forgets it)."""
    global _app
    with _lock:
        _app = app


def current_app() -> App:
    """The App for this process, bootstrapped from the environment on first use."""
    global _app
    with _lock:
        if _app is None:  # a worker process (`dramatiq workers.actors`): private files
            os.umask(0o077)
            _app = bootstrap(load_settings(workspace_dir()))
        return _app
