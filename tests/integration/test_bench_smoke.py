"""The pipeline benchmarks (tests/bench/local_idle.py, local_drafts.py, workers_scale.py)
run small, so their code cannot rot.

Full sizes: ``python -m tests.bench local-idle|local-drafts|workers-scale|maildir-drafts
--json``.
"""

from __future__ import annotations

from tests.bench import local, local_drafts, local_idle, workers_scale
from tests.conftest import require_service


def test_local_idle_small() -> None:
    result = local_idle.local_idle(contacts=50, messages=500, ticks=3)

    assert result["outreach_stages"] == {"sent": 50}
    assert result["step_statuses"] == {"sent": 50, "planned": 50}  # first sent, nudge planned
    assert result["fixture"]["inbox_messages"] + result["fixture"]["sent_messages"] == 500
    # Idle: the accounts are synced and nothing else happens.
    assert result["idle_tick_summaries"] == [{"accounts": 1}] * 3
    assert len(result["idle_tick_seconds"]) == 3
    assert all(opened >= 1 for opened in result["idle_tick_files_opened"])  # the state files
    assert result["peak_rss_mb"] > 0


def test_local_drafts_small_without_mailmerge() -> None:
    result = local_drafts.local_drafts(rows=20, mailmerge=False)

    pipeline = result["pipeline"]
    assert pipeline["steps_drafted"] == pipeline["drafts_in_maildir"] == 20
    assert pipeline["tick_errors"] == []
    assert pipeline["drafts_per_second"] > 0
    assert result["mailmerge"] == {"skipped": True}


def test_workers_scale_small() -> None:
    require_service("Redis", "127.0.0.1", 6379)
    require_service("PostgreSQL", "127.0.0.1", 5432)

    result = workers_scale.workers_scale(steps=20, processes=(1,), mailboxes=4)

    for run in (result["runs"]["1"], result["runs_many_mailboxes"]["1"]):
        assert run["steps_drafted"] == run["draft_files"] == 20
        assert run["duplicates"] == 0
        assert run["steps_without_draft_file"] == 0
        assert run["worker_exit_code"] == 0
    assert result["runs_many_mailboxes"]["1"]["mailboxes"] == 4
    assert result["duplicates"] == 0
    assert result["speedup_2_vs_1"] is None  # two processes did not run
    assert result["speedup_2_vs_1_many_mailboxes_after_first_draft"] is None


def test_maildir_drafts_small() -> None:
    result = local.maildir_drafts(messages=200, drafts=10)

    assert result["found_by_another_process"] == 10
    assert result["changes_reported_from_start"] == 0
    assert ".outreach-state.log" in result["state_files_after"]
