"""Timeline: the replay's two-line bar: where the cursor is, the markers on the way, and the fleet's totals there."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from textual.content import Content

from tokenmaxx.sessions.player import Cursor
from tokenmaxx.sessions.replay import Marker, MarkerKind, marker_columns
from tokenmaxx.sessions.safe_text import terminal_safe_line
from tokenmaxx.sessions.state import FleetState
from tokenmaxx.tui.format import count, duration, money
from tokenmaxx.tui.widgets.row_strips import RowWidget

MARKER_LOOKS: dict[MarkerKind, tuple[str, str]] = {
    "flag": ("⚑", "bold $agent-stalled"),
    "intervention": ("◆", "bold $secondary"),
    "artifact": ("■", "bold $agent-done"),
    "error": ("✗", "bold $agent-failed"),
}
"""Each marker kind's glyph and style on the bar."""
_PLAYED, _AHEAD, _CURSOR = "━", "─", "●"
PLAY_STATE_WIDTH = len("❚❚ 1000x")


class Timeline(RowWidget):
    """Line one: play state, speed, the bar with its markers and the cursor, seq of last; line two: the fleet at the cursor."""

    DEFAULT_CSS = """
    Timeline {
        height: 2;
        padding: 0 1;
        background: $panel;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.cursor = Cursor(last_seq=0)
        self.state = FleetState()
        self.markers: Sequence[Marker] = ()
        self._shown: tuple[object, ...] | None = None
        self._columns: tuple[tuple[int, int, int], list[MarkerKind | None]] = ((-1, -1, -1), [])

    def show(self, cursor: Cursor, state: FleetState, markers: Sequence[Marker]) -> bool:
        """Take the replay's position; refresh the lines that changed. True when anything shown did."""
        key = (
            cursor.seq, cursor.last_seq, cursor.playing, cursor.speed, cursor.live, len(markers),
            state.seq, state.tokens.total, state.cost_usd, state.unknown_price_tokens, _clock(state),
        )
        if key == self._shown:
            return False
        self._shown = key
        self.cursor, self.state, self.markers = cursor, state, markers
        self.show_rows()
        return True

    @property
    def bar_width(self) -> int:
        """Columns left for the bar once the play state, speed and seq counter have theirs."""
        counter = len(f"{self.cursor.last_seq:,}") * 2 + 1
        return max(0, self.content_region.width - len(self._play_state()) - counter - 3)

    def rows(self) -> list[Content]:
        return [self._bar_row(), self._totals_row()]

    def _play_state(self) -> str:
        """Fixed width whatever the speed, so the bar never shifts."""
        return f"{'▶' if self.cursor.playing else '❚❚'} {self.cursor.speed}x".ljust(PLAY_STATE_WIDTH)

    def _bar_row(self) -> Content:
        cursor = self.cursor
        width = self.bar_width
        counter = f"{cursor.seq:,}/{cursor.last_seq:,}".rjust(len(f"{cursor.last_seq:,}") * 2 + 1)
        return Content.assemble(
            Content.styled(self._play_state(), "bold $primary" if cursor.playing else "bold $foreground 70%"),
            " ",
            self._bar(width),
            " ",
            Content.styled(counter, "$foreground 70%"),
        )

    def _bar(self, width: int) -> Content:
        if width <= 0:
            return Content("")
        at = min(width - 1, round(self.cursor.fraction * (width - 1)))
        cells = []
        for column, kind in enumerate(self._marker_columns(width)):
            if column == at:
                cells.append(Content.styled(_CURSOR, "bold $primary"))
            elif kind is not None:
                cells.append(Content.styled(*MARKER_LOOKS[kind]))
            else:
                cells.append(Content.styled(_PLAYED, "$primary 70%") if column < at else Content.styled(_AHEAD, "$foreground 30%"))
        return Content.assemble(*cells)

    def _marker_columns(self, width: int) -> list[MarkerKind | None]:
        key = (len(self.markers), self.cursor.last_seq, width)
        if key != self._columns[0]:
            self._columns = (key, marker_columns(self.markers, self.cursor.last_seq, width))
        return self._columns[1]

    def _totals_row(self) -> Content:
        state, cursor = self.state, self.cursor
        parts = [
            Content(f"{_clock(state)} in"),
            Content(f"{count(state.tokens.total)} tok"),
            money(state.cost_usd, state.unknown_price_tokens, state.simulated),
        ]
        if cursor.live:
            parts.append(Content.styled("live: following" if cursor.at_end and cursor.playing else "live", "bold $agent-active"))
        nearest = nearest_marker(self.markers, cursor.seq)
        if nearest is not None:
            glyph, style = MARKER_LOOKS[nearest.kind]
            parts.append(Content.assemble(Content.styled(glyph, style), f" #{nearest.seq:,} {terminal_safe_line(nearest.label)}"))
        return Content(" · ").join(parts)


def _clock(state: FleetState) -> str:
    """Session time from its start to the cursor's event; tenths of a second in the first minute, where they tell events apart."""
    seconds = state.last_ts - state.started_at if state.started_at else 0.0
    return f"{seconds:.1f}s" if seconds < 60 else duration(seconds)


def nearest_marker(markers: Sequence[Marker], seq: int) -> Marker | None:
    """The marker closest to `seq` in events, the earlier one on a tie."""
    index = bisect.bisect_left([m.seq for m in markers], seq)
    near = [markers[i] for i in (index - 1, index) if 0 <= i < len(markers)]
    return min(near, key=lambda m: (abs(m.seq - seq), m.seq), default=None)
