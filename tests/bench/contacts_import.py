"""``python -m tests.bench contacts-import --json``: importing a large contacts file."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench._pipeline import (
    T0,
    FixedClock,
    contacts_workspace,
    import_contacts,
    local_app,
    with_machine,
)


def contacts_import(rows: int = 50_000) -> dict[str, Any]:
    """`outreach contacts import` of a ``rows``-row CSV into a new workspace, in process
    (parsing and writing; process start-up left out), then the same file again."""
    with tempfile.TemporaryDirectory(prefix="outreach-bench-import-") as tmp:
        workspace, csv_path = contacts_workspace(Path(tmp), rows)
        app = local_app(workspace, FixedClock(T0))
        runs = []
        try:
            for _ in range(2):
                started = time.perf_counter()
                report = import_contacts(app, csv_path)
                seconds = time.perf_counter() - started
                runs.append(
                    {
                        "seconds": round(seconds, 3),
                        "rows_per_second": round(rows / seconds, 1),
                        "created": report.created,
                        "unchanged": report.unchanged,
                    }
                )
        finally:
            app.close()
    return {"rows": rows, "first_import": runs[0], "same_file_again": runs[1]}


SCENARIOS = {
    "contacts-import": with_machine(contacts_import),
}
