"""Where the shipped data lives: templates/ and config/.

In a source checkout or an editable install they sit beside the packages; in a wheel they
are installed as ``pipeline/_data/templates`` and ``pipeline/_data/config``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the directory of shipped data called ``name`` ("templates" or "config")."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"shipped data directory {name!r} is missing from the installation")


def templates_dir() -> Path:
    return data_dir("templates")


def config_dir() -> Path:
    return data_dir("config")
