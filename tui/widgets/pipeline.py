"""PipelineView: the fleet's `after` graph, scrolling both ways, redrawn only when a box or the selection changed."""

from __future__ import annotations

from textual import events
from textual.geometry import Size, Spacing
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import Visual

from tokenmaxx.sessions.state import FleetState
from tokenmaxx.tui.pipeline_drawing import Drawing, NodeView, draw, ghost_view, node_view
from tokenmaxx.tui.pipeline_layout import Layout, lay_out


class PipelineView(ScrollView, can_focus=False):
    """Boxes in layers by dependency depth, left to right; `selected` names a box, kept in view (the screen owns the keys)."""

    DEFAULT_CSS = """
    PipelineView {
        height: 1fr;
        background: $surface;
        scrollbar-size: 1 1;
    }
    """

    class Clicked(Message):
        """A box was clicked; `again` when it was selected already."""

        def __init__(self, name: str, again: bool) -> None:
            super().__init__()
            self.name = name
            self.again = again

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.layout_: Layout = Layout()
        self.selected: str | None = None
        self.drawing = Drawing(rows=[], width=0)
        self._shape: tuple[tuple[str, tuple[str, ...]], ...] | None = None
        self._views: dict[str, NodeView] = {}
        self._drawn: tuple[object, ...] | None = None
        self._strips: dict[int, Strip] = {}

    def show(self, state: FleetState, now: float, selected: str | None) -> bool:
        """Take the latest state; redraw only when a box or the selection would look different. True when redrawn."""
        shape = tuple((a.name, a.after) for a in state.agents.values())
        if shape != self._shape:
            self._shape = shape
            self.layout_ = lay_out({name: after for name, after in shape})
        views = {a.name: node_view(a, now) for a in state.agents.values()}
        views.update({s.agent: ghost_view(s.agent) for s in self.layout_.selectable(0) if s.kind == "ghost"})
        key = (self._shape, selected)
        if key == self._drawn and views == self._views:
            return False
        self._drawn, self._views, self.selected = key, views, selected
        self.drawing = draw(self.layout_, views, selected)
        self._strips.clear()
        self.virtual_size = Size(self.drawing.width, len(self.drawing.rows))
        self.refresh()
        return True

    def reveal(self, name: str | None) -> None:
        """Scroll the box of `name` into view."""
        box = self.drawing.boxes.get(name or "")
        if box is not None:
            self.scroll_to_region(box, spacing=Spacing(1, 2, 1, 2), animate=False, immediate=True)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = y + scroll_y
        width = self.scrollable_content_region.width
        if row >= len(self.drawing.rows):
            return Strip.blank(width, self.rich_style)
        strip = self._strips.get(row)
        if strip is None:
            strips = Visual.to_strips(self, self.drawing.rows[row], self.drawing.width, 1, self.visual_style)
            strip = self._strips[row] = strips[0] if strips else Strip.blank(self.drawing.width, self.rich_style)
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def notify_style_update(self) -> None:
        self._strips.clear()
        super().notify_style_update()

    def on_click(self, event: events.Click) -> None:
        x, y = event.x + self.scroll_offset.x, event.y + self.scroll_offset.y
        for name, box in self.drawing.boxes.items():
            if box.contains(x, y):
                self.post_message(self.Clicked(name, again=name == self.selected))
                return
