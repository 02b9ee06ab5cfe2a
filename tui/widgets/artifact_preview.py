"""ArtifactPreview: the text of a deliverable: Markdown rendered, SVG and other text shown as text."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.syntax import Syntax
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.message import Message
from textual.widgets import Markdown, Static

from tokenmaxx.sessions.events import DiffSummary
from tokenmaxx.sessions.safe_text import terminal_safe, terminal_safe_line
from tokenmaxx.tui.opener import open_regular
from tokenmaxx.tui.widgets.diff_lines import DiffLine, section_lines

PREVIEW_BYTES = 64_000
_LEXERS = {".diff": "diff", ".svg": "xml", ".html": "html", ".json": "json", ".py": "python", ".csv": "text", ".toml": "toml"}


class PreviewUnavailable(Exception):
    """The artifact cannot be previewed as text; the message says why."""


def read_preview(path: Path, limit: int = PREVIEW_BYTES) -> str:
    """The first `limit` bytes of a text file; raises PreviewUnavailable for missing or binary files."""
    try:
        with open_regular(path) as file:
            data = file.read(limit + 1)
    except OSError as error:
        raise PreviewUnavailable(f"cannot read {path}: {error.strerror or error}") from None
    if b"\0" in data[:4096]:
        raise PreviewUnavailable(f"{path.name} is a binary file: no preview")
    text = data[:limit].decode("utf-8", errors="replace")
    return text + f"\n… (preview cut at {limit:,} bytes)" if len(data) > limit else text


class ArtifactPreview(VerticalScroll):
    """Shows one artifact's text; Markdown files render as Markdown; on a diff, up/down or a click select a line."""

    DEFAULT_CSS = """
    ArtifactPreview { height: 1fr; border: round $panel-lighten-2; border-title-color: $primary; }
    ArtifactPreview > Static { width: auto; }
    """
    BINDINGS = [
        Binding("up", "line(-1)", "Line up", show=False),
        Binding("down", "line(1)", "Line down", show=False),
    ]

    class LineSelected(Message):
        """The selected line of the diff changed."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "preview"
        self.diff_name: str | None = None
        self._diff: tuple[DiffSummary, str] | None = None
        self._rows: list[DiffLine | None] = []
        self._cursor: int | None = None

    @property
    def selected_line(self) -> DiffLine | None:
        """The diff line the cursor is on, if a diff is shown and a line selected."""
        return self._rows[self._cursor] if self._cursor is not None else None

    def compose(self) -> ComposeResult:
        yield Static("no artifact yet", id="preview-text")
        yield Markdown(id="preview-markdown")

    def on_mount(self) -> None:
        self.query_one("#preview-markdown").display = False

    def show_text(self, name: str, text: str) -> None:
        """Show `text` as the content of the artifact called `name`, its controls as placeholders."""
        self._forget_diff()
        self.border_title = terminal_safe_line(f"preview · {name}")
        text = terminal_safe(text)
        markdown = name.endswith((".md", ".markdown"))
        self.query_one("#preview-markdown", Markdown).display = markdown
        self.query_one("#preview-text", Static).display = not markdown
        if markdown:
            self.query_one("#preview-markdown", Markdown).update(text)
        else:
            lexer = _LEXERS.get(Path(name).suffix.lower(), "text")
            theme = "ansi_dark" if self.app.current_theme.dark else "ansi_light"
            self.query_one("#preview-text", Static).update(Syntax(text, lexer, theme=theme, word_wrap=False))
        self.scroll_home(animate=False)

    def show_diff(self, name: str, diff: DiffSummary, patch: str) -> None:
        """Show a worktree's diff: what it changes and whether it merges, then each file's patch highlighted."""
        self.border_title = terminal_safe_line(f"diff · {name}")
        self.query_one("#preview-markdown", Markdown).display = False
        self.query_one("#preview-text", Static).display = True
        self.diff_name, self._diff, self._cursor = name, (diff, terminal_safe(patch)), None
        self._rows = diff_rows(*self._diff)
        self._paint_diff()
        self.scroll_home(animate=False)
        self.post_message(self.LineSelected())

    def _paint_diff(self) -> None:
        if self._diff is not None:
            theme = "ansi_dark" if self.app.current_theme.dark else "ansi_light"
            self.query_one("#preview-text", Static).update(Group(*diff_renderables(*self._diff, theme, self._cursor)))

    def _forget_diff(self) -> None:
        self.diff_name, self._diff, self._rows, self._cursor = None, None, [], None
        self.post_message(self.LineSelected())

    def action_line(self, step: int) -> None:
        """Move the cursor to the next (or previous) line of a hunk; without a diff, scroll."""
        lines = [row for row, line in enumerate(self._rows) if line is not None]
        if not lines:
            self.scroll_relative(y=step, animate=False)
            return
        ahead = [row for row in lines if self._cursor is None or (row - self._cursor) * step > 0]
        self._select((min if step > 0 else max)(ahead) if ahead else self._cursor)

    def _select(self, row: int | None) -> None:
        if row is None or row == self._cursor:
            return
        self._cursor = row
        self._paint_diff()
        self.scroll_to_region(Region(0, row, 1, 1), animate=False, immediate=True)
        self.post_message(self.LineSelected())

    def on_click(self, event: events.Click) -> None:
        text = self.query_one("#preview-text", Static)
        row = event.screen_y - text.region.y
        if 0 <= row < len(self._rows) and self._rows[row] is not None:
            self._select(row)

    def show_message(self, name: str, message: str) -> None:
        """Say why there is nothing to show."""
        self._forget_diff()
        self.border_title = terminal_safe_line(f"preview · {name}") if name else "preview"
        self.query_one("#preview-markdown", Markdown).display = False
        text = self.query_one("#preview-text", Static)
        text.display = True
        text.update(terminal_safe(message))


def diff_renderables(diff: DiffSummary, patch: str, theme: str, cursor: int | None = None) -> list[RenderableType]:
    """A summary line, then per file a rule naming it with its counts and its hunks in the diff lexer; the cursor's row reversed."""
    merges = f"merges cleanly into {diff.target}" if diff.applies else f"does not merge cleanly into {diff.target}"
    if diff.target is None:
        merges = "started from no branch: merge it by hand"
    head = Text(terminal_safe_line(f"{len(diff.files)} files · +{diff.added} −{diff.removed} · {diff.branch} · {merges}"))
    parts: list[RenderableType] = [head]
    if diff.refused:
        parts.append(Text(terminal_safe_line(f"accept refused: {diff.refused}"), style="bold"))
    counts = {f.path: f for f in diff.files}
    row = len(parts)
    for section in split_patch(patch):
        path = _section_path(section)
        file = counts.get(path)
        title = f"{path}  +{file.added} −{file.removed}" if file else path
        syntax = Syntax(section, "diff", theme=theme, word_wrap=False)
        line = (cursor - row) if cursor is not None else 0
        if 0 < line <= len(section.splitlines()):
            syntax.stylize_range("reverse", (line, 0), (line + 1, 0))
        parts += [Rule(terminal_safe_line(title), align="left"), syntax]
        row += 1 + len(section.splitlines())
    return parts


def diff_rows(diff: DiffSummary, patch: str) -> list[DiffLine | None]:
    """What each row `diff_renderables` draws shows: a hunk's line, or None for the summary, rules and headers."""
    rows: list[DiffLine | None] = [None, None] if diff.refused else [None]
    for section in split_patch(patch):
        rows += [None, *section_lines(_section_path(section), section)]
    return rows


def split_patch(patch: str) -> list[str]:
    """A git patch cut into one section per file, each starting at its `diff --git` line."""
    sections: list[str] = []
    for line in patch.splitlines(keepends=True):
        if line.startswith("diff --git ") or not sections:
            sections.append(line)
        else:
            sections[-1] += line
    return [section.rstrip("\n") for section in sections if section.strip()]


def _section_path(section: str) -> str:
    """The file a section of a git patch changes, from its `+++ b/` line (its `--- a/` one for a deletion)."""
    for line in section.splitlines():
        if line.startswith("+++ b/"):
            return line[len("+++ b/") :]
    for line in section.splitlines():
        if line.startswith("--- a/"):
            return line[len("--- a/") :]
    return section.splitlines()[0].removeprefix("diff --git ") if section else ""
