"""`tokenmaxx serve` in a real headless Chromium: the fleet's screen in the page, a reprompt from it, two tabs, the token."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenmaxx.agents.demo.sample_repo import create_sample_repo
from tokenmaxx.agents import commands as cmd
from tokenmaxx.agents.fleet_client import command, find_fleets
from tokenmaxx.agents.fleet_process import LOG_NAME, LaunchSpec
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.state import reduce_all
from tokenmaxx.sessions.store import Store
from tests.tui.chromium import CHROMIUM, Chromium, Tab
from tests.tui.replay_helpers import DEMO_EVENTS, DEMO_ID
from tests.tui.test_fleet_terminal import actions
from tokenmaxx.tui.fleet_cli import start_fleet

aiohttp = pytest.importorskip("aiohttp")
pytest.importorskip("textual_serve", reason="textual-serve is not installed (the serve extra; .ci/run installs it)")


class Served:
    """A running `tokenmaxx serve`: its process and the URL it printed."""

    def __init__(self, cwd: Path, *args: str) -> None:
        argv = [sys.executable, "-m", "tokenmaxx.tui", "serve", *args, "--port", "0"]
        self.process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        found = re.search(r"http://(\S+?):(\d+)/\?token=(\S+)", line)
        assert found, f"no URL in {line!r}; stderr: {self.process.stderr.read() if self.process.poll() is not None else ''}"  # type: ignore[union-attr]
        self.url, self.token = found[0], found[3]
        self.base = f"http://127.0.0.1:{found[2]}"

    def stop(self) -> str:
        """Stop serving; what it wrote to stderr."""
        self.process.terminate()
        _, err = self.process.communicate(timeout=30)
        return err


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    monkeypatch.setenv("TOKENMAXX_CONFIG_DIR", str(folder))
    monkeypatch.setenv("TOKENMAXX_DB", str(tmp_path / "s.db"))
    return folder


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
async def test_every_request_without_the_token_gets_403_wherever_it_listens(tmp_path: Path, config_dir: Path, host: str) -> None:
    served = Served(tmp_path, "--host", host)
    try:
        async with aiohttp.ClientSession() as anonymous:
            for path in ("/", "/?token=wrong", "/static/js/textual.js", "/download/x", "/ws"):
                async with anonymous.get(served.base + path) as response:
                    assert response.status == 403, path
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await anonymous.ws_connect(served.base + "/ws")
            assert refused.value.status == 403
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as holder:  # unsafe: cookies of an IP address
            async with holder.get(f"{served.base}/?token={served.token}") as response:
                assert response.status == 200 and served.token not in await response.text()
            async with holder.get(served.base + "/static/js/textual.js") as response:
                assert response.status == 200  # the page's own files come with the cookie it set
            with pytest.raises(aiohttp.WSServerHandshakeError) as sandboxed:  # an artifact's page has an opaque origin
                await holder.ws_connect(served.base + "/ws", origin="null")
            assert sandboxed.value.status == 403
    finally:
        err = served.stop()
    assert ("ssh -L" in err and "TLS reverse proxy" in err) == (host != "127.0.0.1")
    assert served.token not in err


def test_serve_refuses_a_fleet_that_is_not_running(tmp_path: Path, config_dir: Path, fleet_runtime_dir: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "tokenmaxx.tui", "serve", "nosuch"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "no running fleet" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture
def demo_fleet(tmp_path: Path, config_dir: Path, fleet_runtime_dir: Path) -> Iterator[LaunchSpec]:
    """A demo fleet process, running headless as `tokenmaxx demo` starts it."""
    repo = create_sample_repo(tmp_path / "repo")
    spec = LaunchSpec(kind="demo", session_id="web1", db=tmp_path / "s.db", out=tmp_path / "out", cwd=repo, speed=5)
    path = start_fleet(spec)
    assert asyncio.run(command(path, "ctl:test", cmd.Pause(agent="charts", by="ctl:test"))) is None  # its loop would spend the budget
    yield spec


async def web_clients() -> list[str]:
    (found,) = await find_fleets()
    assert found.hello is not None, "the fleet is gone"
    return [c for c in found.hello.clients if c.startswith("web:")]


async def wait_clients(count: int) -> None:
    async with asyncio.timeout(20):
        while len(await web_clients()) != count:
            await asyncio.sleep(0.1)


async def select_only(tab: Tab, agent: str) -> None:
    """Filter the fleet screen in `tab` down to `agent`, which selects it."""
    await tab.key("/")
    await tab.wait_for(lambda s: "filter: text or regex" in s, timeout=10)
    await tab.type(agent)
    await tab.wait_for(lambda s: "1 of 5 agents" in s, timeout=10)
    await tab.key("Enter")


async def factcheck_stalled(db: Path) -> bool:
    async with await Store.open(db) as store:
        return "stalled" in reduce_all(await store.events("web1")).agents["factcheck"].flags


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs Debian's chromium where it can)")
async def test_two_tabs_reprompt_the_stalled_agent_and_closing_them_leaves_the_fleet_running(tmp_path: Path, demo_fleet: LaunchSpec) -> None:
    (config_dir := tmp_path / "config").joinpath("config.toml").write_text('theme = "tokenmaxx-light"\n')
    served = Served(demo_fleet.cwd, "web1")
    browser = Chromium(tmp_path)
    try:
        first = await browser.open(served.url)
        await first.wait_for(lambda s: "STALLED" in s and "factcheck" in s, timeout=60)
        assert await first.background() == "rgb(247, 247, 244)"  # tokenmaxx-light's background, around the terminal too
        second = await browser.open(served.url, width=900, height=700)
        await second.wait_for(lambda s: "STALLED" in s and "factcheck" in s)
        await wait_clients(2)

        await select_only(first, "factcheck")
        await first.key("r")
        await first.wait_for(lambda s: "ctrl+s" in s.lower(), timeout=10)
        await first.type("Carry on please")
        await first.key("s", ctrl=True)
        async with asyncio.timeout(20):
            while not any(a[:2] == ("factcheck", "reprompt") and a[2].startswith("web:") for a in actions(Path(demo_fleet.db))):
                await asyncio.sleep(0.1)
        await first.wait_for(lambda s: "1 of 5 agents" in s and "STALLED" not in s and "ctrl+s" not in s.lower())
        await second.wait_for(lambda s: "factcheck" in s and "STALLED" not in s)  # the other tab sees it recover too
        assert not await factcheck_stalled(Path(demo_fleet.db))
        await first.screenshot(tmp_path / "fleet-in-chromium.png")
        assert (tmp_path / "fleet-in-chromium.png").stat().st_size > 10_000

        await browser.close_tab(second)
        await wait_clients(1)
        await browser.close_tab(first)
        await wait_clients(0)  # every tab detached; the fleet runs on
    finally:
        await browser.close()
        err = served.stop()
    assert (await find_fleets())[0].hello is not None
    for kept in (Path(demo_fleet.db), demo_fleet.session_folder() / LOG_NAME):
        assert served.token.encode() not in kept.read_bytes()
    assert served.token not in err


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs Debian's chromium where it can)")
async def test_the_footer_keys_click_and_a_narrower_window_reflows_the_fleet(tmp_path: Path, demo_fleet: LaunchSpec) -> None:
    served = Served(demo_fleet.cwd, "web1")
    browser = Chromium(tmp_path)
    try:
        tab = await browser.open(served.url, width=1400, height=900)
        wide = width(await tab.wait_for(lambda s: "factcheck" in s and "? Help" in s))
        await tab.resize(700, 900)
        narrow = await tab.wait_for(lambda s: "factcheck" in s and width(s) < wide)
        assert width(narrow) == await tab.evaluate("window.__terminal.cols")  # the fleet fills the narrower page, as in a terminal
        await tab.click_text("Help")
        await tab.wait_for(lambda s: "Keys · " in s and "Flags: STALLED" in s, timeout=10)
    finally:
        await browser.close()
        served.stop()


def width(text: str) -> int:
    return max(len(line) for line in text.splitlines())


async def recorded_demo(tmp_path: Path) -> Path:
    """The recorded demo session in the store `tokenmaxx serve` reads, its output folder on this machine with the deck's page in it."""
    out = tmp_path / "out" / DEMO_ID
    (out / "deck").mkdir(parents=True)
    (out / "deck" / "index.html").write_bytes(b"<!doctype html><html><body><h1>The fleet, in charts</h1><script>document.title = 'ran'</script></body></html>\n")
    started = DEMO_EVENTS[0]
    assert isinstance(started, ev.SessionStarted)
    async with await Store.open(tmp_path / "s.db") as store:
        await store.import_events([started.model_copy(update={"out": str(out)}), *DEMO_EVENTS[1:]])
    return out / "deck" / "index.html"


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs Debian's chromium where it can)")
async def test_o_opens_an_artifact_in_a_new_browser_tab_sandboxed_and_behind_the_token(tmp_path: Path, config_dir: Path) -> None:
    page = await recorded_demo(tmp_path)
    served = Served(tmp_path)
    browser = Chromium(tmp_path)
    try:
        downloads = await browser.catch("*/download/*")
        tab = await browser.open(served.url)
        await tab.wait_for(lambda s: DEMO_ID[:6] in s, timeout=60)
        await tab.key("Enter")
        await tab.wait_for(lambda s: "factcheck" in s, timeout=30)
        await tab.key("G")
        await select_only(tab, "deck")
        await tab.key("o")
        caught = await downloads.caught()
        assert caught.status == 200 and "/download/" in caught.url and caught.body == page.read_bytes()
        assert caught.headers["content-type"] == "text/html" and caught.headers["content-disposition"] == "inline; filename=index.html"
        assert caught.headers["content-security-policy"] == "sandbox allow-scripts"  # its scripts run, but not as the fleet's page
        await tab.wait_for(lambda s: "opening deck/index.html in this browser" in s, timeout=10)
        async with aiohttp.ClientSession() as anonymous:
            async with anonymous.get(caught.url) as response:
                assert response.status == 403
    finally:
        await browser.close()
        served.stop()
