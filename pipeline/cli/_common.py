"""What the command modules share: the workspace option and opening the app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipeline.cli._app import err_console

if TYPE_CHECKING:  # the store and its models load when a command opens the workspace
    from pipeline.app import App
    from pipeline.clock import Clock

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
    from pipeline.app import bootstrap
    from pipeline.settings import load_settings, workspace_dir

    settings = load_settings(workspace_dir(workspace))
    app = bootstrap(settings, clock=clock)
    try:
        yield app
    finally:
        app.close()


@contextmanager
def progress_bar(label: str, *, show: bool) -> Iterator[Callable[[int, int], None]]:
    """A bar on stderr that ``update(done, total)`` moves, shown only when ``show`` (a
    terminal, and no --json); it is cleared when done."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
        disable=not show,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, refresh=True)

        yield update
