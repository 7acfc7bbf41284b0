"""Outlook accounts in outreach.toml: the tenant and client id, checked where they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.tokens import FileTokenStore, KeyringTokenStore
from pipeline.connect import KINDS, open_mailbox
from pipeline.errors import SettingsError
from pipeline.settings import ACCOUNT_KINDS, AccountSettings, load_settings
from tests.fakes import DictKeyring

CLIENT = "3f2b8e1c-9d4a-4c6e-8b7f-0a1b2c3d4e5f"


def write_account(workspace: Path, extra: str, kind: str = "outlook") -> None:
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "outreach.toml").write_text(
        f'[[accounts]]\nname = "uni"\nkind = "{kind}"\naddress = "me@uni.example"\n{extra}',
        encoding="utf-8",
    )


@pytest.mark.parametrize(
    "tenant",
    ["common", "organizations", "consumers", "contoso.onmicrosoft.com", CLIENT.upper()],
)
def test_outlook_accounts_take_a_tenant_and_a_client_id(tmp_path: Path, tenant: str) -> None:
    """Given an Outlook account with a tenant and client id, both are read as written."""
    write_account(tmp_path, f'tenant = "{tenant}"\nclient_id = "{CLIENT}"\n')
    (account,) = load_settings(tmp_path).accounts
    assert (account.tenant, account.client_id) == (tenant, CLIENT)


@pytest.mark.parametrize(
    ("extra", "located"),
    [
        ('tenant = "my university"\n', r"accounts\[1\]\.tenant must be common, organizations"),
        ('client_id = "outreach-app"\n', r"accounts\[1\]\.client_id must be the Application"),
        ("tenant = 7\n", r"accounts\[1\]\.tenant must be a string"),
    ],
)
def test_a_bad_outlook_option_is_refused_where_it_is(
    tmp_path: Path, extra: str, located: str
) -> None:
    write_account(tmp_path, extra)
    with pytest.raises(SettingsError, match=located) as err:
        load_settings(tmp_path)
    assert str(tmp_path / "outreach.toml") in str(err.value)


def test_outlook_options_on_another_kind_are_refused(tmp_path: Path) -> None:
    """A tenant on a Gmail account is a mistake worth saying, not a key to ignore."""
    write_account(tmp_path, 'tenant = "common"\n', kind="gmail")
    with pytest.raises(SettingsError, match=r"tenant is only for kind = 'outlook'"):
        load_settings(tmp_path)


def test_one_token_store_keeps_each_providers_entry_apart(tmp_path: Path) -> None:
    """The keyring names an entry by provider and account; the file by account."""

    backend = DictKeyring()
    KeyringTokenStore(backend, provider="microsoft").save("uni", {"cache": "m"})
    KeyringTokenStore(backend, provider="google").save("uni", {"refresh_token": "g"})
    assert sorted(user for _, user in backend.items) == ["google:uni", "microsoft:uni"]
    assert KeyringTokenStore(backend, provider="microsoft").load("uni") == {"cache": "m"}
    FileTokenStore(tmp_path).save("uni", {"cache": "m"})
    assert (tmp_path / "secrets" / "uni.json").stat().st_mode & 0o777 == 0o600


def test_every_account_kind_the_settings_accept_can_be_opened() -> None:
    assert set(KINDS) == set(ACCOUNT_KINDS)


def test_an_unregistered_kind_says_which_kinds_there_are(tmp_path: Path) -> None:
    account = AccountSettings(name="a", kind="pigeon", address="me@uni.example")
    with pytest.raises(SettingsError, match="kinds: gmail, local, memory, outlook"):
        open_mailbox(account, tmp_path)
