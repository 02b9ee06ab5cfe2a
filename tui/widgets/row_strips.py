"""RowStrips: a widget's content as one Content per row, each rendered to a Strip once and kept until it changes.

Textual re-renders a whole widget when it refreshes. A widget that keeps its rows here instead
overrides `render_line` with `RowStrips.strip`, and refreshes only the rows `update` reports as
changed, so a pane whose last line grew costs one line of rendering, not ten.
"""

from __future__ import annotations

from textual.content import Content
from textual.geometry import Region
from textual.strip import Strip
from textual.visual import Visual
from textual.widget import Widget


class RowStrips:
    """The rows a widget shows and their rendered strips."""

    def __init__(self) -> None:
        self.rows: list[Content] = []
        self._strips: dict[int, Strip] = {}

    def update(self, widget: Widget, rows: list[Content]) -> int:
        """Show `rows` in `widget`, refreshing only the rows that differ; returns how many did."""
        old = self.rows
        changed = [y for y in range(max(len(rows), len(old))) if y >= len(rows) or y >= len(old) or not rows[y].is_same(old[y])]
        self.rows = rows
        width = widget.size.width
        for y in changed:
            self._strips.pop(y, None)
            widget.refresh(Region(0, y, width, 1))
        return len(changed)

    def strip(self, widget: Widget, y: int) -> Strip:
        """Row `y` rendered for `widget` (its width, styles and theme), from the cache when it has not changed."""
        strip = self._strips.get(y)
        if strip is None:
            width = widget.size.width
            row = self.rows[y] if y < len(self.rows) else None
            strips = Visual.to_strips(widget, row, width, 1, widget.visual_style) if row else []
            strip = strips[0] if strips else Strip.blank(width, widget.visual_style.rich_style)
            self._strips[y] = strip
        return strip

    def forget(self) -> None:
        """Drop every rendered strip (the width, the styles or the theme changed)."""
        self._strips.clear()


class RowWidget(Widget):
    """A widget drawn from `rows()`, one Content per row; `show_rows()` repaints only the rows that changed."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.set_reactive(Widget.auto_links, False)
        self._row_strips = RowStrips()

    def rows(self) -> list[Content]:
        """What the widget shows now, one Content per row."""
        raise NotImplementedError

    def show_rows(self) -> int:
        """Bring the screen up to `rows()`; returns how many rows changed."""
        return self._row_strips.update(self, self.rows())

    def render(self) -> Content:
        return Content("\n").join(self.rows())

    def render_line(self, y: int) -> Strip:
        return self._row_strips.strip(self, y)

    def shows_rows_when_resized(self) -> bool:
        """Whether a resize brings the rows up to the new size at once."""
        return True

    def on_resize(self) -> None:
        self._row_strips.forget()
        if self.shows_rows_when_resized():
            self.show_rows()
        self.refresh()

    def notify_style_update(self) -> None:
        self._row_strips.forget()
        super().notify_style_update()
