"""Run one benchmark scenario: ``python -m tests.bench SCENARIO [--json]``."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from collections.abc import Callable
from typing import Any

import tests.bench as bench_pkg

Scenario = Callable[[], dict[str, Any]]


def discover() -> dict[str, Scenario]:
    found: dict[str, Scenario] = {}
    for info in pkgutil.iter_modules(bench_pkg.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"tests.bench.{info.name}")
        found.update(getattr(module, "SCENARIOS", {}))
    return found


def main(argv: list[str] | None = None) -> int:
    scenarios = discover()
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description="Run one benchmark scenario and print its figures.",
        epilog="scenarios: " + ", ".join(sorted(scenarios)),
    )
    parser.add_argument("scenario", choices=sorted(scenarios))
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = scenarios[args.scenario]()
    result = {"scenario": args.scenario, **result}
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        for key, value in result.items():
            print(f"{key:>28}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
