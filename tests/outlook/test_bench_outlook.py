"""The Outlook benchmarks run, small (full sizes: python -m tests.bench outlook-drafts)."""

from __future__ import annotations

from tests.bench import outlook


def test_outlook_idle_costs_two_requests() -> None:
    result = outlook.outlook_idle()
    assert (result["requests"], result["changes"]) == (2, 0)


def test_outlook_drafts_small_makes_each_draft_once() -> None:
    result = outlook.outlook_drafts(count=5)
    assert result["drafts_in_mailbox"] == 5
    assert (result["failures"], result["duplicates"], result["second_run_created"]) == (0, 0, 0)
