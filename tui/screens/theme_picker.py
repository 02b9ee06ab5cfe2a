"""ThemePicker: switch themes live; enter keeps the one shown, esc goes back to where it was."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option


class ThemePicker(ModalScreen[str | None]):
    """Dismisses with the chosen theme's name, or None when cancelled (the old theme restored)."""

    CSS_PATH = "theme_picker.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="themes.cancel")]

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.names = names
        self.original = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Label("Theme (enter keeps it, esc cancels)", id="title")
            yield OptionList(*[Option(name, id=name) for name in self.names], id="themes")

    def on_mount(self) -> None:
        self.original = self.app.theme
        themes = self.query_one("#themes", OptionList)
        if self.original in self.names:
            themes.highlighted = self.names.index(self.original)
        themes.focus()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id:
            self.app.theme = event.option.id

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.app.theme = self.original
        self.dismiss(None)
