"""Settings: defaults, the workspace file, environment overrides, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import SettingsError
from pipeline.settings import load_settings


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
