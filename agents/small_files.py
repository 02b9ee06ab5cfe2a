"""Reading a small file a person named (a plan, a role's prompt) without blocking on a FIFO or a device and without reading a huge file whole.

    SmallFileError: the file is missing, a folder, not a regular file, too large or unreadable
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_SMALL_FILE_BYTES = 1 << 20
"""A plan or a prompt file larger than this (1 MiB) is refused: they are short text files."""


class SmallFileError(Exception):
    """Why a small file cannot be read: `missing` and `folder` say which of the common cases it is."""

    def __init__(self, reason: str, *, missing: bool = False, folder: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.missing, self.folder = reason, missing, folder


def read_small_file(path: Path, limit: int = MAX_SMALL_FILE_BYTES) -> bytes:
    """Return the bytes of the regular file at `path`, refusing FIFOs, devices, sockets and files over `limit` bytes."""
    try:
        _check_regular(os.stat(path).st_mode)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise SmallFileError("file not found", missing=True) from None
    except OSError as error:
        raise SmallFileError(error.strerror or str(error)) from None
    with os.fdopen(fd, "rb") as handle:
        _check_regular(os.fstat(handle.fileno()).st_mode)
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise SmallFileError(f"larger than {limit // 1024} KiB; give a short text file")
    return data


def _check_regular(mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise SmallFileError("is a folder, not a file", folder=True)
    if not stat.S_ISREG(mode):
        raise SmallFileError("not a regular file (a FIFO, device or socket); give a text file")
