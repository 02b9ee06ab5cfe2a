"""The built-in themes and the theme variables of our own that stylesheets may use."""

from __future__ import annotations

from textual.theme import Theme

DEFAULT_THEME = "tokenmaxx-dark"

THEME_VARIABLES: dict[str, str] = {
    "agent-active": "#5fb3ff",
    "agent-waiting": "#8b93a7",
    "agent-paused": "#b48ead",
    "agent-approval": "#ffb454",
    "agent-stalled": "#ffb454",
    "agent-looping": "#ff7edb",
    "agent-done": "#4fd18b",
    "agent-failed": "#ff5f6d",
    "agent-killed": "#c05a65",
    "cost-unknown": "#ffb000",
    "cost-sim": "#8b93a7",
    "meter-bar": "#5fb3ff",
}
"""Defaults for our variables; a theme overrides any of them in its `variables`."""


def _dark() -> Theme:
    return Theme(
        name=DEFAULT_THEME,
        primary="#5fb3ff",
        secondary="#8a7dff",
        accent="#ffb454",
        warning="#ffb454",
        error="#ff5f6d",
        success="#4fd18b",
        foreground="#d7dde8",
        background="#0f1117",
        surface="#161a23",
        panel="#1e2330",
        dark=True,
        variables=dict(THEME_VARIABLES),
    )


def _light() -> Theme:
    return Theme(
        name="tokenmaxx-light",
        primary="#1f6feb",
        secondary="#6f42c1",
        accent="#b35900",
        warning="#b35900",
        error="#c62828",
        success="#2e7d32",
        foreground="#1d2330",
        background="#f7f7f4",
        surface="#ffffff",
        panel="#e4e7ec",
        dark=False,
        variables={
            "agent-active": "#1f6feb",
            "agent-waiting": "#5c6370",
            "agent-paused": "#7b4f9d",
            "agent-approval": "#b35900",
            "agent-stalled": "#b35900",
            "agent-looping": "#b3147a",
            "agent-done": "#2e7d32",
            "agent-failed": "#c62828",
            "agent-killed": "#8e2430",
            "cost-unknown": "#b36b00",
            "cost-sim": "#5c6370",
            "meter-bar": "#1f6feb",
        },
    )


def _contrast() -> Theme:
    return Theme(
        name="tokenmaxx-contrast",
        primary="#00ffff",
        secondary="#ffffff",
        accent="#ffff00",
        warning="#ffff00",
        error="#ff3030",
        success="#00ff00",
        foreground="#ffffff",
        background="#000000",
        surface="#000000",
        panel="#262626",
        dark=True,
        luminosity_spread=0.25,
        text_alpha=1.0,
        variables={
            "agent-active": "#00ffff",
            "agent-waiting": "#ffffff",
            "agent-paused": "#ff80ff",
            "agent-approval": "#ffff00",
            "agent-stalled": "#ffff00",
            "agent-looping": "#ff00ff",
            "agent-done": "#00ff00",
            "agent-failed": "#ff3030",
            "agent-killed": "#ff3030",
            "cost-unknown": "#ffff00",
            "cost-sim": "#ffffff",
            "meter-bar": "#00ffff",
        },
    )


def _phosphor() -> Theme:
    return Theme(
        name="tokenmaxx-phosphor",
        primary="#33ff99",
        secondary="#1fb872",
        accent="#ffcc33",
        warning="#ffcc33",
        error="#ff5555",
        success="#33ff99",
        foreground="#b8ffd9",
        background="#07130d",
        surface="#0b1d14",
        panel="#12301f",
        dark=True,
        variables={
            "agent-active": "#33ff99",
            "agent-waiting": "#5e9c7b",
            "agent-paused": "#99cc66",
            "agent-approval": "#ffcc33",
            "agent-stalled": "#ffcc33",
            "agent-looping": "#ff9966",
            "agent-done": "#66ffcc",
            "agent-failed": "#ff5555",
            "agent-killed": "#cc4444",
            "cost-unknown": "#ffb000",
            "cost-sim": "#5e9c7b",
            "meter-bar": "#33ff99",
        },
    )


BUILTIN_THEMES: tuple[Theme, ...] = (_dark(), _light(), _contrast(), _phosphor())
