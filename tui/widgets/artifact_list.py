"""ArtifactList: an agent's deliverables with their verdicts; the highlighted one is what `a`/`x` review."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tokenmaxx.sessions.safe_text import terminal_safe_line
from tokenmaxx.sessions.state import ArtifactInfo


class ArtifactList(OptionList):
    """One option per artifact, newest last, rebuilt only when the artifacts change."""

    DEFAULT_CSS = """
    ArtifactList { height: auto; max-height: 8; border: round $panel-lighten-2; border-title-color: $primary; }
    ArtifactList:focus { border: round $primary; }
    """

    def __init__(self, *, live: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "artifacts (o open · a accept · x reject)" if live else "artifacts (o open)"
        self.artifacts: tuple[ArtifactInfo, ...] = ()

    @property
    def selected(self) -> ArtifactInfo | None:
        """The highlighted artifact, else the newest."""
        if self.highlighted is not None and self.highlighted < len(self.artifacts):
            return self.artifacts[self.highlighted]
        return self.artifacts[-1] if self.artifacts else None

    def show(self, artifacts: tuple[ArtifactInfo, ...]) -> bool:
        """Take the agent's artifacts; rebuild only when they changed. True when rebuilt."""
        if artifacts is self.artifacts or artifacts == self.artifacts:
            return False
        keep = self.selected.path if self.selected else None
        self.artifacts = artifacts
        self.set_options([Option(_label(a), id=a.path) for a in artifacts])
        paths = [a.path for a in artifacts]
        self.highlighted = paths.index(keep) if keep in paths else (len(paths) - 1 if paths else None)
        return True


def _label(artifact: ArtifactInfo) -> Content:
    mark = {"accepted": ("✓ ", "bold $success"), "rejected": ("✗ ", "bold $error")}.get(artifact.verdict or "", ("· ", ""))
    return Content.assemble(Content.styled(*mark), terminal_safe_line(artifact.path), Content.styled(f"  {artifact.bytes:,} B", "$foreground 60%"))
