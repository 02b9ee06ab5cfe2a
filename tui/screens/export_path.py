"""ExportPathModal: where a session's Markdown and JSONL exports go, asked before they are written."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class ExportPathModal(ModalScreen[Path | None]):
    """Dismisses with the path typed (enter), its .md and .jsonl written beside it, or None (esc)."""

    CSS_PATH = "export_path.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="export.cancel")]

    def __init__(self, session_id: str, suggested: Path) -> None:
        super().__init__()
        self.session_id = session_id
        self.suggested = suggested

    def compose(self) -> ComposeResult:
        with Vertical(id="export"):
            yield Label(f"Export session {self.session_id} as Markdown and JSONL to (.md and .jsonl are added):", id="prompt")
            yield Input(str(self.suggested), id="path")

    @on(Input.Submitted, "#path")
    def _chosen(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        self.dismiss(Path(text).expanduser() if text else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
