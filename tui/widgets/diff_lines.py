"""The lines of a git patch a reviewer can comment on, each with its file and its number in that file."""

from __future__ import annotations

import re
from dataclasses import dataclass

_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass(frozen=True)
class DiffLine:
    """One line of a hunk: its file, its number (in the new file; in the old one for a removed line), its text."""

    path: str
    number: int
    text: str
    removed: bool = False


def section_lines(path: str, section: str) -> list[DiffLine | None]:
    """One entry per line of a file's section of a patch: a DiffLine inside a hunk, None for the headers."""
    rows: list[DiffLine | None] = []
    old = new = 0
    in_hunk = False
    for line in section.splitlines():
        hunk = _HUNK.match(line)
        if hunk:
            old, new, in_hunk = int(hunk[1]), int(hunk[2]), True
            rows.append(None)
        elif in_hunk and line.startswith("-"):
            rows.append(DiffLine(path, old, line[1:], removed=True))
            old += 1
        elif in_hunk and line[:1] in ("+", " "):
            rows.append(DiffLine(path, new, line[1:]))
            old, new = old + (line[0] == " "), new + 1
        else:
            rows.append(None)
    return rows


def comment_note(line: DiffLine, comment: str) -> str:
    """The note a comment on a line becomes: the file, the line's number and text quoted, then the comment."""
    where = f"{line.path} line {line.number}" + (" of the old file, removed" if line.removed else "")
    return f"Comment on {where} (`{line.text}`): {comment.strip()}"


def comment_title(line: DiffLine) -> str:
    """The comment modal's title, naming the file and line."""
    return f"Comment on {line.path} line {line.number}{' (removed)' if line.removed else ''}; it goes back to the agent as rework"
