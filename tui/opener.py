"""Opening an artifact outside the TUI: the system's opener (xdg-open, open, os.startfile), started detached."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path, PurePosixPath
from typing import BinaryIO

SHOWN_INSIDE = frozenset({".md", ".markdown", ".txt", ".csv", ".tsv", ".json", ".jsonl", ".toml", ".yaml", ".yml", ".log", ".py", ".sh", ".ini", ".cfg", ".rst"})
"""Text the TUI shows itself; a page (HTML), a picture (SVG, PNG), a PDF or a deck opens outside it."""
SNIFF_BYTES = 4096


class NoOpener(Exception):
    """This machine has no system opener; the message names the one looked for."""


class OutsideOutFolder(Exception):
    """An artifact path that leads out of the session's output folder; the message says how."""


def artifact_file(out_root: Path, path: str) -> Path:
    """The file of the artifact at `path` below `out_root`, refusing absolute paths, `..` and symlinks that lead out of it."""
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts or "\0" in path:
        raise OutsideOutFolder(f"refused to open {path!r}: it is not a path inside the session's output folder")
    root = out_root.resolve()
    file = (root / relative).resolve()
    if not file.is_relative_to(root):
        raise OutsideOutFolder(f"refused to open {path!r}: it leads out of the session's output folder {root}")
    return file


def shows_inside(path: Path) -> bool:
    """True for files read best as text in the TUI: known text suffixes, and text files with no suffix."""
    suffix = path.suffix.lower()
    return suffix in SHOWN_INSIDE or (not suffix and is_text(path))


def is_text(path: Path) -> bool:
    """No NUL byte in the file's first few kilobytes (a file that cannot be read is not text to show)."""
    try:
        with open_regular(path) as file:
            return b"\0" not in file.read(SNIFF_BYTES)
    except OSError:
        return False


def open_regular(path: Path) -> BinaryIO:
    """Open a regular file for reading without blocking; a FIFO, device or socket raises OSError instead of hanging the reader."""
    handle = os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb")
    if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
        handle.close()
        raise OSError(errno.EINVAL, "not a regular file (a FIFO, device or socket)", str(path))
    return handle


def opener_command(platform: str = sys.platform) -> list[str] | None:
    """The command that opens a file with its default application here, or None."""
    name = "open" if platform == "darwin" else "xdg-open"
    found = shutil.which(name)
    return [found] if found else None


def open_with_system(path: Path, platform: str = sys.platform) -> None:
    """Hand `path` to the system's opener and return at once; raises NoOpener, or OSError if it cannot start."""
    if platform == "win32":
        os.startfile(path)  # type: ignore[attr-defined]  # noqa: S606 - the user asked to open their own file
        return
    command = opener_command(platform)
    if command is None:
        raise NoOpener(f"no system opener: {'open' if platform == 'darwin' else 'xdg-open'} is not installed")
    process = subprocess.Popen(  # noqa: S603 - the opener and a path, no shell
        [*command, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    threading.Thread(target=process.wait, name=f"opener:{path.name}", daemon=True).start()
