"""Settings: shipped defaults, the workspace's outreach.toml, and environment overrides.

``config/defaults.toml`` declares every key and, by its value, the key's type. A workspace's
``outreach.toml`` overrides keys table by table; an unknown key, a value of the wrong type, a
number outside its range (:data:`RANGES`), an account name outside :data:`ACCOUNT_NAME_RULE`,
an unknown time zone, or a file that is not UTF-8 TOML stops with a :class:`SettingsError`
naming the file (and line), the key and what is expected. ``OUTREACH_DATABASE_URL`` and
``OUTREACH_BROKER_URL`` override the file.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.errors import SettingsError
from pipeline.resources import config_dir
from pipeline.textfiles import read_utf8

if TYPE_CHECKING:
    from pipeline.lifecycle import Policy

WORKSPACE_FILE = "outreach.toml"
DEFAULT_WORKSPACE = ".outreach"
ACCOUNT_KINDS = ("local", "memory", "gmail", "outlook")
_ACCOUNT_KEYS: Mapping[str, type] = {
    "name": str,
    "kind": str,
    "address": str,
    "maildir": str,
    "calendar": str,
    "drafts_folder": str,
    "sent_folder": str,
    "deleted_after_minutes": int,
    "tenant": str,
    "client_id": str,
}
ACCOUNT_RANGES: Mapping[str, tuple[int, int]] = {"deleted_after_minutes": (0, 10_080)}
# Keys that only one kind of account understands.
_KIND_KEYS: Mapping[str, str] = {"tenant": "outlook", "client_id": "outlook"}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_TENANT_DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$")
OUTLOOK_TENANTS = ("common", "organizations", "consumers")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

RANGES: Mapping[tuple[str, str], tuple[int, int]] = {
    ("policy", "nudge_after_business_days"): (1, 30),
    ("policy", "max_nudges"): (0, 5),
    ("policy", "ooo_default_days"): (1, 90),
    ("policy", "soft_bounce_retry_days"): (1, 30),
    ("policy", "thank_you_within_hours"): (1, 168),
    ("policy", "keep_in_touch_days"): (1, 730),
    ("policy", "prep_notes_lead_minutes"): (0, 1440),
    ("limits", "new_outreach_per_day"): (1, 10_000),
    ("limits", "drafts_per_tick"): (1, 100_000),
    ("limits", "step_lease_seconds"): (1, 86_400),
    ("database", "busy_timeout_ms"): (0, 600_000),
}
"""The smallest and largest value of every number setting, both allowed (documented beside
each key in config/defaults.toml): a value outside would be nonsense, or overflow a date
computation long after the settings were read."""

ACCOUNT_NAME_RULE = "1 to 64 characters among letters A-Z and a-z, digits, '.', '_' and '-'"
_ACCOUNT_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Messages name tables without square brackets, which a rich console takes for markup.


def workspace_dir(explicit: Path | str | None = None) -> Path:
    """The workspace directory: the one given, else $OUTREACH_HOME, else ./.outreach."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("OUTREACH_HOME")
    if env:
        return Path(env).expanduser()
    return Path.cwd() / DEFAULT_WORKSPACE


@dataclass(frozen=True)
class AccountSettings:
    """One mailbox-and-calendar account of the person."""

    name: str
    kind: str
    address: str
    maildir: str | None = None
    calendar: str | None = None
    # Maildir folder names when they are not Drafts and Sent (e.g. "Sent Items").
    drafts_folder: str | None = None
    sent_folder: str | None = None
    # A draft that vanished counts as deleted (declined) only after this long: a sent copy
    # may come down later (mbsync, schedule send). Sent later, it is revived anyway.
    deleted_after_minutes: int = 0
    # Outlook only: the Microsoft Entra tenant to sign in with, and the app's client id.
    tenant: str | None = None
    client_id: str | None = None


def outlook_option_problem(key: str, value: str) -> str | None:
    """What is wrong with an Outlook account's ``tenant`` or ``client_id``, or None."""
    if key == "tenant":
        if value in OUTLOOK_TENANTS or _GUID.match(value) or _TENANT_DOMAIN.match(value):
            return None
        return (
            f"must be common, organizations, consumers, a tenant id (a GUID) or the "
            f"tenant's domain (e.g. contoso.onmicrosoft.com), got {value!r}"
        )
    if key == "client_id":
        if _GUID.match(value):
            return None
        return (
            "must be the Application (client) ID of an app registration, a GUID like "
            f"00000000-0000-0000-0000-000000000000, got {value!r}"
        )
    return None


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know, resolved and validated."""

    workspace: Path
    profile: Mapping[str, str]
    policy: Mapping[str, Any]
    limits: Mapping[str, int]
    database_url: str
    busy_timeout_ms: int
    broker_url: str
    accounts: tuple[AccountSettings, ...] = field(default=())

    @property
    def timezone(self) -> str:
        return self.profile["timezone"]

    @property
    def templates_override(self) -> Path:
        return self.workspace / "templates"

    def account(self, name: str | None = None) -> AccountSettings:
        """The named account, or the first one when no name is given."""
        if not self.accounts:
            raise SettingsError(
                f"{self.workspace / WORKSPACE_FILE}: no account configured; add one with "
                "`outreach accounts add local --address YOUR-ADDRESS` or `outreach init --force`"
            )
        if name is None:
            return self.accounts[0]
        for account in self.accounts:
            if account.name == name:
                return account
        known = ", ".join(a.name for a in self.accounts)
        raise SettingsError(f"no account named {name!r}; known accounts: {known}")


def account_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name an account, or None when it can.

    An account's name names its stored authorization (a token file, a keyring entry), so it
    is kept to characters that are the same in every file system and shell."""
    if _ACCOUNT_NAME.fullmatch(name) and name not in {".", ".."}:
        return None
    return f"account name {name!r} is not allowed; use {ACCOUNT_NAME_RULE}, e.g. uni-gmail"


BROKER_URL_VARIABLE = "OUTREACH_BROKER_URL"
"""The environment variable naming the queue broker (and the Redis that shares the API
quotas): the workspace's [broker] url is carried to worker processes through it."""


def broker_url_from_environment() -> str | None:
    """The broker URL set in the environment, if any: the one place that reads it."""
    return os.environ.get(BROKER_URL_VARIABLE) or None


def load_defaults() -> dict[str, Any]:
    path = config_dir() / "defaults.toml"
    with path.open("rb") as handle:
        return tomllib.load(handle)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    return "a string"


def _same_type(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float)
    return isinstance(value, type(default))


def merge(defaults: Mapping[str, Any], overrides: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Overlay ``overrides`` on ``defaults`` table by table, checking every key and type."""
    merged: dict[str, Any] = {table: dict(values) for table, values in defaults.items()}
    for table, values in overrides.items():
        if table == "accounts":
            continue
        if table not in defaults:
            known = ", ".join(sorted([*defaults, "accounts"]))
            raise SettingsError(f"{source}: unknown table {table!r}; known tables: {known}")
        if not isinstance(values, Mapping):
            raise SettingsError(f"{source}: {table} must be a table of keys, not a single value")
        for key, value in values.items():
            if key not in defaults[table]:
                known = ", ".join(sorted(defaults[table]))
                raise SettingsError(
                    f"{source}: unknown key {table}.{key}; the keys of the {table} table "
                    f"are: {known}"
                )
            default = defaults[table][key]
            if not _same_type(default, value):
                raise SettingsError(
                    f"{source}: {table}.{key} must be {_type_name(default)}, got {value!r}"
                )
            merged[table][key] = value
    return merged


_LEGACY_ZONES = {
    "EST": "America/New_York",
    "EDT": "America/New_York",
    "EST5EDT": "America/New_York",
    "CST": "America/Chicago",
    "CST6CDT": "America/Chicago",
    "MST": "America/Denver",
    "MST7MDT": "America/Denver",
    "PST": "America/Los_Angeles",
    "PST8PDT": "America/Los_Angeles",
    "HST": "Pacific/Honolulu",
    "CET": "Europe/Berlin",
    "MET": "Europe/Berlin",
    "EET": "Europe/Athens",
    "WET": "Europe/Lisbon",
}


def timezone_problem(name: str) -> str | None:
    """Why ``name`` is not a time zone this program can use, or None when it is one.

    Abbreviations such as EST are refused although zoneinfo knows them: they are fixed
    offsets or old US rules, and a person in New York who wrote EST would be an hour off
    all summer."""
    suggestion = _LEGACY_ZONES.get(name.upper())
    if suggestion is not None:
        return (
            f"an abbreviation, not the zone of a place (it ignores daylight saving where "
            f"you live); use an IANA name such as {suggestion}"
        )
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "America"
        return "not a known time zone; use an IANA name such as Europe/Berlin or America/New_York"
    return None


def _check_values(merged: Mapping[str, Any], source: str) -> None:
    tz = merged["profile"]["timezone"]
    problem = timezone_problem(tz)
    if problem:
        raise SettingsError(f"{source}: profile.timezone {tz!r}: {problem}")
    policy = merged["policy"]
    for key in ("send_window_start", "send_window_end"):
        if not _TIME_RE.match(policy[key]):
            raise SettingsError(
                f'{source}: policy.{key} must be a time as "HH:MM", got {policy[key]!r}'
            )
    if policy["send_window_start"] >= policy["send_window_end"]:
        raise SettingsError(f"{source}: policy.send_window_start must come before send_window_end")
    days = policy["workdays"]
    if not days or any(day not in _WEEKDAYS for day in days):
        raise SettingsError(
            f"{source}: policy.workdays must list days among {', '.join(_WEEKDAYS)}, got {days!r}"
        )
    for (table, key), (low, high) in RANGES.items():
        value = merged[table][key]
        if not low <= value <= high:
            raise SettingsError(
                f"{source}: {table}.{key} must be between {low} and {high}, got {value}"
            )


def _accounts(raw: Any, source: str) -> tuple[AccountSettings, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SettingsError(f"{source}: accounts must be a list of tables, one per account")
    accounts: list[AccountSettings] = []
    for index, entry in enumerate(raw, start=1):
        where = f"{source}: accounts[{index}]"
        if not isinstance(entry, Mapping):
            raise SettingsError(f"{where} must be a table")
        for key, value in entry.items():
            if key not in _ACCOUNT_KEYS:
                raise SettingsError(
                    f"{where}: unknown key {key!r}; keys: {', '.join(sorted(_ACCOUNT_KEYS))}"
                )
            wanted = _ACCOUNT_KEYS[key]
            if wanted is int and (not isinstance(value, int) or isinstance(value, bool)):
                raise SettingsError(f"{where}.{key} must be a whole number, got {value!r}")
            if wanted is str and not isinstance(value, str):
                raise SettingsError(f"{where}.{key} must be a string, got {value!r}")
            if key.endswith("_folder") and (value.startswith("/") or ".." in value.split("/")):
                raise SettingsError(
                    f"{where}.{key} {value!r} must name a folder inside the Maildir, "
                    'e.g. "Sent Items" or "[Gmail]/Sent Mail"'
                )
            if key in ACCOUNT_RANGES:
                low, high = ACCOUNT_RANGES[key]
                if not low <= value <= high:
                    raise SettingsError(
                        f"{where}.{key} must be between {low} and {high}, got {value}"
                    )
        for required in ("name", "kind", "address"):
            if not entry.get(required):
                raise SettingsError(f"{where}: {required} is required")
        problem = account_name_problem(entry["name"])
        if problem is not None:
            raise SettingsError(f"{where}.name: {problem}")
        if entry["kind"] not in ACCOUNT_KINDS:
            raise SettingsError(
                f"{where}.kind must be one of {', '.join(ACCOUNT_KINDS)}, got {entry['kind']!r}"
            )
        for key, kind in _KIND_KEYS.items():
            if key not in entry:
                continue
            if entry["kind"] != kind:
                raise SettingsError(
                    f"{where}.{key} is only for kind = {kind!r} accounts, "
                    f"not kind = {entry['kind']!r}"
                )
            problem = outlook_option_problem(key, entry[key])
            if problem is not None:
                raise SettingsError(f"{where}.{key} {problem}")
        accounts.append(AccountSettings(**{k: entry[k] for k in entry}))
    names = [a.name for a in accounts]
    # Unique ignoring case: on macOS and Windows two names that differ only in case would
    # share one token file.
    if len({name.casefold() for name in names}) != len(names):
        raise SettingsError(
            f"{source}: account names must be unique, ignoring letter case, got {names}"
        )
    return tuple(accounts)


def read_toml(path: Path) -> dict[str, Any]:
    text = read_utf8(path, SettingsError, "a settings file is TOML text")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SettingsError(f"{path}: not valid TOML: {err}") from None


def load_settings(
    workspace: Path, *, require: bool = True, config_file: Path | None = None
) -> Settings:
    """Read and validate the workspace's settings (from ``config_file`` when given).

    With ``require`` and no outreach.toml, the error tells the person to run ``outreach init``.
    """
    path = config_file or workspace / WORKSPACE_FILE
    if path.is_file():
        overrides = read_toml(path)
    elif require:
        raise SettingsError(
            f"no workspace at {workspace} (missing {WORKSPACE_FILE}); "
            "run `outreach init` first, or set OUTREACH_HOME to your workspace"
        )
    else:
        overrides = {}
    return settings_from(overrides, workspace, str(path))


def settings_from(overrides: Mapping[str, Any], workspace: Path, source: str) -> Settings:
    """Validate the parsed contents of a workspace file; errors name ``source``."""
    merged = merge(load_defaults(), overrides, source)
    _check_values(merged, source)
    accounts = _accounts(overrides.get("accounts"), source)
    database_url = os.environ.get("OUTREACH_DATABASE_URL") or merged["database"]["url"]
    if not database_url:
        database_url = f"sqlite:///{(workspace / 'outreach.db').resolve()}"
    broker_url = broker_url_from_environment() or merged["broker"]["url"]
    return Settings(
        workspace=workspace,
        profile=merged["profile"],
        policy=merged["policy"],
        limits=merged["limits"],
        database_url=database_url,
        busy_timeout_ms=merged["database"]["busy_timeout_ms"],
        broker_url=broker_url,
        accounts=accounts,
    )


def weekday_numbers(days: list[str]) -> tuple[int, ...]:
    return tuple(sorted(_WEEKDAYS.index(day) for day in days))


def policy_from_settings(settings: Settings) -> Policy:
    """The lifecycle's policy from the validated [policy] table and the profile's zone,
    read by the one Policy loader (Policy.from_mapping)."""
    from pipeline.lifecycle.policy import Policy  # the rules load with what plans

    return Policy.from_mapping(
        {
            **settings.policy,
            "timezone": settings.timezone,
            "workdays": weekday_numbers(settings.policy["workdays"]),
            "new_outreach_per_day": settings.limits["new_outreach_per_day"],
        }
    )
