"""RepromptModal: a multi-line message to one or several agents, or the edit of one still waiting."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, TextArea


@dataclass(frozen=True)
class RepromptAnswer:
    """What the person decided: a message to send, or to drop the one waiting."""

    text: str = ""
    drop: bool = False


class RepromptModal(ModalScreen[RepromptAnswer | None]):
    """ctrl+s sends, ctrl+r drops the waiting message, esc cancels; enter is a new line."""

    CSS_PATH = "reprompt.tcss"
    BINDINGS = [
        Binding("ctrl+s", "send", "Send", id="reprompt.send"),
        Binding("ctrl+r", "drop", "Drop queued", id="reprompt.drop"),
        Binding("escape", "cancel", "Cancel", id="reprompt.cancel"),
    ]

    def __init__(self, targets: list[str], *, busy: list[str], queued: str | None = None) -> None:
        super().__init__()
        self.targets = targets
        self.busy = busy
        self.queued = queued

    def compose(self) -> ComposeResult:
        with Vertical(id="reprompt"):
            yield Label(_title(self.targets), id="title")
            yield Label(_hint(self.busy, self.queued), id="hint")
            yield TextArea(self.queued or "", id="message", soft_wrap=True, show_line_numbers=False)
            with Horizontal(id="buttons"):
                if self.queued is not None:
                    yield Button("Drop queued (ctrl+r)", variant="warning", id="drop")
                yield Button("Cancel (esc)", id="cancel")
                yield Button("Send (ctrl+s)", variant="primary", id="send")

    def on_mount(self) -> None:
        area = self.query_one("#message", TextArea)
        area.focus()
        area.move_cursor(area.document.end)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "drop":
            return self.queued is not None
        return True

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        {"send": self.action_send, "drop": self.action_drop, "cancel": self.action_cancel}[str(event.button.id)]()

    def action_send(self) -> None:
        text = self.query_one("#message", TextArea).text.strip()
        if not text:
            self.notify("Type a message first (or esc to cancel).", severity="warning")
            return
        self.dismiss(RepromptAnswer(text=text))

    def action_drop(self) -> None:
        self.dismiss(RepromptAnswer(drop=True))

    def action_cancel(self) -> None:
        self.dismiss(None)


def _title(targets: list[str]) -> str:
    if len(targets) == 1:
        return f"Reprompt {targets[0]}"
    return f"Reprompt {len(targets)} tagged agents: {', '.join(targets)}"


def _hint(busy: list[str], queued: str | None) -> str:
    if queued is not None:
        return "A message is waiting for this agent's next safe point: edit it and send again, or drop it."
    if busy:
        return f"{', '.join(busy)} {'is' if len(busy) == 1 else 'are'} busy: the message will wait for a safe point, and can be edited or dropped until then."
    return "The agent gets this message now, as a note from the supervisor."
