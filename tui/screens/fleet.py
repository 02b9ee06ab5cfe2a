"""FleetScreen: every agent as a pane in a grid (or a row in a table), the token meter and the flag banner."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from tokenmaxx.sessions.state import FleetState
from tokenmaxx.tui.agent_filter import AgentFilter, arrange
from tokenmaxx.tui.format import plural
from tokenmaxx.tui.screens.artifact import open_artifact
from tokenmaxx.tui.screens.supervised import SupervisedScreen
from tokenmaxx.tui.widgets.agent_grid import AgentGrid
from tokenmaxx.tui.widgets.agent_table import AgentTable
from tokenmaxx.tui.widgets.flag_banner import FlagBanner
from tokenmaxx.tui.widgets.key_footer import KeyFooter
from tokenmaxx.tui.widgets.token_meter import TokenMeter

SORTS = {"0": "plan", "1": "status", "2": "cost", "3": "tokens", "4": "time"}
_VALUE_SORTS = frozenset({"status", "cost", "tokens", "time"})


class FleetScreen(SupervisedScreen):
    """The cursor names one agent; tagged agents (space) take the bulk actions instead."""

    CSS_PATH = "fleet.tcss"
    AUTO_FOCUS = ""
    BINDINGS = [
        Binding("enter", "zoom", "Zoom", id="zoom"),
        Binding("space", "tag", "Tag", id="tag"),
        Binding("t", "toggle_table", "Table", id="table", tooltip="Switch between the grid and the table"),
        Binding("P", "pipeline", "Pipeline", id="pipeline", tooltip="Which agent waits on which, and what each hands along"),
        Binding("o", "open_artifact", "Open", id="open", tooltip="Open the selected agent's latest artifact"),
        Binding("s", "sessions", "Sessions", id="sessions", tooltip="Every recorded session; enter replays one", show=False),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("f", "status_filter", "Status filter", id="status_filter", show=False),
        Binding("escape", "clear", "Clear", id="clear", tooltip="Clear the tags, else the filter"),
        Binding("up", "move(0, -1)", "Up", id="up", show=False),
        Binding("down,j", "move(0, 1)", "Down", id="down", show=False),
        Binding("left,h", "move(-1, 0)", "Left", id="left", show=False),
        Binding("right,l", "move(1, 0)", "Right", id="right", show=False),
        Binding("pageup", "page(-1)", "Page up", id="page_up", show=False),
        Binding("pagedown", "page(1)", "Page down", id="page_down", show=False),
        Binding("home", "jump(0)", "First", id="first", show=False),
        Binding("end", "jump(-1)", "Last", id="last", show=False),
        *[Binding(key, f"sort('{name}')", f"Sort by {name}", id=f"sort_{name}", show=False) for key, name in SORTS.items()],
    ]

    def __init__(self) -> None:
        super().__init__()
        self.selected: str | None = None
        self.tagged: frozenset[str] = frozenset()
        self.filter = AgentFilter()
        self.sort_by = "plan"
        self.table_mode = False
        self.names: list[str] = []
        self._arranged_for: tuple[object, ...] = ()
        self._viewbar = ""

    def compose(self) -> ComposeResult:
        yield FlagBanner(live=self.cockpit.fleet.live, id="banner")
        yield TokenMeter(id="meter")
        yield Static("", id="viewbar")
        yield AgentGrid(id="grid")
        yield AgentTable(id="table")
        yield Input(placeholder="filter: text or regex; ! in front inverts · enter keeps · esc clears", id="filter")
        yield KeyFooter(compact=True)

    def targets(self) -> list[str]:
        if self.tagged:
            return [name for name in self.names if name in self.tagged] or sorted(self.tagged)
        return [self.selected] if self.selected else []

    def deliverable(self) -> tuple[str, str] | None:
        agent = self.state.agents.get(self.selected or "")
        if agent is None or not agent.artifacts:
            return None
        return agent.name, agent.artifacts[-1].path

    def paint(self, state: FleetState, now: float) -> None:
        self.state = state
        self.query_one(FlagBanner).show(state)
        self.query_one(TokenMeter).show(state, now)
        self._arrange(state, now)
        queued = {name: agent.queued_reprompt for name, agent in state.agents.items() if agent.queued_reprompt}
        shown = [state.agents[name] for name in self.names]
        if self.table_mode:
            table = self.query_one(AgentTable)
            table.paint(shown, now, queued, self.tagged)
            table.select(self.selected)
        else:
            grid = self.query_one(AgentGrid)
            grid.show_agents(shown)
            grid.mark(self.selected, self.tagged)
            grid.paint(state.agents, now, queued)
        self._show_viewbar()
        super().paint(state, now)

    def _arrange(self, state: FleetState, now: float) -> None:
        """Filter and sort the agents, re-sorting by changing values at most once a second."""
        tick = int(now) if self.sort_by in _VALUE_SORTS or self.filter.group != "all" else None
        key = (self.filter, self.sort_by, tuple(state.agents), tick)
        if key != self._arranged_for:
            self._arranged_for = key
            reverse = self.sort_by.endswith(" reversed")
            self.names = [a.name for a in arrange(state.agents.values(), self.filter, self.sort_by.removesuffix(" reversed"), reverse, now)]
        if self.selected not in self.names:
            self.selected = self.names[0] if self.names else None

    def _show_viewbar(self) -> None:
        parts = [f"{'table' if self.table_mode else 'grid'} · {len(self.names)} of {plural(len(self.state.agents), 'agent')}"]
        if self.filter.describe():
            parts.append(f"filter {self.filter.describe()}")
        if self.sort_by != "plan":
            parts.append(f"sorted by {self.sort_by}")
        if self.tagged:
            parts.append(f"{len(self.tagged)} tagged (esc clears)")
        text = "  ·  ".join(parts)
        if text != self._viewbar:
            self._viewbar = text
            self.query_one("#viewbar", Static).update(text, layout=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "sort" and not self.table_mode:
            return None
        if action in ("zoom", "tag") and self.selected is None:
            return None
        if action == "open_artifact" and self.deliverable() is None:
            return None
        if action == "clear":
            return bool(self.tagged) or self.filter != AgentFilter() or self.has_class("-filtering")
        return super().check_action(action, parameters)

    def action_zoom(self) -> None:
        if self.selected:
            self.app.push_screen(self.cockpit.agent_screen(self.selected))

    def action_pipeline(self) -> None:
        from tokenmaxx.tui.screens.pipeline import PipelineScreen

        self.app.push_screen(PipelineScreen(self.selected))

    def action_sessions(self) -> None:
        from tokenmaxx.tui.screens.sessions import SessionsScreen

        self.app.push_screen(SessionsScreen(self.cockpit.store_path))

    def action_open_artifact(self) -> None:
        deliverable = self.deliverable()
        if deliverable is not None:
            open_artifact(self, self.cockpit.fleet.out_root, deliverable[1])

    def action_tag(self) -> None:
        if self.selected:
            self.tagged = self.tagged ^ {self.selected}
            self.refresh_bindings()
            self.cockpit.repaint()

    def action_toggle_table(self) -> None:
        self.table_mode = not self.table_mode
        self.query_one(AgentTable).display = self.table_mode
        self.query_one(AgentGrid).display = not self.table_mode
        if not self.table_mode:
            self.query_one(AgentGrid).reveal(self.selected or "")
        self.refresh_bindings()
        self.cockpit.repaint()

    def action_filter(self) -> None:
        self.set_class(True, "-filtering")
        self.query_one("#filter", Input).focus()

    def action_status_filter(self) -> None:
        self.filter = self.filter.next_group()
        self.refresh_bindings()
        self.cockpit.repaint()

    def action_sort(self, name: str) -> None:
        self.sort_by = f"{name} reversed" if self.sort_by == name and name != "plan" else name
        self.cockpit.repaint()

    def action_clear(self) -> None:
        if self.focused is self.query_one("#filter"):
            self.query_one("#filter", Input).value = ""
            self._leave_filter()
        elif self.tagged:
            self.tagged = frozenset()
        elif self.filter != AgentFilter() or self.has_class("-filtering"):
            self.filter = AgentFilter()
            self.query_one("#filter", Input).value = ""
            self.set_class(False, "-filtering")
        self.refresh_bindings()
        self.cockpit.repaint()

    def action_move(self, dx: int, dy: int) -> None:
        step = dx + dy * (1 if self.table_mode else self.query_one(AgentGrid).columns)
        index = self.names.index(self.selected) if self.selected in self.names else 0
        self._select_index(index + step)

    def action_page(self, pages: int) -> None:
        if self.table_mode:
            step = self.query_one(AgentTable).visible_rows
        else:
            grid = self.query_one(AgentGrid)
            step = grid.columns * max(1, grid.size.height // max(1, grid.pane_height))
        index = self.names.index(self.selected) if self.selected in self.names else 0
        self._select_index(index + pages * step)

    def action_jump(self, index: int) -> None:
        self._select_index(index if index >= 0 else len(self.names) - 1)

    def _select_index(self, index: int) -> None:
        if not self.names:
            return
        self.selected = self.names[max(0, min(len(self.names) - 1, index))]
        if not self.table_mode:
            self.query_one(AgentGrid).reveal(self.selected)
        self.cockpit.repaint()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter = self.filter.with_text(event.value)
        self.refresh_bindings()
        self.cockpit.repaint()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self._leave_filter()

    def _leave_filter(self) -> None:
        if not self.query_one("#filter", Input).value:
            self.set_class(False, "-filtering")
        self.set_focus(None)

    @on(AgentTable.Clicked)
    def _row_clicked(self, event: AgentTable.Clicked) -> None:
        self.selected = event.name
        if event.again:
            self.action_zoom()
        else:
            self.cockpit.repaint()

