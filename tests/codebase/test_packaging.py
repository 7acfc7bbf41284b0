"""The wheel: templates/ and config/ ship as data and load from a non-editable install."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests import paths

ROOT = paths.ROOT

PROBE = """
import pathlib, sys
import pipeline
from pipeline.resources import templates_dir, config_dir
from pipeline.compose import TemplateSet
from pipeline.settings import load_defaults
from pipeline.store import MIGRATIONS_DIR
target = pathlib.Path(sys.argv[1]).resolve()
assert pathlib.Path(pipeline.__file__).resolve().is_relative_to(target), pipeline.__file__
assert templates_dir().is_relative_to(target)
assert (config_dir() / "sample" / "linkedin_connections.csv").is_file()
assert "first_cold" in TemplateSet().kinds()
assert load_defaults()["policy"]["max_nudges"] == 2
assert (MIGRATIONS_DIR / "versions").is_dir()
source = pathlib.Path(sys.argv[2])
missing = [
    str(module.relative_to(source))
    for package in ("pipeline", "connectors", "workers")
    for module in (source / package).rglob("*.py")
    if not (target / module.relative_to(source)).is_file()
]
assert not missing, f"modules left out of the wheel: {missing}"
import pipeline.cli  # every command's module, and what they import
print("ok")
"""


def test_the_wheel_carries_templates_config_and_migrations(tmp_path: Path) -> None:
    """Given a wheel installed without the source tree, its data files load."""
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the work tree
    for name in ("pyproject.toml", "README.md"):
        source.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, source / name)
    for name in ("pipeline", "connectors", "workers", "templates", "config"):
        shutil.copytree(
            ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(source),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    (wheel,) = wheels.glob("outreach_pipeline-*.whl")
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(target), str(source)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
