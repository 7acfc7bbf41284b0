"""Creating a workspace: outreach.toml, the local mail and calendar folders, the database."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from pipeline.errors import InputError
from pipeline.settings import WORKSPACE_FILE, load_settings
from pipeline.store import open_store

PROFILE_KEYS = ("name", "email", "school", "background", "field", "intro", "timezone", "signature")


def detect_timezone() -> str:
    """The machine's IANA zone name, or UTC when it cannot be told."""
    env = os.environ.get("TZ", "").lstrip(":")
    if env and "/" in env:
        return env
    try:
        target = str(Path("/etc/localtime").resolve())
    except OSError:
        return "UTC"
    marker = "zoneinfo/"
    if marker in target:
        return target.split(marker, 1)[1]
    return "UTC"


def _toml_string(value: str) -> str:
    # A JSON string literal is a valid TOML basic string (same escapes).
    return json.dumps(value, ensure_ascii=False)


def render_workspace_toml(profile: Mapping[str, str], account_name: str = "local") -> str:
    lines = [
        "# outreach-pipeline workspace. Every key of config/defaults.toml can be overridden",
        "# here in the same table, e.g. [policy] max_nudges = 1. See the README.",
        "",
        "[profile]",
    ]
    lines += [f"{key} = {_toml_string(profile.get(key, ''))}" for key in PROFILE_KEYS]
    lines += [
        "",
        "# The local account: a Maildir (mail/) and a vdir calendar (calendar/) in this",
        "# workspace, which a mail client or mbsync/vdirsyncer can share.",
        "[[accounts]]",
        f"name = {_toml_string(account_name)}",
        'kind = "local"',
        f"address = {_toml_string(profile.get('email', ''))}",
        'maildir = "mail"',
        'calendar = "calendar"',
        "",
        "[policy]",
        "# nudge_after_business_days = 5",
        "# max_nudges = 2",
        "",
    ]
    return "\n".join(lines)


def create_workspace(directory: Path, profile: Mapping[str, str], *, force: bool = False) -> Path:
    """Write outreach.toml and the folders, then create the database. Returns the file."""
    path = directory / WORKSPACE_FILE
    if path.exists() and not force:
        raise InputError(
            f"{path} exists already; use it as it is, or pass --force to write a new one"
        )
    if not profile.get("email"):
        raise InputError("--email is required: the address your outreach is sent from")
    directory.mkdir(parents=True, exist_ok=True)
    for sub in ("mail", "calendar", "templates"):
        (directory / sub).mkdir(exist_ok=True)
    temporary = path.with_suffix(".toml.tmp")
    temporary.write_text(render_workspace_toml(profile), encoding="utf-8")
    try:
        load_settings(directory, config_file=temporary)  # validate before replacing anything
    except Exception:
        temporary.unlink()
        raise
    temporary.replace(path)
    settings = load_settings(directory)
    open_store(settings.database_url, busy_timeout_ms=settings.busy_timeout_ms).close()
    return path
