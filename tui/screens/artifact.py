"""ArtifactScreen: one deliverable full screen, Markdown rendered and other text as text; and `open_artifact`, which picks it, the browser tab or the system opener."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from tokenmaxx.sessions.safe_text import terminal_safe_line
from tokenmaxx.tui import opener
from tokenmaxx.tui.widgets.artifact_preview import (
    ArtifactPreview,
    PreviewUnavailable,
    read_preview,
)
from tokenmaxx.tui.widgets.key_footer import KeyFooter

FULL_BYTES = 2_000_000
BROWSER_SHOWS = frozenset({".html", ".htm", ".svg", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".pdf"})
"""What a browser tab shows itself; any other file it downloads."""


class ArtifactScreen(Screen[None]):
    """Reads the file in a worker; scroll with the arrows, page keys and the mouse; esc goes back."""

    CSS_PATH = "artifact.tcss"
    AUTO_FOCUS = "#artifact"
    BINDINGS = [Binding("escape", "back", "Back", id="artifact.back")]

    class Loaded(Message):
        """A worker read the artifact's text (or why it cannot be shown)."""

        def __init__(self, text: str | None, problem: str | None) -> None:
            super().__init__()
            self.text, self.problem = text, problem

    def __init__(self, file: Path, name: str, *, notice: str = "") -> None:
        super().__init__()
        self.file, self.name_shown, self.notice = file, name, notice

    def compose(self) -> ComposeResult:
        where = f"{self.name_shown}  ·  {self.file}" + (f"  ·  {self.notice}" if self.notice else "")
        yield Static(terminal_safe_line(where), id="where")
        yield ArtifactPreview(id="artifact")
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one(ArtifactPreview).show_message(self.name_shown, "reading…")
        self.run_worker(self._load(), name=f"artifact:{self.name_shown}", group="artifact", exclusive=True, exit_on_error=False)

    async def _load(self) -> None:
        try:
            text = await asyncio.to_thread(read_preview, self.file, FULL_BYTES)
        except PreviewUnavailable as problem:
            self.post_message(self.Loaded(None, str(problem)))
        else:
            self.post_message(self.Loaded(text, None))

    def on_artifact_screen_loaded(self, message: Loaded) -> None:
        view = self.query_one(ArtifactPreview)
        if message.text is not None:
            view.show_text(self.name_shown, message.text)
        else:
            view.show_message(self.name_shown, message.problem or "")

    def action_back(self) -> None:
        self.dismiss()


def open_artifact(screen: Screen[None], out_root: Path | None, path: str) -> None:
    """Open the artifact at `path` (relative to `out_root`): text inside the TUI, anything else in the browser tab or with the system opener."""
    if out_root is None:
        screen.notify(f"cannot open {path}: the session's output folder is not on this machine", severity="warning")
        return
    try:
        file = opener.artifact_file(out_root, path)
    except opener.OutsideOutFolder as refused:
        screen.notify(str(refused), severity="error", timeout=15)
        return
    if not file.is_file():
        screen.notify(f"cannot open {path}: {file} no longer exists", severity="warning", timeout=10)
    elif opener.shows_inside(file):
        screen.app.push_screen(ArtifactScreen(file, path))
    elif screen.app.is_web:
        _deliver_to_browser(screen, file, path)
    else:
        _open_outside(screen, file, path)


def _deliver_to_browser(screen: Screen[None], file: Path, path: str) -> None:
    """Send the file to the browser tab the app runs in: a new tab where the browser shows it, a download otherwise."""
    try:
        handle = opener.open_regular(file)
    except OSError as error:
        screen.notify(f"cannot open {path}: {error.strerror or error}", severity="error", timeout=15)
        return
    shown = file.suffix.lower() in BROWSER_SHOWS
    screen.app.deliver_binary(handle, save_filename=download_name(file), open_method="browser" if shown else "download")
    screen.notify(f"{'opening' if shown else 'downloading'} {path} in this browser")


def download_name(file: Path) -> str:
    """The file's name as the browser gets it: letters, digits, `.`, `-` and `_` only, since it goes into a header unquoted."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", file.name).lstrip(".") or "artifact"


def _open_outside(screen: Screen[None], file: Path, path: str) -> None:
    try:
        opener.open_with_system(file)
    except opener.NoOpener as missing:
        if opener.is_text(file):
            screen.app.push_screen(ArtifactScreen(file, path, notice=f"{missing}, so shown as text"))
        else:
            screen.notify(f"{missing}: open {file} yourself", severity="warning", timeout=15)
    except OSError as error:
        screen.notify(f"cannot open {file}: {error.strerror or error}", severity="error", timeout=15)
    else:
        screen.notify(f"opening {path} with the system opener")
