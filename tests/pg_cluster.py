"""A throwaway PostgreSQL cluster for the tests: initialised in a temporary folder, stopped at the end.

It listens on a unix socket in its folder (trusted: the tests' own login) and on 127.0.0.1 at a
free port (password logins only, for the tests of refused passwords). As root, the server runs
as the `postgres` system user, as PostgreSQL requires. Each test gets a schema of its own
(`fresh_url`), so the cluster starts once per test session.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

ADMIN = "tokenmaxx"
TEAM_USER, TEAM_PASSWORD = "team", "correct-horse-battery"
TIMEOUT_S = 60


class ClusterUnavailable(Exception):
    """PostgreSQL is not installed here, or its cluster could not start; the message says which."""


def _binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or ([shutil.which(name)] if shutil.which(name) else [])
    if not found:
        raise ClusterUnavailable(f"{name} not found (apt-get install postgresql)")
    return str(found[-1])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cluster:
    """A running cluster: where its socket is, and how to reach a schema of one's own."""

    folder: Path
    port: int
    fsync: bool = False

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = ADMIN, schema: str | None = None) -> str:
        """A URL over the unix socket, optionally with its own search_path."""
        options = f"&options={quote(f'-csearch_path={schema}')}" if schema else ""
        return f"postgresql://{ADMIN}@/{database}?host={quote(str(self.folder))}&port={self.port}{options}"

    def tcp_url(self, password: str = TEAM_PASSWORD, database: str = ADMIN) -> str:
        return f"postgresql://{TEAM_USER}:{quote(password)}@127.0.0.1:{self.port}/{database}"

    def fresh_url(self) -> str:
        """A URL whose tables live in a new, empty schema."""
        schema = f"t_{secrets.token_hex(6)}"
        self.sql(f"CREATE SCHEMA {schema}")
        return self.url(schema=schema)

    def sql(self, statement: str, database: str = ADMIN) -> str:
        """Run one statement as the admin and return psql's output."""
        result = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", statement, self.url(database)],
            capture_output=True, text=True, timeout=TIMEOUT_S,
        )
        if result.returncode:
            raise RuntimeError(result.stderr)
        return result.stdout.strip()

    def pg_ctl(self, *args: str) -> None:
        command = [_binary("pg_ctl"), "-D", str(self.data), "-w", "-t", str(TIMEOUT_S), *args]
        subprocess.run(_as_owner(command), check=True, capture_output=True, timeout=TIMEOUT_S + 10)

    def stop(self) -> None:
        self.pg_ctl("-m", "fast", "stop")

    def start(self) -> None:
        sync = "" if self.fsync else " -c fsync=off"
        options = f"-k {self.folder} -p {self.port} -c listen_addresses=127.0.0.1{sync} -c max_connections=200"
        self.pg_ctl("-l", str(self.folder / "log"), "-o", options, "start")


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def start_cluster(*, fsync: bool = False) -> Cluster:
    """Initialise and start a cluster in a new temporary folder (ClusterUnavailable when that cannot be done)."""
    initdb = _binary("initdb")
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise ClusterUnavailable("running as root and there is no postgres user to run the server") from None
    folder = Path(tempfile.mkdtemp(prefix="tokenmaxx-pg-"))
    if os.geteuid() == 0:
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    cluster = Cluster(folder, _free_port(), fsync)
    init = subprocess.run(
        _as_owner([initdb, "-D", str(cluster.data), "-U", ADMIN, "-A", "trust", "--no-sync", "-E", "UTF8"]),
        capture_output=True, text=True, timeout=TIMEOUT_S * 2,
    )
    if init.returncode:
        raise ClusterUnavailable(f"initdb failed: {init.stderr.strip()[-500:]}")
    hba = cluster.data / "pg_hba.conf"
    hba.write_text("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
    try:
        cluster.start()
    except subprocess.CalledProcessError as error:
        log = (folder / "log").read_text(errors="replace")[-800:] if (folder / "log").exists() else ""
        raise ClusterUnavailable(f"the server did not start: {error.stderr!r} {log}") from None
    try:
        cluster.sql(f"CREATE DATABASE {ADMIN}", database="postgres")
        cluster.sql(f"CREATE ROLE {TEAM_USER} LOGIN PASSWORD '{TEAM_PASSWORD}'")
        cluster.sql(f"GRANT ALL ON DATABASE {ADMIN} TO {TEAM_USER}")
        cluster.sql(f"GRANT ALL ON SCHEMA public TO {TEAM_USER}")
    except BaseException:
        remove_cluster(cluster)
        raise
    return cluster


def remove_cluster(cluster: Cluster) -> None:
    """Stop the server and delete its folder."""
    try:
        cluster.stop()
    finally:
        shutil.rmtree(cluster.folder, ignore_errors=True)
