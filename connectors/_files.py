"""Writing files so that a reader (or a crash) never sees half of one."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_atomically(
    target: Path,
    data: bytes,
    *,
    tmp: Path | None = None,
    mode: int = 0o666,
    exclusive: bool = False,
) -> None:
    """Write ``data`` to a temporary file (``tmp``, else a hidden one beside ``target``),
    flush it to disk, then rename it over ``target``. ``mode`` is applied (under the umask
    at creation, exactly afterwards for private files such as tokens). ``exclusive`` refuses
    an existing temporary file, as Maildir's tmp/ requires. The temporary file is removed on
    failure; OSError propagates for the caller to translate."""
    temporary = tmp or target.with_name(f".{target.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(temporary, flags, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode != 0o666:
            temporary.chmod(mode)
        temporary.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
