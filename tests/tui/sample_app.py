"""The sample fleet in the real app, to look at by hand: `python -m tests.tui.sample_app [theme]`."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.tui.sample_fleet import clock, sample_fleet
from tokenmaxx.tui.app import TokenmaxxApp
from tokenmaxx.tui.config import Config, Settings


def build(directory: Path, theme: str = "tokenmaxx-dark", *, live: bool = True) -> TokenmaxxApp:
    """The app on the sample fleet, its config in `directory`, the clock fixed."""
    config = Config(directory=directory / "config", settings=Settings(theme=theme))
    return TokenmaxxApp(sample_fleet(directory / "out", live=live), config=config, clock=clock)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        build(Path(folder), *sys.argv[1:2]).run()
