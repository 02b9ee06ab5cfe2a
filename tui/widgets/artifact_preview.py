"""ArtifactPreview: the text of a deliverable: Markdown rendered, SVG and other text shown as text."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown, Static

from sessions.events import DiffSummary
from sessions.safe_text import terminal_safe, terminal_safe_line
from tui.opener import open_regular

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

    def show_diff(self, name: str, diff: DiffSummary, patch: str) -> None:
        """Show a worktree's diff: what it changes and whether it merges, then each file's patch highlighted."""
        self.border_title = terminal_safe_line(f"diff · {name}")
        self.query_one("#preview-markdown", Markdown).display = False
        text = self.query_one("#preview-text", Static)
        text.display = True
        theme = "ansi_dark" if self.app.current_theme.dark else "ansi_light"
        text.update(Group(*diff_renderables(diff, terminal_safe(patch), theme)))
        self.scroll_home(animate=False)

    def show_message(self, name: str, message: str) -> None:
        """Say why there is nothing to show."""
        self.border_title = terminal_safe_line(f"preview · {name}") if name else "preview"
        self.query_one("#preview-markdown", Markdown).display = False
        text = self.query_one("#preview-text", Static)
        text.display = True
        text.update(terminal_safe(message))


def diff_renderables(diff: DiffSummary, patch: str, theme: str) -> list[RenderableType]:
    """A summary line, then per file a rule naming it with its counts and its hunks in the diff lexer."""
    merges = f"merges cleanly into {diff.target}" if diff.applies else f"does not merge cleanly into {diff.target}"
    if diff.target is None:
        merges = "started from no branch: merge it by hand"
    head = Text(terminal_safe_line(f"{len(diff.files)} files · +{diff.added} −{diff.removed} · {diff.branch} · {merges}"))
    parts: list[RenderableType] = [head]
    if diff.refused:
        parts.append(Text(terminal_safe_line(f"accept refused: {diff.refused}"), style="bold"))
    counts = {f.path: f for f in diff.files}
    for section in split_patch(patch):
        path = _section_path(section)
        file = counts.get(path)
        title = f"{path}  +{file.added} −{file.removed}" if file else path
        parts += [Rule(terminal_safe_line(title), align="left"), Syntax(section, "diff", theme=theme, word_wrap=False)]
    return parts


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
