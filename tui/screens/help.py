"""HelpScreen: every key of the screen it was opened from, with what it does and whether it applies now."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Label

INTRO = (
    "Flags: STALLED (no progress: r reprompt), LOOPING (the same call again and again: R restart, which keeps the "
    "agents after it; k kill skips them), BURNING (tokens without progress: r reprompt), OVER BUDGET (stopped: its "
    "budget is spent, no key gives it more), approvals waiting (A). Tag agents with space for bulk kill, pause or "
    "reprompt. ctrl+p finds any command."
)


@dataclass(frozen=True)
class KeyHelp:
    """One key of the help table."""

    keys: str
    description: str
    available: bool


def keys_of(screen: Screen) -> list[KeyHelp]:
    """The keys active on `screen`, grouped by action, in binding order."""
    by_action: dict[str, KeyHelp] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if binding.system or not binding.description:
            continue
        shown = screen.app.get_key_display(Binding(key, binding.action))
        known = by_action.get(binding.action + binding.description)
        keys = f"{known.keys} {shown}" if known else shown
        by_action[binding.action + binding.description] = KeyHelp(keys, binding.description, active.enabled)
    return list(by_action.values())


class HelpScreen(ModalScreen[None]):
    """esc, q or ? closes it; the box scrolls as one (arrows, PageUp/PageDown, Home/End), never sideways."""

    CSS_PATH = "help.tcss"
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def __init__(self, title: str, keys: list[KeyHelp], intro: str = INTRO) -> None:
        super().__init__()
        self.title_text = title
        self.keys = keys
        self.intro = intro

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Label(f"Keys · {self.title_text}", id="title")
            if self.intro:
                yield Label(self.intro, id="intro")
            yield DataTable(id="keys", cursor_type="none", show_header=False)

    def on_mount(self) -> None:
        table = self.query_one("#keys", DataTable)
        table.can_focus = False
        table.add_column("keys", width=18)
        table.add_column("does", width=43)
        for item in self.keys:
            style = "bold $accent" if item.available else "$foreground 50%"
            does = item.description if item.available else f"{item.description} (not now)"
            table.add_row(Content.styled(item.keys, style), Content(does))
