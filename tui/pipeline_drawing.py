"""The pipeline drawn as rows of Content: a box per agent, layers left to right, line-drawing edges between.

Edges are drawn as line bits per cell (north, east, south, west), so lines that meet become the
right corner or tee. Each dependency leaves its upstream box on the row of that box's status,
labelled with the upstream agent's latest artifacts, turns on a lane of its own in the gap before
the waiting agent's layer and enters the waiting box with an arrow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from textual.content import Content
from textual.geometry import Region

from tokenmaxx.sessions.safe_text import terminal_safe_line
from tokenmaxx.sessions.state import AgentState
from tokenmaxx.tui.format import count, iteration_label, plan_note, status_of
from tokenmaxx.tui.headless import money
from tokenmaxx.tui.pipeline_layout import Edge, Layout, Slot

NODE_W = 26
NODE_H = 6
PASS_H = 2
LABEL_MAX = 16
MARGIN = 1
EDGE = "$foreground 45%"
LIT_EDGE = "bold $primary"
_N, _E, _S, _W = 1, 2, 4, 8
_LINES = {
    _E: "╶", _W: "╴", _N: "╵", _S: "╷", _E | _W: "─", _N | _S: "│",
    _E | _S: "╭", _W | _S: "╮", _N | _E: "╰", _N | _W: "╯",
    _N | _S | _E: "├", _N | _S | _W: "┤", _E | _W | _S: "┬", _E | _W | _N: "┴", _N | _E | _S | _W: "┼",
}
_BORDERS = {"plain": "╭─╮│╰╯", "selected": "╔═╗║╚╝", "ghost": "┌┄┐┆└┘"}


@dataclass(frozen=True)
class NodeView:
    """What one box shows; equal views draw the same box, so the view is what a repaint compares."""

    name: str
    role: str
    status: str
    tone: str
    cost: str
    iteration: str
    artifacts: tuple[str, ...]
    note: str
    note_style: str
    dim: bool = False
    ghost: bool = False

    @property
    def label(self) -> str:
        """The artifacts handed along this agent's edges, newest first, cut to fit beside a box."""
        return _fit_names(self.artifacts, LABEL_MAX) if self.artifacts else ""


def node_view(agent: AgentState, now: float) -> NodeView:
    """The box of one agent: name, role, status, cost, iteration, the artifacts it made and a note."""
    status = status_of(agent, now)
    note, note_style = _note(agent)
    unknown = agent.unknown_price_tokens and not agent.cost_usd
    cost = "$?" if unknown else money(agent.cost_usd, agent.unknown_price_tokens) + (" sim" if agent.simulated else "")
    names = tuple(PurePosixPath(a.path).name for a in reversed(agent.artifacts))
    return NodeView(agent.name, agent.role, status.label.upper(), status.tone, cost, iteration_label(agent), names, note, note_style, dim=agent.withdrawn)


def ghost_view(name: str) -> NodeView:
    """The box of a name that some agent waits on but no agent has."""
    return NodeView(name, "", "UNKNOWN", "waiting", "", "", (), "no agent by this name", "italic $warning", dim=True, ghost=True)


def _note(agent: AgentState) -> tuple[str, str]:
    if agent.flags and not agent.finished:
        return "⚑ " + " ".join(f.upper().replace("_", " ") for f in agent.flags), "bold $agent-failed"
    note = plan_note(agent)
    if note:
        return note, "italic $warning"
    return f"in {count(agent.tokens.input)} · out {count(agent.shown_output_tokens)}", "$foreground 50%"


def _fit_names(names: tuple[str, ...], width: int) -> str:
    """As many names as fit in `width` cells, then `+N` for the rest."""
    shown = ""
    for index, name in enumerate(names):
        rest = len(names) - index - 1
        candidate = f"{shown}, {name}" if shown else name
        more = f" +{rest}" if rest else ""
        if len(candidate) + len(more) > width:
            left = len(names) - index
            return f"{shown} +{left}" if shown else name[: width - 1] + "…"
        shown = candidate
    return shown


@dataclass
class Drawing:
    """The drawn pipeline: one Content per row, and where each box is."""

    rows: list[Content]
    width: int
    boxes: dict[str, Region] = field(default_factory=dict)


class _Canvas:
    """Cells of text and of line bits; text covers lines."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.chars = [[" "] * width for _ in range(height)]
        self.styles = [[""] * width for _ in range(height)]
        self.bits = [bytearray(width) for _ in range(height)]
        self.text = [bytearray(width) for _ in range(height)]

    def put(self, x: int, y: int, text: str, style: str = "") -> None:
        """Write `text` from (x, y), its controls shown as placeholders, cut at the right edge."""
        for offset, char in enumerate(terminal_safe_line(text)[: max(0, self.width - x)]):
            self.chars[y][x + offset] = char
            self.styles[y][x + offset] = style
            self.text[y][x + offset] = 1

    def hline(self, y: int, x1: int, x2: int, style: str) -> None:
        left, right = min(x1, x2), max(x1, x2)
        for x in range(left, right + 1):
            self.bits[y][x] |= (_E if x < right else 0) | (_W if x > left else 0)
            self.styles[y][x] = style if not self.text[y][x] else self.styles[y][x]

    def vline(self, x: int, y1: int, y2: int, style: str) -> None:
        top, bottom = min(y1, y2), max(y1, y2)
        for y in range(top, bottom + 1):
            self.bits[y][x] |= (_S if y < bottom else 0) | (_N if y > top else 0)
            self.styles[y][x] = style if not self.text[y][x] else self.styles[y][x]

    def rows(self) -> list[Content]:
        return [self._row(y) for y in range(self.height)]

    def _row(self, y: int) -> Content:
        spans: list[tuple[str, str]] = []
        chars, styles, bits, text = self.chars[y], self.styles[y], self.bits[y], self.text[y]
        for x in range(self.width):
            char = chars[x] if text[x] or not bits[x] else _LINES.get(bits[x], "┼")
            style = styles[x] if text[x] or bits[x] else ""
            if spans and spans[-1][1] == style:
                spans[-1] = (spans[-1][0] + char, style)
            else:
                spans.append((char, style))
        return Content.assemble(*spans)


@dataclass
class _Geometry:
    """Where each layer's boxes go, and each slot's top row."""

    columns: list[int]
    label_widths: list[int]
    tops: dict[str, int]
    width: int
    height: int

    def port(self, slot: Slot) -> int:
        """The row an edge leaves or enters `slot` on."""
        return self.tops[slot.key] + (0 if slot.kind == "pass" else 2)


def draw(layout: Layout, views: dict[str, NodeView], selected: str | None) -> Drawing:
    """The whole pipeline with `selected` (an agent or ghost name) in a double box and its edges lit."""
    geometry = _geometry(layout, views)
    canvas = _Canvas(geometry.width, geometry.height)
    _draw_edges(canvas, layout, geometry, views, lit=False, selected=selected)
    _draw_edges(canvas, layout, geometry, views, lit=True, selected=selected)
    drawing = Drawing(rows=[], width=geometry.width)
    sources = {e.source for e in layout.edges}
    for index, layer in enumerate(layout.layers):
        for slot in (s for s in layer if s.kind != "pass"):
            box = Region(geometry.columns[index], geometry.tops[slot.key], NODE_W, NODE_H)
            drawing.boxes[slot.agent] = box
            _draw_box(canvas, box, views[slot.agent], slot.agent == selected)
            if slot.key in sources:
                canvas.put(box.right - 1, geometry.port(slot), "╟" if slot.agent == selected else "├", "bold $primary" if slot.agent == selected else EDGE)
    drawing.rows = canvas.rows()
    return drawing


def _geometry(layout: Layout, views: dict[str, NodeView]) -> _Geometry:
    sources, targets = {e.source for e in layout.edges}, {e.target for e in layout.edges}
    columns: list[int] = []
    label_widths: list[int] = []
    x = MARGIN
    for index, layer in enumerate(layout.layers):
        columns.append(x)
        labels = [len(views[s.agent].label) for s in layer if s.kind != "pass" and s.key in sources]
        label_widths.append(max(labels, default=0) + 2 if any(labels) else 0)
        lanes = sum(s.key in targets for s in layout.layers[index + 1]) if index + 1 < len(layout.layers) else 0
        x += NODE_W + label_widths[-1] + lanes + 3
    tops: dict[str, int] = {}
    height = 0
    for layer in layout.layers:
        y = 0
        for slot in layer:
            tops[slot.key] = y
            y += PASS_H if slot.kind == "pass" else NODE_H + 1
        height = max(height, y)
    width = columns[-1] + NODE_W + MARGIN if columns else 0
    return _Geometry(columns, label_widths, tops, width, max(height, 1))


def _draw_edges(canvas: _Canvas, layout: Layout, geometry: _Geometry, views: dict[str, NodeView], *, lit: bool, selected: str | None) -> None:
    slots = {s.key: s for layer in layout.layers for s in layer}
    into: dict[str, list[Edge]] = {}
    for edge in layout.edges:
        into.setdefault(edge.target, []).append(edge)
    style = LIT_EDGE if lit else EDGE
    for index in range(1, len(layout.layers)):
        left = geometry.columns[index - 1] + NODE_W - 1
        entry = geometry.columns[index]
        lane = left + 2 + geometry.label_widths[index - 1]
        fed = [s for s in layout.layers[index] if s.key in into]
        for lane_index, target in enumerate(fed):
            edges = [e for e in into[target.key] if (selected in (e.origin, e.waiter)) == lit]
            bus = lane + lane_index
            for edge in edges:
                source = slots[edge.source]
                canvas.hline(geometry.port(source), left, bus, style)
                canvas.vline(bus, geometry.port(source), geometry.port(target), style)
                if source.kind != "pass" and views[source.agent].label:
                    canvas.put(left + 2, geometry.port(source), views[source.agent].label, "$accent" if not lit else LIT_EDGE)
            if edges:
                end = entry if target.kind == "pass" else entry - 1
                canvas.hline(geometry.port(target), bus, end, style)
                if target.kind == "pass":
                    canvas.hline(geometry.port(target), entry, entry + NODE_W - 1, style)
                else:
                    canvas.put(end, geometry.port(target), "▶", style)


def _draw_box(canvas: _Canvas, box: Region, view: NodeView, selected: bool) -> None:
    corners = _BORDERS["selected" if selected else "ghost" if view.ghost else "plain"]
    tone = f"$agent-{view.tone}"
    border = "bold $primary" if selected else f"{tone} 50%" if view.dim else tone
    x, y, inner = box.x, box.y, NODE_W - 2
    title = f" {view.name} "[: inner - 1]
    canvas.put(x, y, corners[0] + corners[1] + title + corners[1] * (inner - 1 - len(title)) + corners[2], border)
    canvas.put(x + 2, y, title, f"bold {'$primary' if selected else '$foreground'}")
    dim = " 50%" if view.dim else ""
    lines = [
        [(view.role, f"$foreground 70%{dim}"), (view.iteration, f"bold $secondary{dim}")],
        [(view.status, f"bold {tone}{dim}"), (view.cost, f"$foreground{dim}")],
        [("▸ " + ", ".join(view.artifacts) if view.artifacts else "no artifacts yet", f"$accent{dim}" if view.artifacts else "$foreground 40%")],
        [(view.note, view.note_style)],
    ]
    for row, parts in enumerate(lines, 1):
        canvas.put(x, y + row, corners[3] + " " * inner + corners[3], border)
        _put_parts(canvas, x + 1, y + row, inner, parts)
    canvas.put(x, y + NODE_H - 1, corners[4] + corners[1] * inner + corners[5], border)


def _put_parts(canvas: _Canvas, x: int, y: int, width: int, parts: list[tuple[str, str]]) -> None:
    """One text on the left of a box's row and, when given, a second on its right; both cut to fit."""
    (text, style), *rest = parts
    right = rest[0] if rest and rest[0][0] else None
    room = width - 2 - (len(right[0]) + 1 if right else 0)
    canvas.put(x + 1, y, text if len(text) <= room else text[: max(0, room - 1)] + "…", style)
    if right:
        canvas.put(x + width - 1 - len(right[0]), y, right[0], right[1])
