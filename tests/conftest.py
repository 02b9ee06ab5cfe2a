"""Guards for every test: no real network, and user data and config kept in temporary folders."""

from __future__ import annotations

import contextlib
import ipaddress
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


class RealNetworkRequest(RuntimeError):
    """A test tried to reach a machine other than this one."""


def _check(address: object) -> None:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        try:
            local = ipaddress.ip_address(host).is_loopback
        except ValueError:
            local = host == "localhost"
        if not local:
            raise RealNetworkRequest(f"tests may only connect to 127.0.0.1, not {host}: use a fake server")


def _guarded_connect(self: socket.socket, address: object) -> None:
    _check(address)
    return _real_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _check(address)
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True, scope="session")
def no_real_network() -> Iterator[None]:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("TOKENMAXX_DB", str(home / "sessions.db"))
    monkeypatch.setenv("TOKENMAXX_CONFIG_DIR", str(home / "config"))
    for key in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    return home


@pytest.fixture(autouse=True)
def fleet_runtime_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private folder for fleet sockets, short since a Unix socket's path is at most 107 bytes."""
    runtime = Path(tempfile.mkdtemp(prefix="tm", dir="/tmp"))
    monkeypatch.setenv("TOKENMAXX_RUNTIME_DIR", str(runtime))
    yield runtime
    for path in runtime.rglob("*.sock"):
        _stop_fleet(path)
    shutil.rmtree(runtime, ignore_errors=True)


def _stop_fleet(path: Path) -> None:
    """Stop a fleet process a failed test left running, and wait until it hangs up."""
    from tokenmaxx.agents import wire

    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(30)
        _real_connect(connection, str(path))
        connection.sendall(wire.line(wire.ClientHello(client="test-teardown", follow=False)) + wire.line(wire.StopFrame(id=1)))
        while connection.recv(65536):
            pass


@pytest.fixture(autouse=True)
def strict_subscribers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A subscriber's bug fails the test that hits it instead of being logged and dropped."""
    from tokenmaxx.sessions.log import EventLog

    monkeypatch.setattr(EventLog, "strict_subscribers", True)


@pytest.fixture(autouse=True)
def no_desktop_notifications(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test pops up a notification on the desktop it runs on; the notification tests bring a fake notify-send."""
    from tokenmaxx.agents import notify

    monkeypatch.setattr(notify, "desktop_program", lambda: None)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[object]:
    """One throwaway PostgreSQL cluster for the whole test session (skipped, with why, where there is none)."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[postgres]')")
    from tests.pg_cluster import ClusterUnavailable, remove_cluster, start_cluster

    try:
        cluster = start_cluster()
    except ClusterUnavailable as error:
        pytest.skip(f"no PostgreSQL server for the tests: {error}")
    yield cluster
    remove_cluster(cluster)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a store test's sessions live: an SQLite file, or a fresh schema on the test cluster."""
    if request.param == "sqlite":
        return tmp_path / "sessions.db"
    return str(request.getfixturevalue("pg_cluster").fresh_url())


@pytest.fixture
def other_store_target(store_target: Path | str, request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """A second, empty place on the same backend as `store_target`, for tests that copy from one store to another."""
    if isinstance(store_target, Path):
        return tmp_path / "other.db"
    return str(request.getfixturevalue("pg_cluster").fresh_url())
