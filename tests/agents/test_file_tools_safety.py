"""The file tools against files a command planted: hard links, FIFOs and files too large to hold."""

from __future__ import annotations

import asyncio
import os
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenmaxx.agents.tools import ToolOutcome, Workspace, run_tool

RELEASE_AFTER_S = 10
BIG = 200 * 1024 * 1024
PEAK_LIMIT = 16 * 1024 * 1024


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    (tmp_path / "project").mkdir()
    return Workspace(project=tmp_path / "project", out_root=tmp_path / "out", agent="charts")


@pytest.fixture
def fifo(ws: Workspace) -> Iterator[Path]:
    """A FIFO in the agent's folder; a thread opens its read end after a while so a writer stuck on it returns."""
    ws.own_out.mkdir(parents=True)
    path = ws.own_out / "pipe"
    os.mkfifo(path)
    done = threading.Event()

    def release() -> None:
        if not done.wait(RELEASE_AFTER_S):
            reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            done.wait(RELEASE_AFTER_S)
            os.close(reader)

    thread = threading.Thread(target=release, name="fifo-release", daemon=True)
    thread.start()
    yield path
    done.set()
    thread.join()


async def test_write_file_replaces_a_planted_hard_link_instead_of_writing_through_it(ws: Workspace, tmp_path: Path) -> None:
    outside = tmp_path / "bashrc"
    outside.write_text("original\n")
    ws.own_out.mkdir(parents=True)
    os.link(outside, ws.own_out / "report.md")
    outcome = await run_tool("write_file", {"path": "report.md", "content": "# Report\n"}, ws)
    assert outcome.ok, outcome.output
    assert outside.read_text() == "original\n"
    assert (ws.own_out / "report.md").read_text() == "# Report\n"
    assert sorted(p.name for p in ws.own_out.iterdir()) == ["report.md"]


async def test_write_file_to_a_fifo_is_a_prompt_error_and_the_loop_keeps_running(ws: Workspace, fifo: Path) -> None:
    beats = 0

    async def heartbeat() -> None:
        nonlocal beats
        while True:
            beats += 1
            await asyncio.sleep(0)

    beating = asyncio.create_task(heartbeat(), name="heartbeat")
    try:
        outcome = await run_tool("write_file", {"path": "pipe", "content": "data"}, ws)
    finally:
        beating.cancel()
        await asyncio.gather(beating, return_exceptions=True)
    assert not outcome.ok
    assert outcome.output == "'pipe' is not a regular file (a FIFO, device or socket); write_file writes files only"
    assert beats > 0 and fifo.exists()


def _big_file(path: Path, head: bytes, tail: bytes = b"") -> None:
    """A file of BIG bytes with no newline after `head`: text up front, a sparse run of NULs, then `tail`."""
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(BIG)
        handle.seek(BIG)
        handle.write(tail)


async def _read_measured(ws: Workspace, args: dict[str, object]) -> tuple[ToolOutcome, int]:
    """Run read_file and return its outcome and the peak of memory Python allocated meanwhile."""
    tracemalloc.start()
    try:
        outcome = await run_tool("read_file", args, ws)
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_read_file_of_a_huge_line_holds_only_the_page(ws: Workspace) -> None:
    _big_file(ws.project / "huge.txt", b"a" * (1 << 20))
    outcome, peak = await _read_measured(ws, {"path": "huge.txt"})
    assert outcome.ok and outcome.output.startswith("a" * ws.output_cap + "\n[truncated: ")
    assert outcome.output.endswith(f"[truncated: {BIG - ws.output_cap} more characters; continue with offset=1]")
    assert peak < PEAK_LIMIT, f"peak {peak:,} bytes"


async def test_read_file_skips_a_huge_line_to_reach_an_offset(ws: Workspace) -> None:
    _big_file(ws.project / "huge.txt", b"a" * (1 << 20), b"\nlast line\n")
    outcome, peak = await _read_measured(ws, {"path": "huge.txt", "offset": 2})
    assert outcome.output == "last line\n"
    assert peak < PEAK_LIMIT, f"peak {peak:,} bytes"


@pytest.mark.parametrize(
    ("text", "offset", "limit", "shown"),
    [
        ("a\nb", 2, None, "b"),
        ("a\nb", 3, None, "'f' has 2 lines; offset 3 is past the end"),
        ("a\nb\n", 3, None, "'f' has 2 lines; offset 3 is past the end"),
        ("", 2, None, "'f' has 0 lines; offset 2 is past the end"),
        ("a\nb\nc", 1, 1, "a\n\n[2 more lines; continue with offset=2]"),
        ("é" * 10 + "\nz\n", 1, None, "é" * 4 + "\n[truncated: 9 more characters; continue with offset=1]"),
    ],
)
async def test_read_file_pages_count_lines_and_characters(ws: Workspace, text: str, offset: int, limit: int | None, shown: str) -> None:
    (ws.project / "f").write_text(text)
    small = Workspace(ws.project, ws.out_root, ws.agent, output_cap=4)
    args: dict[str, object] = {"path": "f", "offset": offset} | ({"limit": limit} if limit else {})
    outcome = await run_tool("read_file", args, small)
    assert outcome.output == shown
