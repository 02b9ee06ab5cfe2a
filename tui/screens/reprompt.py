"""RepromptModal: a multi-line message to one or several agents, or the edit of one still waiting."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, TextArea

from tokenmaxx.sessions.safe_text import terminal_safe_line


@dataclass(frozen=True)
class RepromptAnswer:
    """What the person decided: a message to send, or to drop the one waiting."""

    text: str = ""
    drop: bool = False
    now: bool = False


class RepromptModal(ModalScreen[RepromptAnswer | None]):
    """ctrl+s sends (a busy agent gets it at its next safe point), ctrl+n interrupts, ctrl+r drops the waiting message."""

    CSS_PATH = "reprompt.tcss"
    BINDINGS = [
        Binding("ctrl+s", "send", "Send", id="reprompt.send"),
        Binding("ctrl+n", "send(True)", "Send now", id="reprompt.send_now", tooltip="Interrupt a busy agent instead of waiting"),
        Binding("ctrl+r", "drop", "Drop queued", id="reprompt.drop"),
        Binding("escape", "cancel", "Cancel", id="reprompt.cancel"),
    ]

    def __init__(self, targets: list[str], *, busy: list[str], queued: str | None = None, title: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.targets = targets
        self.busy = busy
        self.queued = queued

    def compose(self) -> ComposeResult:
        with Vertical(id="reprompt"):
            yield Label(terminal_safe_line(self.title_text or _title(self.targets)), id="title")
            yield Label(terminal_safe_line(_hint(self.busy, self.queued)), id="hint")
            yield TextArea(self.queued or "", id="message", soft_wrap=True, show_line_numbers=False)
            with Horizontal(id="buttons"):
                if self.queued is not None:
                    yield Button("Drop queued (ctrl+r)", variant="warning", id="drop")
                yield Button("Cancel (esc)", id="cancel")
                if self.busy:
                    yield Button("Send now (ctrl+n)", variant="warning", id="now")
                yield Button("Send (ctrl+s)", variant="primary", id="send")
        yield Footer()

    def on_mount(self) -> None:
        area = self.query_one("#message", TextArea)
        area.focus()
        area.move_cursor(area.document.end)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "drop":
            return self.queued is not None
        if action == "send" and parameters == (True,):
            return bool(self.busy) or self.queued is not None
        return True

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        match event.button.id:
            case "send" | "now":
                self.action_send(now=event.button.id == "now")
            case "drop":
                self.action_drop()
            case _:
                self.action_cancel()

    def action_send(self, now: bool = False) -> None:
        text = self.query_one("#message", TextArea).text.strip()
        if not text:
            self.notify("Type a message first (or esc to cancel).", severity="warning")
            return
        self.dismiss(RepromptAnswer(text=text, now=now))

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
        verb = "is" if len(busy) == 1 else "are"
        return f"{', '.join(busy)} {verb} busy: the message waits for a safe point (editable until then); ctrl+n interrupts now."
    return "The agent gets this message now, as a note from the supervisor."
