"""Fakes shared by several test folders (fakes over mocks: each behaves like the thing)."""

from __future__ import annotations


class DictKeyring:
    """A keyring backend that keeps its secrets in a dict (no OS keyring needed)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, user: str) -> str | None:
        return self.items.get((service, user))

    def set_password(self, service: str, user: str, value: str) -> None:
        self.items[(service, user)] = value

    def delete_password(self, service: str, user: str) -> None:
        del self.items[(service, user)]
