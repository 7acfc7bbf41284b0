"""What the command modules share: the workspace option and opening the app."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from pipeline.app import App, bootstrap
from pipeline.clock import Clock
from pipeline.settings import load_settings, workspace_dir

WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace directory (default: $OUTREACH_HOME, else ./.outreach).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@contextmanager
def opened(workspace: Path | None, *, clock: Clock | None = None) -> Iterator[App]:
    """Load the workspace's settings, open (and migrate) the store, close it afterwards.

    The clock is ``clock``, else the one $OUTREACH_NOW describes, else the system's."""
    settings = load_settings(workspace_dir(workspace))
    app = bootstrap(settings, clock=clock)
    try:
        yield app
    finally:
        app.close()
