"""LeaveModal: q on a fleet running in its own process asks whether to detach from it or stop it."""

from __future__ import annotations

from typing import Literal

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from tokenmaxx.sessions.safe_text import terminal_safe

Leave = Literal["detach", "stop"]


class LeaveModal(ModalScreen[Leave | None]):
    """Dismisses with "detach" (d, enter), "stop" (s) or None (esc: stay)."""

    CSS_PATH = "leave.tcss"
    BINDINGS = [
        Binding("d", "answer('detach')", "Detach", id="leave.detach"),
        Binding("s", "answer('stop')", "Stop the fleet", id="leave.stop"),
        Binding("escape,n", "answer(None)", "Stay", id="leave.stay"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="leave"):
            yield Label(terminal_safe(self.question), id="question")
            with Horizontal(id="buttons"):
                yield Button("Detach (d)", variant="primary", id="detach")
                yield Button("Stop the fleet (s)", variant="error", id="stop")
                yield Button("Stay (esc)", id="stay")

    def on_mount(self) -> None:
        self.query_one("#detach", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None if event.button.id == "stay" else event.button.id)  # type: ignore[arg-type]

    def action_answer(self, choice: Leave | None) -> None:
        self.dismiss(choice)
