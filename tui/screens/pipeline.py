"""PipelineScreen: which agent waits on which, each box with its status, cost and artifacts, and what each edge hands along."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from tokenmaxx.sessions.state import FleetState
from tokenmaxx.tui.format import plural
from tokenmaxx.tui.screens.artifact import open_artifact
from tokenmaxx.tui.screens.supervised import SupervisedScreen
from tokenmaxx.tui.widgets.flag_banner import FlagBanner
from tokenmaxx.tui.widgets.key_footer import KeyFooter
from tokenmaxx.tui.widgets.pipeline import PipelineView

HINT = "boxes by dependency depth, left to right · each edge is labelled with what its agent made, newest first"


class PipelineScreen(SupervisedScreen):
    """The cursor names one box; supervision keys act on its agent, enter zooms into it."""

    CSS_PATH = "pipeline.tcss"
    AUTO_FOCUS = ""
    BINDINGS = [
        Binding("escape,P", "back", "Back", id="pipeline.back"),
        Binding("enter", "zoom", "Zoom", id="pipeline.zoom"),
        Binding("o", "open_artifact", "Open", id="pipeline.open", tooltip="Open the selected agent's latest artifact"),
        Binding("up", "move(0, -1)", "Up", id="pipeline.up", show=False),
        Binding("down,j", "move(0, 1)", "Down", id="pipeline.down", show=False),
        Binding("left,h", "move(-1, 0)", "Left", id="pipeline.left", show=False),
        Binding("right,l", "move(1, 0)", "Right", id="pipeline.right", show=False),
    ]

    def __init__(self, selected: str | None = None) -> None:
        super().__init__()
        self.selected = selected
        self._bar = ""

    def compose(self) -> ComposeResult:
        yield FlagBanner(live=self.cockpit.fleet.live, id="banner")
        yield Static("", id="bar")
        yield PipelineView(id="pipeline")
        yield KeyFooter(compact=True)

    def targets(self) -> list[str]:
        return [self.selected] if self.selected in self.state.agents else []

    def deliverable(self) -> tuple[str, str] | None:
        agent = self.state.agents.get(self.selected or "")
        return (agent.name, agent.artifacts[-1].path) if agent and agent.artifacts else None

    def paint(self, state: FleetState, now: float) -> None:
        self.state = state
        if not self.query(PipelineView):
            return
        view = self.query_one(PipelineView)
        if self.selected not in state.agents and self.selected not in view.drawing.boxes:
            self.selected = next(iter(state.agents), None)
        self.query_one(FlagBanner).show(state)
        if view.show(state, now, self.selected):
            view.call_after_refresh(view.reveal, self.selected)  # once laid out: a view not yet sized cannot scroll
        self._show_bar(view)
        super().paint(state, now)

    def _show_bar(self, view: PipelineView) -> None:
        layers = len(view.layout_.layers)
        text = f"pipeline · {plural(len(self.state.agents), 'agent')} in {plural(layers, 'layer')} · {HINT}"
        if text != self._bar:
            self._bar = text
            self.query_one("#bar", Static).update(text, layout=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "zoom" and self.selected not in self.state.agents:
            return None
        if action == "open_artifact" and self.deliverable() is None:
            return None
        return super().check_action(action, parameters)

    def action_back(self) -> None:
        self.dismiss()

    def action_zoom(self) -> None:
        if self.selected in self.state.agents:
            self.app.push_screen(self.cockpit.agent_screen(self.selected))

    def action_open_artifact(self) -> None:
        deliverable = self.deliverable()
        if deliverable is not None:
            open_artifact(self, self.cockpit.fleet.out_root, deliverable[1])

    def action_move(self, dx: int, dy: int) -> None:
        view = self.query_one(PipelineView)
        where = view.layout_.position(self.selected or "")
        if where is None:
            return
        layer, index = where
        if dy:
            column = view.layout_.selectable(layer)
            names = [s.agent for s in column]
            self._select(names[max(0, min(len(names) - 1, names.index(self.selected or "") + dy))])
        else:
            self._select(_nearest(view, layer, dx, self.selected or ""))

    def _select(self, name: str | None) -> None:
        if name is not None and name != self.selected:
            self.selected = name
            self.refresh_bindings()
            self.cockpit.repaint()

    @on(PipelineView.Clicked)
    def _clicked(self, event: PipelineView.Clicked) -> None:
        if event.again:
            self.action_zoom()
        else:
            self._select(event.name)


def _nearest(view: PipelineView, layer: int, step: int, name: str) -> str | None:
    """The box in the next layer with boxes (left or right) whose middle is nearest to that of `name`."""
    boxes = view.drawing.boxes
    middle = boxes[name].y + boxes[name].height // 2 if name in boxes else 0
    target = layer + step
    while 0 <= target < len(view.layout_.layers):
        column = [s.agent for s in view.layout_.selectable(target) if s.agent in boxes]
        if column:
            return min(column, key=lambda other: abs(boxes[other].y + boxes[other].height // 2 - middle))
        target += step
    return None
