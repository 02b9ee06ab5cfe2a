"""`tokenmaxx serve`: the attached TUI in a browser, one `tokenmaxx attach` process per tab, behind a random token.

textual-serve runs the command of each tab under Textual's web driver; this module adds the token
(every page, websocket and download without it gets 403; an artifact a tab opens is sandboxed, so its
scripts cannot reach the fleet), a page of our own (no fonts fetched from
elsewhere, the background following the theme) and a server without an access log, so the token
reaches no log. Only the `serve` command imports it: textual-serve is an optional extra.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import secrets
import shlex
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from tokenmaxx.tui.web_theme import PAGE_BACKGROUND

PAGE = "web_page.html"
TOKEN_PARAM = "token"
DOWNLOAD_HEADERS = {
    "Content-Security-Policy": "sandbox allow-scripts",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
"""On every artifact a tab opens: an origin of its own (no cookie, no websocket to the fleet), its type as sent, no referrer."""
Echo = Callable[..., None]


def tab_command(session_id: str | None) -> str:
    """The shell command each tab runs: attach to the fleet of `session_id`, or the sessions browser."""
    argv = [sys.executable, "-m", "tokenmaxx.tui"]
    return shlex.join([*argv, "attach", session_id] if session_id else argv)


def is_loopback(host: str) -> bool:
    """Whether `host` only listens on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def page_url(host: str, port: int, token: str) -> str:
    """The URL to open: the address served, with the token."""
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/?{TOKEN_PARAM}={token}"


class ThemedAppService(AppService):
    """An app process of one tab whose theme's background is passed on to the page."""

    async def on_meta(self, data: bytes) -> None:
        meta = json.loads(data)
        if meta.get("type") == PAGE_BACKGROUND:
            await self.remote_write_str(json.dumps([PAGE_BACKGROUND, str(meta.get("color", ""))]))
        else:
            await super().on_meta(data)


class TokenServer(Server):
    """textual-serve's server behind a token, with our page; `background` is the page's colour before the app paints."""

    def __init__(self, command: str, host: str, port: int, token: str, background: str) -> None:
        super().__init__(command, host=host, port=port, title="tokenmaxx", templates_path=Path(__file__).parent)
        self.token = token
        self.background = background
        self.cookie = f"tokenmaxx-{hashlib.sha256(token.encode()).hexdigest()[:12]}"  # one per server: cookies ignore ports

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._guard)
        app.on_response_prepare.append(_sandbox_downloads)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        """403 unless the request carries the token, in its query or in the cookie the page got with it."""
        given = request.query.get(TOKEN_PARAM) or request.cookies.get(self.cookie) or ""
        if not secrets.compare_digest(given.encode(), self.token.encode()) or _opaque_origin(request):
            raise web.HTTPForbidden(text="tokenmaxx serve: this needs the URL with the token that `tokenmaxx serve` printed\n")
        response = await handler(request)
        if TOKEN_PARAM in request.query and not response.prepared:
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict", path="/", secure=_secure(request))
        return response

    async def handle_index(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
        scheme = "wss" if _secure(request) else "ws"
        context = {
            "font_size": _font_size(request),
            "app_websocket_url": f"{scheme}://{request.host}/ws",
            "static_url": "/static/",
            "background": self.background,
            "application": {"name": self.title},
        }
        response = aiohttp_jinja2.render_template(PAGE, request, context)
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One tab: its own app process, fed the tab's keys and size, until either side closes."""
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        service = ThemedAppService(
            self.command, write_bytes=websocket.send_bytes, write_str=websocket.send_str, close=websocket.close, download_manager=self.download_manager
        )
        await service.start(_size(request, "width", 80), _size(request, "height", 24))
        try:
            await self._process_messages(websocket, service)
        finally:
            await asyncio.shield(service.stop())
            await websocket.close()
        return websocket

    async def on_startup(self, app: web.Application) -> None:
        """Say nothing: the serve command prints the URL once the port is bound."""


def _opaque_origin(request: web.Request) -> bool:
    """True for a request from a sandboxed artifact (its origin is opaque), which the cookie must not let in."""
    return request.headers.get("Origin") == "null"


async def _sandbox_downloads(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/download/"):
        response.headers.update(DOWNLOAD_HEADERS)


def _secure(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def _font_size(request: web.Request) -> int:
    return _size(request, "fontsize", 16)


def _size(request: web.Request, name: str, default: int) -> int:
    try:
        return max(1, min(int(request.query.get(name, default)), 1000))
    except ValueError:
        return default


async def serve_web(server: TokenServer, echo: Echo) -> None:
    """Serve until cancelled (ctrl+c, SIGTERM): print the URL, and a warning when others can reach the port."""
    runner = web.AppRunner(await server._make_app(), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, server.host, server.port)
        await site.start()
        port = runner.addresses[0][1]
        if not is_loopback(server.host):
            echo(_exposed_warning(server.host, port), err=True)
        echo(f"tokenmaxx serve: open {page_url(server.host, port, server.token)}")
        echo("each tab is one more attached client; closing it detaches; ctrl+c stops serving (the fleet runs on)")
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def _exposed_warning(host: str, port: int) -> str:
    return (
        f"tokenmaxx: warning: serving on {host}, not only this machine: anyone who gets the URL controls the fleet, "
        f"and plain HTTP shows the token to the network. Prefer the default 127.0.0.1 with SSH port forwarding "
        f"(ssh -L {port}:127.0.0.1:{port} THIS-HOST) or a TLS reverse proxy in front."
    )


def theme_background(theme_name: str, themes_dir: Path) -> str:
    """The background colour of the theme called `theme_name`, built-in or the user's; the default theme's otherwise."""
    from tokenmaxx.themes import BUILTIN_THEMES, DEFAULT_THEME, load_user_themes

    themes: dict[str, Any] = {t.name: t for t in BUILTIN_THEMES}
    themes.update((t.name, t) for t in load_user_themes(themes_dir).themes)
    theme = themes.get(theme_name) or themes[DEFAULT_THEME]
    return str(theme.background or "#000000")
