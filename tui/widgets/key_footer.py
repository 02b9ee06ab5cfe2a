"""KeyFooter: Textual's footer with help and quit first, so a narrow terminal cuts a screen's own keys, never those two."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

FIRST = ("help", "quit")
"""The actions whose keys lead the footer, in this order."""


class KeyFooter(Footer):
    """The keys that do not fit scroll off to the right; the help (?) and the palette (^p) list them all."""

    DEFAULT_CSS = """
    KeyFooter.-compact FooterKey.-command-palette {
        margin-right: 0;
    }
    """

    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        first = sorted((k for k in keys if isinstance(k, FooterKey) and k.action in FIRST), key=lambda k: FIRST.index(k.action))
        yield from first
        yield from (k for k in keys if k not in first)
