"""Creating a workspace: outreach.toml, the local mail and calendar folders, the database.

Every value is checked before anything is created. On an existing workspace (``--force``)
only the [profile] table of outreach.toml is rewritten; accounts, policy overrides and
comments stay as they are.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.emails import InvalidEmail, normalize_email
from pipeline.errors import InputError
from pipeline.settings import WORKSPACE_FILE, read_toml, settings_from, timezone_problem
from pipeline.store import open_store

PROFILE_KEYS = ("name", "email", "school", "background", "field", "intro", "timezone", "signature")
LOCAL_ACCOUNT = "local"
_PROFILE_HEADER = re.compile(r"^\s*\[\s*profile\s*\]\s*(#.*)?$")
_ANY_HEADER = re.compile(r"^\s*\[")


def detect_timezone() -> str:
    """The machine's IANA zone name, or UTC when it cannot be told."""
    env = os.environ.get("TZ", "").lstrip(":")
    if env and "/" in env and timezone_problem(env) is None:
        return env
    try:
        target = str(Path("/etc/localtime").resolve())
    except OSError:
        return "UTC"
    marker = "zoneinfo/"
    if marker in target:
        zone = target.split(marker, 1)[1]
        if timezone_problem(zone) is None:
            return zone
    return "UTC"


def clean_profile_value(key: str, value: str) -> str:
    """``value`` as the profile keeps it; a ValueError says why it cannot be used."""
    if key == "email":
        if not value.strip():
            raise ValueError("an address is needed: the one your outreach is sent from")
        try:
            return normalize_email(value)
        except InvalidEmail as err:
            raise ValueError(f"{err}; give the address your outreach is sent from") from None
    if key == "timezone":
        zone = value.strip()
        problem = timezone_problem(zone)
        if problem:
            raise ValueError(problem)
        return zone
    return value


def check_target(directory: Path, *, force: bool) -> dict[str, str]:
    """Refuse a place that cannot hold a workspace; return the profile already there.

    Without ``force`` an existing outreach.toml is refused; with it, its profile values are
    returned so that what is not given again is kept.
    """
    for place in (directory, *directory.parents):
        if place.exists():
            if not place.is_dir():
                raise InputError(
                    f"{place} is a file, not a directory; give a new or existing directory"
                )
            break
    path = directory / WORKSPACE_FILE
    if not path.exists():
        return {}
    if not force:
        raise InputError(
            f"{path} exists already; use it as it is, or pass --force to update its profile "
            "with the values you give (accounts and other settings are kept)"
        )
    profile = _read_existing(path).get("profile")
    if not isinstance(profile, Mapping):
        return {}
    return {k: v for k, v in profile.items() if k in PROFILE_KEYS and isinstance(v, str)}


def _toml_string(value: str) -> str:
    # A JSON string literal is a valid TOML basic string (same escapes), once DEL, which
    # JSON leaves as it is and TOML refuses, is escaped too.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _profile_table(profile: Mapping[str, str]) -> str:
    lines = ["[profile]", *(f"{key} = {_toml_string(profile[key])}" for key in PROFILE_KEYS)]
    return "\n".join(lines) + "\n"


def _local_account(address: str) -> dict[str, str]:
    return {
        "name": LOCAL_ACCOUNT,
        "kind": "local",
        "address": address,
        "maildir": "mail",
        "calendar": "calendar",
    }


def _account_table(address: str) -> str:
    lines = [
        "# The local account: a Maildir (mail/) and a vdir calendar (calendar/) in this",
        "# workspace, which a mail client or mbsync/vdirsyncer can share.",
        "[[accounts]]",
        *(f"{key} = {_toml_string(value)}" for key, value in _local_account(address).items()),
    ]
    return "\n".join(lines) + "\n"


def render_workspace_toml(profile: Mapping[str, str]) -> str:
    """A new workspace's outreach.toml: the profile, the local account, a policy example."""
    full = _full_profile(profile)
    return "\n".join(
        [
            "# outreach-pipeline workspace. Every key of config/defaults.toml can be overridden",
            "# here in the same table, e.g. [policy] max_nudges = 1. See the README.",
            "",
            _profile_table(full),
            _account_table(full["email"]),
            "[policy]",
            "# nudge_after_business_days = 5",
            "# max_nudges = 2",
            "",
        ]
    )


def _full_profile(profile: Mapping[str, str]) -> dict[str, str]:
    return {key: profile.get(key, "") for key in PROFILE_KEYS}


def _read_existing(path: Path) -> dict[str, Any]:
    try:
        return read_toml(path)
    except InputError as err:
        raise InputError(f"{err}\nFix it, or move it away and run `outreach init` again") from None


def _updated_toml(path: Path, profile: Mapping[str, str]) -> str:
    """The text of ``path`` with its profile table replaced (and the local account added when
    it has no account), everything else kept as written; refused when that cannot be done
    safely."""
    old = _read_existing(path)  # first: it reports a file that is not UTF-8 TOML
    old_text = path.read_text(encoding="utf-8")
    lines = old_text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _PROFILE_HEADER.match(line)), None)
    if start is None:
        new_text = old_text.rstrip("\n") + "\n\n" + _profile_table(profile)
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if _ANY_HEADER.match(lines[i])), len(lines)
        )
        while end > start + 1 and lines[end - 1].strip()[:1] in ("", "#"):
            end -= 1  # comments before the next table belong to it
        new_text = "".join([*lines[:start], _profile_table(profile), *lines[end:]])
    expected = {**old, "profile": dict(profile)}
    if not old.get("accounts"):
        new_text = new_text.rstrip("\n") + "\n\n" + _account_table(profile["email"])
        expected["accounts"] = [_local_account(profile["email"])]
    try:
        unchanged_elsewhere = tomllib.loads(new_text) == expected
    except tomllib.TOMLDecodeError:
        unchanged_elsewhere = False
    if not unchanged_elsewhere:
        raise InputError(
            f"{path}: its profile is not written as a plain profile table, so --force cannot "
            "update it without touching the rest; edit the profile values in that file by "
            "hand instead"
        )
    return new_text


def create_workspace(directory: Path, profile: Mapping[str, str], *, force: bool = False) -> Path:
    """Write outreach.toml and the folders, then create the database. Returns the file.

    With ``force`` on an existing workspace only its profile is replaced by ``profile``.
    Everything is checked before anything is created or changed.
    """
    path = directory / WORKSPACE_FILE
    check_target(directory, force=force)
    full = _full_profile(profile)
    if not full["email"]:
        raise InputError("--email is required: the address your outreach is sent from")
    for key, value in full.items():
        try:
            full[key] = clean_profile_value(key, value)
        except ValueError as err:
            raise InputError(f"profile.{key} {value!r}: {err}") from None
    text = _updated_toml(path, full) if path.exists() else render_workspace_toml(full)
    settings = settings_from(tomllib.loads(text), directory, str(path))
    temporary = path.with_suffix(".toml.tmp")
    try:
        # Contact data is personal: the workspace is its owner's alone, whatever the umask.
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        directory.chmod(0o700)
        for sub in ("mail", "calendar", "templates"):
            (directory / sub).mkdir(exist_ok=True, mode=0o700)
        # The Maildir's folders exist from the start: a mail client (or mbsync) pointed
        # at them right after init finds a mailbox, not an empty directory.
        from connectors.maildir import PLACEHOLDER_MARKER

        # Made here, they are outreach's placeholders: a folder that a sync tool makes
        # elsewhere later (mbsync Verbatim, offlineimap) takes their place.
        for folder in ("", ".Drafts", ".Sent"):
            maildir = directory / "mail" / folder
            if not (maildir / "cur").is_dir():
                maildir.mkdir(exist_ok=True, mode=0o700)
                (maildir / PLACEHOLDER_MARKER).touch(mode=0o600)
            for part in ("cur", "new", "tmp"):
                (maildir / part).mkdir(exist_ok=True, mode=0o700)
        temporary.touch(mode=0o600)
        temporary.chmod(0o600)
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except OSError as err:
        temporary.unlink(missing_ok=True)
        raise InputError(
            f"cannot write the workspace in {directory}: {err.strerror}; "
            "give a directory you can write to"
        ) from None
    open_store(settings.database_url, busy_timeout_ms=settings.busy_timeout_ms).close()
    return path
