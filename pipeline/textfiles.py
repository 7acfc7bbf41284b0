"""Reading a text file that the person wrote: UTF-8, or an error that says where it is not."""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import InputError


def read_utf8(path: Path, error: type[InputError], what: str) -> str:
    """The text of ``path``; ``error`` naming the file (and the line of the first byte that is
    not UTF-8) when it cannot be read or is not UTF-8. ``what`` says what the file is, as in
    "a settings file is TOML text"."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise error(f"{path}: cannot be read ({err.strerror}); {what}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise error(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[err.start]:02x}); {what}: open it "
            "in a text editor and save it as UTF-8"
        ) from None
