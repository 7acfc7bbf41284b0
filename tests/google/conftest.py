"""Fixtures of the Gmail and Google Calendar tests: the emulator, loopback only, a sleep
that records instead of waiting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.emulators.google import GoogleEmulator, loopback_only

ME = "me@example.org"


class Sleeps(list[float]):
    """A sleep that records instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(autouse=True)
def _loopback_only() -> Iterator[None]:
    with loopback_only():
        yield


@pytest.fixture
def emulator() -> Iterator[GoogleEmulator]:
    with GoogleEmulator(ME) as emu:
        yield emu


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()
