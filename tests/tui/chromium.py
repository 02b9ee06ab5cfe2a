"""A headless Chromium driven over its DevTools protocol: open tabs, read the served terminal's text, type, click, screenshot."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TERMINAL_HOOK = """
Object.defineProperty(Object.prototype, "fitAddon", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "fitAddon", {value, writable: true, configurable: true, enumerable: true});
    if (this.terminal && this.socket === undefined) { window.__terminal = this.terminal; }
  },
});
"""
"""Run before the page's scripts: textual.js keeps its xterm.js terminal to itself, so catch it as it is built."""
SCREEN_TEXT = """(() => {
  const t = window.__terminal;
  if (!t) return "";
  const lines = [];
  for (let i = 0; i < t.rows; i++) { const line = t.buffer.active.getLine(i); lines.push(line ? line.translateToString(true, 0, t.cols) : ""); }
  return lines.join("\\n");
})()"""
KEYS = {"Enter": (13, "Enter", "\r"), "Escape": (27, "Escape", ""), "Tab": (9, "Tab", "")}


class Chromium:
    """One headless Chromium process with a profile of its own under `folder`."""

    def __init__(self, folder: Path) -> None:
        assert CHROMIUM is not None
        self.folder = folder
        argv = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", "--mute-audio",
                f"--user-data-dir={folder / 'profile'}", "--remote-debugging-port=0", "--remote-allow-origins=*", "about:blank"]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.port = _devtools_port(folder / "profile" / "DevToolsActivePort", self.process)
        self.http = aiohttp.ClientSession()

    async def open(self, url: str, width: int = 1400, height: int = 900) -> Tab:
        """A new tab at `url`, its viewport `width` × `height` pixels."""
        async with self.http.put(f"http://127.0.0.1:{self.port}/json/new?about:blank") as response:
            target = await response.json()
        tab = Tab(target["id"], await self.http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0))
        await tab.call("Page.enable")
        await tab.call("Runtime.enable")
        await tab.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        await tab.call("Page.addScriptToEvaluateOnNewDocument", source=TERMINAL_HOOK)
        await tab.call("Page.navigate", url=url)
        return tab

    async def catch(self, url_pattern: str) -> Tab:
        """The browser's own DevTools session, holding every response to a URL like `url_pattern`, from any tab, for `Tab.caught`."""
        async with self.http.get(f"http://127.0.0.1:{self.port}/json/version") as response:
            version = await response.json()
        browser = Tab("browser", await self.http.ws_connect(version["webSocketDebuggerUrl"], max_msg_size=0))
        await browser.call("Fetch.enable", patterns=[{"urlPattern": url_pattern, "requestStage": "Response"}])
        return browser

    async def close_tab(self, tab: Tab) -> None:
        await tab.socket.close()
        async with self.http.get(f"http://127.0.0.1:{self.port}/json/close/{tab.target}") as response:
            await response.read()

    async def close(self) -> None:
        await self.http.close()
        self.process.kill()
        self.process.wait()


def _devtools_port(path: Path, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text().split()[0])
        assert process.poll() is None, f"chromium exited with {process.returncode}"
        time.sleep(0.05)
    raise AssertionError("chromium did not open its DevTools port")


@dataclass(frozen=True)
class Caught:
    """A response a tab received."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes


class Tab:
    """One page, driven over its DevTools websocket."""

    def __init__(self, target: str, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.target = target
        self.socket = socket
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._paused: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reading = asyncio.create_task(self._read(), name=f"cdp:{target}")

    async def _read(self) -> None:
        async for message in self.socket:
            reply = json.loads(message.data)
            if reply.get("method") == "Fetch.requestPaused":
                self._paused.put_nowait(reply["params"])
            waiting = self._waiting.pop(reply.get("id", -1), None)
            if waiting is not None and not waiting.done():
                waiting.set_result(reply)
        for waiting in self._waiting.values():
            waiting.cancel()

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result; AssertionError on a protocol error."""
        ident = next(self._ids)
        self._waiting[ident] = asyncio.get_running_loop().create_future()
        await self.socket.send_json({"id": ident, "method": method, "params": params})
        reply = await asyncio.wait_for(self._waiting[ident], 30)
        assert "error" not in reply, reply
        return reply["result"]

    async def caught(self, timeout: float = 30) -> Caught:
        """The next response `Chromium.catch` held: its URL, headers and body, then let through to its tab."""
        paused = await asyncio.wait_for(self._paused.get(), timeout)
        body = await self.call("Fetch.getResponseBody", requestId=paused["requestId"])
        await self.call("Fetch.continueResponse", requestId=paused["requestId"])
        data = base64.b64decode(body["body"]) if body["base64Encoded"] else body["body"].encode()
        headers = {h["name"].lower(): h["value"] for h in paused.get("responseHeaders", [])}
        return Caught(paused["request"]["url"], paused.get("responseStatusCode", 0), headers, data)

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result["result"].get("value")

    async def text(self) -> str:
        """The text the page's terminal shows, line by line."""
        return str(await self.evaluate(SCREEN_TEXT))

    async def wait_for(self, condition: Callable[[str], bool], timeout: float = 30, poll: float = 0.1) -> str:
        """The terminal's text once `condition` holds of it; AssertionError with the last text on timeout."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = await self.text()
            if condition(text):
                return text
            await asyncio.sleep(poll)
        raise AssertionError(f"timed out; the page shows:\n{text}")

    async def key(self, key: str, ctrl: bool = False) -> None:
        """Press one key: a printable character, or Enter, Escape or Tab; `ctrl` held for a letter."""
        await self.evaluate("window.__terminal.focus()")
        code, name, text = KEYS[key] if key in KEYS else (ord(key.upper()), key, key)
        event = {"key": name, "code": name if key in KEYS else f"Key{key.upper()}", "windowsVirtualKeyCode": code, "modifiers": 2 if ctrl else 0}
        typed = "" if ctrl else text
        await self.call("Input.dispatchKeyEvent", type="keyDown" if typed else "rawKeyDown", text=typed, unmodifiedText=typed, **event)
        await self.call("Input.dispatchKeyEvent", type="keyUp", **event)

    async def type(self, text: str) -> None:
        for character in text:
            await self.key(character)

    async def click_text(self, needle: str) -> None:
        """Click the first cell of the terminal that shows `needle`."""
        where = await self.evaluate(CELL_OF.replace("NEEDLE", json.dumps(needle)))
        assert where is not None, f"{needle!r} is not on the page"
        for kind in ("mousePressed", "mouseReleased"):
            await self.call("Input.dispatchMouseEvent", type=kind, x=where["x"], y=where["y"], button="left", clickCount=1)

    async def resize(self, width: int, height: int) -> None:
        await self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    async def screenshot(self, path: Path) -> None:
        shot = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))

    async def background(self) -> str:
        return str(await self.evaluate("getComputedStyle(document.body).backgroundColor"))


CELL_OF = """(() => {
  const t = window.__terminal, needle = NEEDLE;
  const box = t.element.querySelector(".xterm-screen").getBoundingClientRect();
  for (let row = t.rows - 1; row >= 0; row--) {
    const col = t.buffer.active.getLine(row).translateToString(true, 0, t.cols).indexOf(needle);
    if (col >= 0) return {x: box.left + (col + 0.5) * box.width / t.cols, y: box.top + (row + 0.5) * box.height / t.rows};
  }
  return null;
})()"""
