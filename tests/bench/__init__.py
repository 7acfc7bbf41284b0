"""Benchmarks: ``python -m tests.bench SCENARIO --json``.

Each module in this package may define ``SCENARIOS: dict[str, Callable[[], dict]]``; a
scenario returns one JSON-serialisable dict of figures.
"""
