"""A small sample git repository for the demo: a dozen commits of a tiny tide-table tool over six days."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

AUTHOR = ("Demo Author", "demo@example.invalid")

README_V1 = """# tidewatch

Print the next high and low tides for a harbour from a CSV tide table.
"""

README_V2 = README_V1 + """
## Usage

    python -m tidewatch tables/rotterdam.csv --next 4

The table has one row per tide: `time,height_m,kind` with kind `high` or `low`.

## Development

    python -m pytest
"""

TIDES_V1 = '''"""Reading tide tables."""

import csv
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Tide:
    time: datetime
    height_m: float
    kind: str


def read_table(path):
    with open(path, newline="") as handle:
        return [Tide(datetime.fromisoformat(r["time"]), float(r["height_m"]), r["kind"]) for r in csv.DictReader(handle)]
'''

TIDES_V2 = TIDES_V1 + '''

def upcoming(tides, now, count):
    """The next `count` tides after `now`, in time order."""
    later = sorted(t for t in tides if t.time > now)
    return later[:count]


def range_m(tides):
    """The difference between the highest and the lowest tide."""
    heights = [t.height_m for t in tides]
    return max(heights) - min(heights) if heights else 0.0
'''

TIDES_V3 = TIDES_V2.replace(
    "    later = sorted(t for t in tides if t.time > now)\n",
    "    later = sorted((t for t in tides if t.time > now), key=lambda t: t.time)\n",
)

CLI_V1 = '''"""Command line: python -m tidewatch TABLE [--next N]."""

import argparse
from datetime import datetime

from tidewatch.tides import read_table, upcoming


def main(argv=None):
    parser = argparse.ArgumentParser(prog="tidewatch")
    parser.add_argument("table")
    parser.add_argument("--next", type=int, default=4)
    args = parser.parse_args(argv)
    for tide in upcoming(read_table(args.table), datetime.now(), args.next):
        print(f"{tide.time:%a %H:%M}  {tide.kind:<4}  {tide.height_m:5.2f} m")
    return 0
'''

CLI_V2 = CLI_V1.replace('    parser.add_argument("--next", type=int, default=4)\n', (
    '    parser.add_argument("--next", type=int, default=4, help="how many tides to show")\n'
    '    parser.add_argument("--range", action="store_true", help="also print the tidal range")\n'
)).replace("    return 0\n", (
    "    if args.range:\n"
    "        print(f\"range: {range_m(read_table(args.table)):.2f} m\")\n"
    "    return 0\n"
)).replace("import read_table, upcoming", "import range_m, read_table, upcoming")

MAIN = '''from tidewatch.cli import main

raise SystemExit(main())
'''

TABLE = """time,height_m,kind
2025-03-03T02:14,4.61,high
2025-03-03T08:31,0.42,low
2025-03-03T14:40,4.48,high
2025-03-03T20:52,0.55,low
2025-03-04T03:01,4.70,high
2025-03-04T09:18,0.37,low
"""

TESTS = '''from datetime import datetime

from tidewatch.tides import Tide, range_m, upcoming


def tide(hour, height, kind):
    return Tide(datetime(2025, 3, 3, hour), height, kind)


def test_upcoming_is_in_time_order():
    tides = [tide(14, 4.4, "high"), tide(2, 4.6, "high"), tide(8, 0.4, "low")]
    assert [t.time.hour for t in upcoming(tides, datetime(2025, 3, 3, 0), 2)] == [2, 8]


def test_range():
    assert range_m([tide(2, 4.6, "high"), tide(8, 0.4, "low")]) == 4.2
'''

PYPROJECT = """[project]
name = "tidewatch"
version = "0.1.0"
requires-python = ">=3.10"
"""

SCRATCH = "\n".join(f"# idea {n}: try reading tide tables from the harbour API" for n in range(1, 31)) + "\n"

# (day, hour, message, {path: content or None to delete})
COMMITS: list[tuple[str, int, str, dict[str, str | None]]] = [
    ("2025-03-03", 9, "Start tidewatch: read a tide table", {"README.md": README_V1, "tidewatch/tides.py": TIDES_V1}),
    ("2025-03-03", 15, "Add a sample table for Rotterdam", {"tables/rotterdam.csv": TABLE}),
    ("2025-03-04", 10, "Show the next tides", {"tidewatch/tides.py": TIDES_V2, "tidewatch/__init__.py": ""}),
    ("2025-03-04", 16, "Command line entry point", {"tidewatch/cli.py": CLI_V1, "tidewatch/__main__.py": MAIN}),
    ("2025-03-06", 11, "Keep notes on ideas", {"NOTES.md": SCRATCH}),
    ("2025-03-06", 14, "Packaging", {"pyproject.toml": PYPROJECT}),
    ("2025-03-07", 9, "Tests for upcoming and range", {"tests/test_tides.py": TESTS}),
    ("2025-03-07", 12, "Fix: sort upcoming tides by time", {"tidewatch/tides.py": TIDES_V3}),
    ("2025-03-10", 10, "Print the tidal range on request", {"tidewatch/cli.py": CLI_V2}),
    ("2025-03-10", 17, "Document usage", {"README.md": README_V2}),
    ("2025-03-12", 9, "Drop the scratch notes", {"NOTES.md": None}),
    ("2025-03-12", 11, "Release 0.1.0", {"CHANGELOG.md": "# Changelog\n\n## 0.1.0\n\n- First release.\n"}),
]


def create_sample_repo(path: Path) -> Path:
    """Create the sample repository at `path`, a folder it owns (reused when already complete)."""
    if is_sample_repo(path):
        return path
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    _git(path, "init", "-q")
    for day, hour, message, changes in COMMITS:
        for name, content in changes.items():
            target = path / name
            if content is None:
                _git(path, "rm", "-q", name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            _git(path, "add", name)
        stamp = f"{day}T{hour:02d}:00:00+00:00"
        _git(path, "commit", "-q", "--no-verify", "-m", message, env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})
    return path


def is_sample_repo(path: Path) -> bool:
    """Whether `path` holds the complete sample repository, so it may be reused."""
    return _commit_count(path) == len(COMMITS)


def commit_days() -> list[str]:
    """The distinct days the sample repository has commits on, in order."""
    return sorted({day for day, *_ in COMMITS})


def _commit_count(path: Path) -> int:
    if not (path / ".git").exists():
        return 0
    done = subprocess.run(["git", "-C", str(path), "rev-list", "--count", "HEAD"], capture_output=True, text=True)
    return int(done.stdout.strip()) if done.returncode == 0 else 0


def _git(path: Path, *args: str, env: dict[str, str] | None = None) -> None:
    config = [
        "-c", f"user.name={AUTHOR[0]}", "-c", f"user.email={AUTHOR[1]}",
        "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", "-c", "core.autocrlf=false",
    ]
    subprocess.run(
        ["git", *config, *args], cwd=path, check=True, capture_output=True, env={**os.environ, **(env or {})}
    )
