"""Notices told through the terminal the TUI runs in: OSC 9, OSC 777 or, where neither is known, the bell.

Terminals show OSC 9 (iTerm2, WezTerm, kitty, Ghostty) or OSC 777 `notify` (foot, urxvt, VTE
terminals such as GNOME Terminal that carry the patch) as a desktop notification even when their
window is hidden; one that knows neither ignores it, so the guess falls back to the bell. Inside
tmux the sequence is wrapped for passthrough, which tmux forwards only with
`set -g allow-passthrough on`. The text is made terminal-safe, so no agent's name or detail can end
the sequence early and smuggle in one of its own.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Literal, TypeAlias, assert_never

from tokenmaxx.agents.notify import Notice, Notifier, NotifySettings, TerminalStyle
from tokenmaxx.sessions.events import Event
from tokenmaxx.sessions.safe_text import terminal_safe_line
from tokenmaxx.sessions.state import FleetState

Style: TypeAlias = Literal["osc9", "osc777", "bell"]
OSC9_PROGRAMS = frozenset({"iTerm.app", "WezTerm", "ghostty"})
OSC9_VARIABLES = ("KITTY_WINDOW_ID", "WEZTERM_PANE", "GHOSTTY_RESOURCES_DIR")
OSC777_TERMS = ("foot", "rxvt-unicode")
TEXT_CHARS = 240
BEL = "\x07"
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


def detect_style(env: Mapping[str, str]) -> Style:
    """The notification sequence the terminal described by `env` most likely shows."""
    if env.get("TERM_PROGRAM") in OSC9_PROGRAMS or env.get("LC_TERMINAL") == "iTerm2" or env.get("TERM") == "xterm-kitty":
        return "osc9"
    if any(name in env for name in OSC9_VARIABLES):
        return "osc9"
    if "VTE_VERSION" in env or env.get("TERM", "").startswith(OSC777_TERMS):
        return "osc777"
    return "bell"


def chosen_style(setting: TerminalStyle, env: Mapping[str, str]) -> Style:
    """The configured style, or for `auto` the one `detect_style` guesses."""
    return detect_style(env) if setting == "auto" else setting


def safe_field(text: str) -> str:
    """`text` as one line with no control left: no BEL, ESC or ST can end the sequence it goes into."""
    line = _CONTROLS.sub("", terminal_safe_line(text))
    return line if len(line) <= TEXT_CHARS else line[: TEXT_CHARS - 1] + "…"


def notice_sequence(notice: Notice, style: Style, *, tmux: bool = False) -> str:
    """What to write to the terminal for `notice`."""
    title, body = safe_field(f"tokenmaxx: {notice.title}"), safe_field(notice.body)
    match style:
        case "osc9":
            sequence = f"\x1b]9;{title}{': ' + body if body else ''}{BEL}"
        case "osc777":
            sequence = f"\x1b]777;notify;{title.replace(';', ',')};{body}{BEL}"
        case "bell":
            return BEL
        case _:
            assert_never(style)
    return _through_tmux(sequence) if tmux else sequence


def _through_tmux(sequence: str) -> str:
    """`sequence` wrapped in tmux's DCS passthrough, its escapes doubled."""
    return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"


class TerminalTap:
    """A fleet subscriber that writes each notice its notifier decides on to the terminal."""

    def __init__(self, notifier: Notifier, write: Callable[[str], None], style: Style, *, tmux: bool = False) -> None:
        self.notifier = notifier
        self.write = write
        self.style = style
        self.tmux = tmux

    @classmethod
    def from_settings(cls, settings: NotifySettings, write: Callable[[str], None], env: Mapping[str, str] = os.environ) -> TerminalTap:
        """The tap `settings` asks for, in the terminal `env` describes."""
        return cls(Notifier(settings.kinds), write, chosen_style(settings.terminal_style, env), tmux="TMUX" in env)

    def __call__(self, event: Event, state: FleetState) -> None:
        notice = self.notifier.notice(event, state)
        if notice is not None:
            self.write(notice_sequence(notice, self.style, tmux=self.tmux))
