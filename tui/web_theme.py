"""A TUI in a browser tab of `tokenmaxx serve`: how it knows, and how it tells the page its theme's background."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.app import App

WEB_DRIVER = "textual.drivers.web_driver:WebDriver"
"""The driver textual-serve runs each tab's app with."""
PAGE_BACKGROUND = "page_background"
"""The meta packet's type; `tokenmaxx serve` passes it on to the page (tui/web.py)."""


def served_in_browser() -> bool:
    """Whether this process is the app of a browser tab, whose web driver stands in for a terminal."""
    return os.environ.get("TEXTUAL_DRIVER") == WEB_DRIVER


def follow_theme(app: App[object]) -> None:
    """Under the web driver, send the page the current theme's background and that of every theme taken later."""
    if app.is_web:
        app.theme_changed_signal.subscribe(app, lambda _theme: _send(app))
        _send(app)


def _send(app: App[object]) -> None:
    from textual.drivers.web_driver import WebDriver

    driver = app._driver
    if isinstance(driver, WebDriver):
        driver.write_meta({"type": PAGE_BACKGROUND, "color": app.get_css_variables().get("background", "")})
