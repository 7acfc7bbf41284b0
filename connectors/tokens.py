"""Where an account's authorization is kept, whatever its provider (Google, Microsoft).

The stored token is a small JSON object (a Google refresh token with its OAuth client, or
msal's serialized token cache). It lives in the OS keyring when the ``keyring`` package
is importable and has a working backend, else in ``<workspace>/secrets/<account>.json``
(directory 0700, file 0600, written atomically; a character of the name outside
``[A-Za-z0-9._-]`` is written as ``%XX`` per UTF-8 byte, so two names never share a file).
Account names are unique in a workspace, so one file per account serves every provider;
in the keyring the entry is ``<provider>:<account>`` under the service
``outreach-pipeline``.

Tokens are never logged, and never put in exception messages.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
from pathlib import Path
from typing import Any, Protocol

from connectors._files import write_atomically
from pipeline.errors import AuthError

KEYRING_SERVICE = "outreach-pipeline"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def token_file_name(account: str) -> str:
    """The file name of an account's token: injective (``a b`` and ``a_b`` differ), and the
    name itself for the names settings allow."""
    encoded = _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m[0].encode("utf-8")), account)
    return f"{encoded}.json"


class TokenStore(Protocol):
    """Where an account's stored token (a small JSON object) lives."""

    def load(self, account: str) -> dict[str, Any] | None: ...
    def save(self, account: str, token: dict[str, Any]) -> None: ...
    def delete(self, account: str) -> None: ...


class FileTokenStore:
    """``<workspace>/secrets/<account>.json``, readable by the owner only."""

    def __init__(self, workspace: Path) -> None:
        self.directory = Path(workspace) / "secrets"

    def path(self, account: str) -> Path:
        return self.directory / token_file_name(account)

    def load(self, account: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path(account).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            raise AuthError(
                f"the stored token of account {account!r} cannot be read "
                f"({type(err).__name__}); authorize the account again"
            ) from err
        return data if isinstance(data, dict) else None

    def save(self, account: str, token: dict[str, Any]) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)  # noqa: PTH101
        target = self.path(account)
        write_atomically(target, json.dumps(token).encode("utf-8"), mode=0o600)

    def delete(self, account: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(account).unlink()


class KeyringTokenStore:
    """The OS keyring (Secret Service, macOS Keychain, Windows Credential Locker)."""

    def __init__(self, backend: Any = None, *, provider: str = "google") -> None:
        if backend is None:
            backend = importlib.import_module("keyring").get_keyring()
        self._keyring = backend
        self.provider = provider

    def _user(self, account: str) -> str:
        return f"{self.provider}:{account}"

    def load(self, account: str) -> dict[str, Any] | None:
        text = self._keyring.get_password(KEYRING_SERVICE, self._user(account))
        if not text:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def save(self, account: str, token: dict[str, Any]) -> None:
        self._keyring.set_password(KEYRING_SERVICE, self._user(account), json.dumps(token))

    def delete(self, account: str) -> None:
        with contextlib.suppress(Exception):
            self._keyring.delete_password(KEYRING_SERVICE, self._user(account))


def working_keyring() -> Any | None:
    """The keyring backend when ``keyring`` is installed and has a usable backend."""
    try:  # optional: ``keyring`` is not a dependency of the project
        keyring = importlib.import_module("keyring")
        fail = importlib.import_module("keyring.backends.fail")
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # a misconfigured keyring must not break the pipeline
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 1) <= 0:
        return None
    return backend


def token_store(workspace: Path, *, provider: str = "google") -> TokenStore:
    """The keyring when it works, else the 0600 file in the workspace."""
    backend = working_keyring()
    if backend is not None:
        return KeyringTokenStore(backend, provider=provider)
    return FileTokenStore(workspace)
