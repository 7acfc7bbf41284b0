"""Settings: defaults, the workspace file, environment overrides, and clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectors.google_auth import FileTokenStore, token_file_name
from pipeline.errors import SettingsError
from pipeline.resources import config_dir
from pipeline.settings import ACCOUNT_NAME_RULE, RANGES, load_defaults, load_settings


def write(workspace: Path, text: str) -> Path:
    workspace.mkdir(parents=True, exist_ok=True)
    path = workspace / "outreach.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_fill_everything_the_workspace_leaves_out(tmp_path: Path) -> None:
    write(tmp_path, '[profile]\nname = "Ada"\ntimezone = "Europe/Berlin"\n')
    settings = load_settings(tmp_path)
    assert settings.profile["name"] == "Ada"
    assert settings.timezone == "Europe/Berlin"
    assert settings.policy["max_nudges"] == 2
    assert settings.policy["nudge_after_business_days"] == 5
    assert settings.database_url == f"sqlite:///{(tmp_path / 'outreach.db').resolve()}"
    assert settings.broker_url == "stub://"


def test_an_unknown_key_names_the_file_the_key_and_the_known_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "[policy]\nmax_nudge = 1\n")
    with pytest.raises(SettingsError) as err:
        load_settings(tmp_path)
    assert str(path) in str(err.value)
    assert "policy.max_nudge" in str(err.value)
    assert "max_nudges" in str(err.value)
    assert err.value.exit_code == 2


def test_a_wrong_type_says_what_is_expected(tmp_path: Path) -> None:
    write(tmp_path, '[policy]\nmax_nudges = "two"\n')
    with pytest.raises(SettingsError, match=r"policy\.max_nudges must be a whole number"):
        load_settings(tmp_path)


def test_a_boolean_is_not_accepted_for_a_number(tmp_path: Path) -> None:
    write(tmp_path, "[policy]\nmax_nudges = true\n")
    with pytest.raises(SettingsError, match="max_nudges"):
        load_settings(tmp_path)


def test_an_unknown_time_zone_is_refused(tmp_path: Path) -> None:
    write(tmp_path, '[profile]\ntimezone = "Mars/Olympus"\n')
    with pytest.raises(SettingsError, match=r"profile\.timezone 'Mars/Olympus'.*IANA"):
        load_settings(tmp_path)


def test_a_folder_of_time_zones_is_not_a_time_zone(tmp_path: Path) -> None:
    """Given timezone = "America" (a folder of the zone database), when the settings load,
    then a SettingsError names the key instead of an OSError escaping."""
    write(tmp_path, '[profile]\ntimezone = "America"\n')
    with pytest.raises(SettingsError, match=r"profile\.timezone 'America'.*IANA"):
        load_settings(tmp_path)


def test_an_unknown_table_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "[polcy]\nmax_nudges = 1\n")
    with pytest.raises(SettingsError, match=r"unknown table 'polcy'; known tables: accounts"):
        load_settings(tmp_path)


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[policy\n")
    with pytest.raises(SettingsError, match="not valid TOML") as err:
        load_settings(tmp_path)
    assert str(path) in str(err.value)


def test_accounts_are_checked(tmp_path: Path) -> None:
    write(tmp_path, '[[accounts]]\nname = "a"\nkind = "pigeon"\naddress = "me@example.edu"\n')
    with pytest.raises(SettingsError, match=r"accounts\[1\]\.kind must be one of"):
        load_settings(tmp_path)


def test_environment_overrides_the_database_and_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, '[database]\nurl = "sqlite:////elsewhere.db"\n')
    monkeypatch.setenv("OUTREACH_DATABASE_URL", "postgresql://db.example/outreach")
    monkeypatch.setenv("OUTREACH_BROKER_URL", "redis://127.0.0.1:6379/0")
    settings = load_settings(tmp_path)
    assert settings.database_url == "postgresql://db.example/outreach"
    assert settings.broker_url == "redis://127.0.0.1:6379/0"


def test_a_missing_workspace_says_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="outreach init"):
        load_settings(tmp_path / "nowhere")


def test_send_window_must_be_a_time(tmp_path: Path) -> None:
    write(tmp_path, '[policy]\nsend_window_start = "9am"\n')
    with pytest.raises(SettingsError, match=r"policy\.send_window_start must be a time"):
        load_settings(tmp_path)


# --------------------------------------------------------------------------- bad input


def write_bytes(workspace: Path, data: bytes) -> Path:
    workspace.mkdir(parents=True, exist_ok=True)
    path = workspace / "outreach.toml"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 1),  # an image saved over the file
        ('[profile]\nname = "Jürgen"\n'.encode("latin-1"), 2),  # an editor's Latin-1
        (b"\xff\xfe[\x00p\x00", 1),  # UTF-16
    ],
)
def test_a_file_that_is_not_utf8_names_the_file_and_line(
    tmp_path: Path, data: bytes, line: int
) -> None:
    """Given an outreach.toml that is not UTF-8 text, when the settings load, then a
    SettingsError names the file and the line and says to save it as UTF-8."""
    path = write_bytes(tmp_path, data)
    with pytest.raises(SettingsError) as err:
        load_settings(tmp_path)
    assert f"{path}:{line}: not UTF-8 text" in str(err.value)
    assert "save it as UTF-8" in str(err.value)


def test_binary_data_that_happens_to_be_utf8_is_not_valid_toml(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, b"\x00\x01\x02 binary")
    with pytest.raises(SettingsError, match="not valid TOML") as err:
        load_settings(tmp_path)
    assert str(path) in str(err.value)


def test_every_number_setting_has_a_range_that_holds_its_default() -> None:
    """Given the shipped defaults, then every number has a range, the default lies in it,
    and defaults.toml documents it beside the key."""
    defaults = load_defaults()
    numbers = {
        (table, key)
        for table, values in defaults.items()
        for key, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    assert numbers == set(RANGES)
    text = (config_dir() / "defaults.toml").read_text(encoding="utf-8")
    for (table, key), (low, high) in RANGES.items():
        assert low <= defaults[table][key] <= high
        assert re.search(rf"^{key} = .*# range {low}\.\.{high}\b", text, re.MULTILINE), key


_OUTSIDE = [
    (table, key, value)
    for (table, key), (low, high) in RANGES.items()
    for value in (low - 1, high + 1)
] + [
    ("limits", "step_lease_seconds", 10**18),
    ("limits", "drafts_per_tick", 2**63 - 1),
    ("policy", "prep_notes_lead_minutes", -60),
]


@pytest.mark.parametrize(("table", "key", "value"), _OUTSIDE)
def test_a_number_outside_its_range_names_the_table_key_and_range(
    tmp_path: Path, table: str, key: str, value: int
) -> None:
    """Given a number setting outside its range, when the settings load, then a SettingsError
    names the file, table.key, the allowed range and the value given."""
    path = write(tmp_path, f"[{table}]\n{key} = {value}\n")
    low, high = RANGES[(table, key)]
    with pytest.raises(SettingsError) as err:
        load_settings(tmp_path)
    assert f"{path}: {table}.{key} must be between {low} and {high}, got {value}" == str(err.value)
    assert err.value.exit_code == 2


def test_both_ends_of_every_range_are_allowed(tmp_path: Path) -> None:
    for end in (0, 1):
        tables: dict[str, list[str]] = {}
        for (table, key), bounds in RANGES.items():
            tables.setdefault(table, []).append(f"{key} = {bounds[end]}")
        write(tmp_path, "".join(f"[{t}]\n" + "\n".join(keys) + "\n" for t, keys in tables.items()))
        settings = load_settings(tmp_path)
        assert settings.limits["drafts_per_tick"] == RANGES[("limits", "drafts_per_tick")][end]
        assert settings.busy_timeout_ms == RANGES[("database", "busy_timeout_ms")][end]


def account(name: str) -> str:
    return f'[[accounts]]\nname = "{name}"\nkind = "local"\naddress = "me@example.edu"\n'


@pytest.mark.parametrize(
    "name", ["uni gmail", "uni/gmail", "../other", "dörte", "uni:gmail", ".", "..", "a" * 65]
)
def test_an_account_name_outside_the_rule_is_refused(tmp_path: Path, name: str) -> None:
    """Given an account name with a character outside [A-Za-z0-9._-] (which would name its
    token file), when the settings load, then a SettingsError names the account and the rule."""
    path = write(tmp_path, account(name))
    with pytest.raises(SettingsError) as err:
        load_settings(tmp_path)
    assert f"{path}: accounts[1].name: account name {name!r} is not allowed" in str(err.value)
    assert ACCOUNT_NAME_RULE in str(err.value)


def test_account_names_that_differ_only_in_case_are_refused(tmp_path: Path) -> None:
    """Case-insensitive file systems would give the two one token file."""
    write(tmp_path, account("Gmail") + account("gmail"))
    with pytest.raises(SettingsError, match="unique, ignoring letter case"):
        load_settings(tmp_path)


def test_the_allowed_account_names_load(tmp_path: Path) -> None:
    write(tmp_path, account("uni-gmail_2.0") + account("Z"))
    assert [a.name for a in load_settings(tmp_path).accounts] == ["uni-gmail_2.0", "Z"]


def test_token_file_names_are_one_per_account_name() -> None:
    """Names that differ only in characters outside [A-Za-z0-9._-] (refused by the settings
    today, but stored by older versions) never share a token file; allowed names keep theirs."""
    names = ["a b", "a_b", "a%20b", "a/b", "a\\b", "a:b", "a%2Fb", "dörte", "d_rte", "uni-gmail"]
    files = [token_file_name(name) for name in names]
    assert len(set(files)) == len(names)
    assert token_file_name("uni-gmail") == "uni-gmail.json"
    assert all("/" not in file and "\\" not in file for file in files)


def test_file_token_store_keeps_accounts_apart(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path)
    store.save("a b", {"refresh_token": "first"})
    store.save("a_b", {"refresh_token": "second"})
    assert store.load("a b") == {"refresh_token": "first"}
    assert store.load("a_b") == {"refresh_token": "second"}
