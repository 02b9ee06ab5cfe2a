"""The file tools: read_file and list_files over the project and out folder, write_file in the own one."""

from __future__ import annotations

import asyncio
import codecs
import io
import os
import secrets
import stat
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from tokenmaxx.agents.tools.base import BaseTool, Param
from tokenmaxx.agents.tools.workspace import (
    ToolError,
    ToolOutcome,
    Workspace,
    as_model_path,
    own_out_path,
    real_root,
    resolve_readable,
    resolve_writable,
)

BINARY_SNIFF_BYTES = 8192
READ_CHUNK = 1 << 20
LIST_CAP = 1000
SKIPPED_DIRS = frozenset({".git"})

_PATH_HELP = 'relative to the project root, or "out:..." for the session\'s out folder'


class ReadFile(BaseTool):
    """Shows a text file of the project or the out folder, a page of lines at a time."""

    name = "read_file"
    description = (
        "Read a text file. The path is relative to the project root; a path starting with "
        '"out:" reads from the session\'s out folder (for example "out:charts/loc.svg"). '
        "Long files are cut off with a note saying how much more there is; use offset and limit "
        "to read a range of lines. Binary files are refused."
    )
    params = (
        Param("path", "string", f"The file to read, {_PATH_HELP}.", required=True),
        Param("offset", "integer", "The first line to show, counting from 1 (default 1).", minimum=1),
        Param("limit", "integer", "The most lines to show (default: as many as fit).", minimum=1),
    )

    async def execute(self, args: dict[str, Any], ws: Workspace) -> ToolOutcome:
        raw = args["path"]
        real = resolve_readable(ws, raw)
        info = _stat(real, raw)
        if stat.S_ISDIR(info.st_mode):
            raise ToolError(f"{raw!r} is a directory; use list_files to see what it holds")
        text = await asyncio.to_thread(
            _read_text, real, raw, args.get("offset", 1), args.get("limit"), ws.output_cap
        )
        return ToolOutcome(ok=True, output=text)


class ListFiles(BaseTool):
    """Lists a folder of the project or the out folder, optionally the whole tree below it."""

    name = "list_files"
    description = (
        "List the files in a folder. The path is relative to the project root (default: the root); "
        'a path starting with "out:" lists the session\'s out folder ("out:" alone shows one folder '
        "per agent). Folders end with /, symlinks with @. The .git folder is skipped. With "
        f"recursive=true the whole tree below is listed, up to {LIST_CAP} entries."
    )
    params = (
        Param("path", "string", f"The folder to list, {_PATH_HELP} (default \".\").", required=False),
        Param("recursive", "boolean", "List everything below the folder too (default false)."),
    )

    async def execute(self, args: dict[str, Any], ws: Workspace) -> ToolOutcome:
        raw = args.get("path", ".")
        real = resolve_readable(ws, raw)
        if real == real_root(ws.out_root) and not real.exists():
            return ToolOutcome(ok=True, output="(empty directory: no agent has written anything yet)")
        if not stat.S_ISDIR(_stat(real, raw).st_mode):
            raise ToolError(f"{raw!r} is a file, not a folder; use read_file to read it")
        walk = _walk if args.get("recursive", False) else _entries
        names, complete = await asyncio.to_thread(walk, real, LIST_CAP)
        if not names:
            return ToolOutcome(ok=True, output="(empty directory)")
        more = "" if complete else f"\n[truncated: more than {LIST_CAP} entries; list a subfolder]"
        return ToolOutcome(ok=True, output="\n".join(names) + more)


class WriteFile(BaseTool):
    """Creates or overwrites a text file in the agent's own out folder."""

    name = "write_file"
    description = (
        "Create or overwrite a text file in your own out folder. The path is relative to that folder "
        '(for example "charts/loc.svg" or "report.md"); missing parent folders are created. '
        "You cannot write anywhere else. Returns the number of bytes written."
    )
    params = (
        Param("path", "string", "The file to write, relative to your own out folder.", required=True),
        Param("content", "string", "The full text of the file, written as UTF-8.", required=True),
    )

    async def execute(self, args: dict[str, Any], ws: Workspace) -> ToolOutcome:
        raw = args["path"]
        real = resolve_writable(ws, raw)
        if real.is_dir():
            raise ToolError(f"{raw!r} is a folder; give a file name inside it")
        data = args["content"].encode("utf-8", errors="replace")
        await asyncio.to_thread(_replace_file, real, raw, data)
        return ToolOutcome(
            ok=True,
            output=f"wrote {len(data)} bytes to {as_model_path(ws, real)}",
            written=own_out_path(ws, real),
        )


def _stat(real: Path, raw: str) -> os.stat_result:
    try:
        return real.stat()
    except FileNotFoundError:
        raise ToolError(f"no such file or folder: {raw!r}") from None
    except NotADirectoryError:
        raise ToolError(f"no such file or folder: {raw!r} (a part of it is a file)") from None


def _replace_file(real: Path, raw: str, data: bytes) -> None:
    """Write `data` to a new file beside `real` and rename it over `real`, so a hard link or a FIFO planted there is replaced, never written through."""
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        _refuse_special(real, raw)
        temporary = real.with_name(f".{real.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temporary, real)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    except OSError as error:
        raise ToolError(f"cannot write {raw!r}: {error.strerror or error}") from error


def _refuse_special(real: Path, raw: str) -> None:
    try:
        mode = real.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise ToolError(f"{raw!r} is not a regular file (a FIFO, device or socket); write_file writes files only")


def _read_text(real: Path, raw: str, offset: int, limit: int | None, cap: int) -> str:
    """Read a page of `real` without blocking on a FIFO or device and without holding more of it than the page."""
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        raise ToolError(f"cannot read {raw!r}: {error.strerror or error}") from error
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ToolError(f"{raw!r} is not a regular file; read_file reads files only")
        if _looks_binary(handle.read(BINARY_SNIFF_BYTES)):
            raise ToolError(f"{raw!r} looks like a binary file ({info.st_size} bytes); read_file shows text only")
        handle.seek(0)
        return _read_page(handle, raw, offset, limit, cap)


def _read_page(handle: io.BufferedReader, raw: str, offset: int, limit: int | None, cap: int) -> str:
    number = _skip_lines(handle, offset - 1)
    if number < offset - 1 or (offset > 1 and not handle.peek(1)):
        raise ToolError(f"{raw!r} has {number} lines; offset {offset} is past the end")
    shown: list[str] = []
    used = 0
    while True:
        bound = 4 * (cap - used) + 8
        chunk = handle.readline(bound)
        if not chunk:
            return "".join(shown) if number else "(empty file)"
        number += 1
        if limit is not None and len(shown) >= limit:
            handle.seek(-len(chunk), os.SEEK_CUR)
            _, more_lines = _count_rest(handle, _decoder())
            return "".join(shown) + f"\n[{more_lines} more lines; continue with offset={number}]"
        decoder = _decoder()
        line = decoder.decode(chunk, final=chunk.endswith(b"\n") or len(chunk) < bound)
        if used + len(line) > cap:
            more_chars = len(line) - (cap - used) + _count_rest(handle, decoder)[0]
            note = f"[truncated: {more_chars} more characters; continue with offset={number}]"
            return "".join(shown) + line[: cap - used] + "\n" + note
        shown.append(line)
        used += len(line)


def _skip_lines(handle: io.BufferedReader, count: int) -> int:
    """Move past `count` lines a chunk at a time, however long they are; returns how many lines there were."""
    skipped = 0
    while skipped < count and (chunk := handle.read(READ_CHUNK)):
        newlines = chunk.count(b"\n")
        if skipped + newlines < count:
            skipped += newlines
            continue
        end = _nth_newline(chunk, count - skipped)
        handle.seek(end + 1 - len(chunk), os.SEEK_CUR)
        return count
    tail = handle.tell() > 0 and _last_byte(handle) != b"\n"
    return skipped + tail


def _nth_newline(chunk: bytes, nth: int) -> int:
    position = -1
    for _ in range(nth):
        position = chunk.index(b"\n", position + 1)
    return position


def _last_byte(handle: io.BufferedReader) -> bytes:
    handle.seek(-1, os.SEEK_END)
    return handle.read(1)


def _decoder() -> codecs.IncrementalDecoder:
    return codecs.getincrementaldecoder("utf-8")(errors="replace")


def _count_rest(handle: io.BufferedReader, decoder: codecs.IncrementalDecoder) -> tuple[int, int]:
    """Count the characters and lines left in a file a chunk at a time, continuing `decoder`."""
    chars = lines = 0
    last = b"\n"
    while chunk := handle.read(READ_CHUNK):
        chars += len(decoder.decode(chunk))
        lines += chunk.count(b"\n")
        last = chunk[-1:]
    chars += len(decoder.decode(b"", final=True))
    return chars, lines + (last != b"\n")


def _looks_binary(head: bytes) -> bool:
    if b"\0" in head:
        return True
    return head.decode("utf-8", errors="replace").count("\ufffd") > len(head) // 20


def _entries(folder: Path, cap: int) -> tuple[list[str], bool]:
    names = [_label(entry, entry.name) for entry in _scan(folder)]
    return names[:cap], len(names) <= cap


def _walk(folder: Path, cap: int) -> tuple[list[str], bool]:
    names = list(islice(_tree(folder, ""), cap + 1))
    return names[:cap], len(names) <= cap


def _tree(folder: Path, prefix: str) -> Iterator[str]:
    try:
        entries = _scan(folder)
    except PermissionError:
        if not prefix:
            raise
        return
    for entry in entries:
        label = _label(entry, prefix + entry.name)
        yield label
        if label.endswith("/"):
            yield from _tree(Path(entry.path), label)


def _scan(folder: Path) -> list[os.DirEntry[str]]:
    with os.scandir(folder) as scan:
        kept = [entry for entry in scan if entry.name not in SKIPPED_DIRS]
    return sorted(kept, key=lambda entry: entry.name)


def _label(entry: os.DirEntry[str], name: str) -> str:
    if entry.is_symlink():
        return name + "@"
    return name + "/" if entry.is_dir(follow_symlinks=False) else name
