"""The start-growth benchmark (tests/bench/start_growth.py) run small, so it cannot rot.
Full sizes: ``python -m tests.bench start-growth --json``."""

from __future__ import annotations

from tests.bench import start_growth


def test_start_growth_small() -> None:
    result = start_growth.start_growth(sizes=(20, 40))

    assert [result["runs"][n]["started"] for n in ("20", "40")] == [20, 40]
    assert result["seconds_20"] > 0 and result["seconds_40"] > 0
    assert result["linear_would_be"] == 2.0
    assert result["cpu_ratio_40_to_20"] > 0
