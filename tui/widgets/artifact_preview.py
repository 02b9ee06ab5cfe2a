"""ArtifactPreview: the text of a deliverable: Markdown rendered, SVG and other text shown as text."""

from __future__ import annotations

from pathlib import Path

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown, Static

from sessions.safe_text import terminal_safe, terminal_safe_line
from tui.opener import open_regular

PREVIEW_BYTES = 64_000
_LEXERS = {".svg": "xml", ".html": "html", ".json": "json", ".py": "python", ".csv": "text", ".toml": "toml"}


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
    """Shows one artifact's text; Markdown files render as Markdown."""

    DEFAULT_CSS = """
    ArtifactPreview { height: 1fr; border: round $panel-lighten-2; border-title-color: $primary; }
    ArtifactPreview > Static { width: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "preview"

    def compose(self) -> ComposeResult:
        yield Static("no artifact yet", id="preview-text")
        yield Markdown(id="preview-markdown")

    def on_mount(self) -> None:
        self.query_one("#preview-markdown").display = False

    def show_text(self, name: str, text: str) -> None:
        """Show `text` as the content of the artifact called `name`, its controls as placeholders."""
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

    def show_message(self, name: str, message: str) -> None:
        """Say why there is nothing to show."""
        self.border_title = terminal_safe_line(f"preview · {name}") if name else "preview"
        self.query_one("#preview-markdown", Markdown).display = False
        text = self.query_one("#preview-text", Static)
        text.display = True
        text.update(terminal_safe(message))
