"""Where tests find the repository, their own sample files and the shared corpus, whatever
folder of tests/ they sit in."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The repository: pyproject.toml, templates/, README.md."""
SAMPLES = ROOT / "tests" / "samples"
CORPUS = ROOT.parent / "shared" / "corpus"
"""The shared corpus of real mail, next to the repository (absent on a user's machine)."""
