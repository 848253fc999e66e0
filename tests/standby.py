"""A throwaway PostgreSQL 15 primary and its streaming standby (``pg_basebackup -R``), each
in a temporary data directory owned by ``postgres`` and run with ``pg_ctl`` as that user.

Its own primary, not the shared server: the shared server's pg_hba.conf has no
``replication`` line (a replication connection is refused), and a base backup of it would
copy every database of everyone using it. initdb's own pg_hba.conf trusts replication
connections from 127.0.0.1, and ``wal_level=replica`` is PostgreSQL 15's default.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

BIN = Path(os.environ.get("CARELEDGER_PG_BIN", "/usr/lib/postgresql/15/bin"))


def unavailable() -> str | None:
    """Why a standby cannot be started here (None: it can)."""
    if not (BIN / "pg_ctl").exists():
        return f"no PostgreSQL binaries in {BIN} (set CARELEDGER_PG_BIN)"
    if os.geteuid() != 0:
        return "starting a PostgreSQL server as the postgres user needs root (runuser)"
    if shutil.which("runuser") is None:
        return "runuser is missing"
    return None


def _as_postgres(*args: str | Path, timeout: float = 60) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *map(str, args)], check=True, timeout=timeout,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _free_ports(count: int) -> list[int]:
    """Ports free now, all different (held open together while they are picked)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class Server:
    data: Path
    port: int
    socket_dir: Path

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, more: str = "") -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.socket_dir} "
                   f"-c fsync=off -c full_page_writes=off {more}")
        _as_postgres(BIN / "pg_ctl", "-D", self.data, "-l", self.data / "server.log", "-o", options, "-w", "start")

    def stop(self) -> None:
        _as_postgres(BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@dataclass
class Pair:
    primary: Server
    standby: Server
    database: str

    def replayed(self, timeout: float = 30.0) -> None:
        """Returns once the standby has replayed everything the primary has written so far."""
        with psycopg.connect(self.primary.url("postgres"), autocommit=True) as conn:
            row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        assert row is not None
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.standby.url("postgres"), autocommit=True) as conn:
            while True:
                done = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (row[0],)).fetchone()
                if done and done[0]:
                    return
                assert time.monotonic() < deadline, "the standby did not replay the primary's WAL in time"
                time.sleep(0.01)

    def standby_sql(self, statement: str) -> None:
        with psycopg.connect(self.standby.url(self.database), autocommit=True) as conn:
            conn.execute(statement)


def _stop_all(servers: list[Server], root: Path) -> None:
    """Each server still running stopped (one that fails to stop is left to its folder's removal)."""
    for server in servers:
        if server.running():
            try:
                server.stop()
            except subprocess.SubprocessError:
                pass
    shutil.rmtree(root, ignore_errors=True)


def _initdb(server: Server) -> None:
    _as_postgres(BIN / "initdb", "-D", server.data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8",
                 "--locale=C.UTF-8")


@contextmanager
def own_server(more: str = "") -> Iterator[Server]:
    """A throwaway server alone (``more``: its extra ``-c`` settings), for a bench that needs
    settings the shared server does not have (bench/districts.py: more connections)."""
    root = Path(tempfile.mkdtemp(prefix="careledger-server-"))
    shutil.chown(root, "postgres", "postgres")
    server = Server(root / "data", _free_ports(1)[0], root)
    try:
        _initdb(server)
        server.start(more)
        yield server
    finally:
        _stop_all([server], root)


@contextmanager
def primary_and_standby(database: str = "careledger") -> Iterator[Pair]:
    root = Path(tempfile.mkdtemp(prefix="careledger-standby-"))
    shutil.chown(root, "postgres", "postgres")
    primary_port, standby_port = _free_ports(2)
    primary = Server(root / "primary", primary_port, root)
    standby = Server(root / "standby", standby_port, root)
    started: list[Server] = []
    try:
        _initdb(primary)
        primary.start()
        started.append(primary)
        with psycopg.connect(primary.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        _as_postgres(BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                     "-D", standby.data, "-R", "-X", "stream", "--checkpoint=fast", "--no-sync")
        standby.start()
        started.append(standby)
        pair = Pair(primary, standby, database)
        pair.replayed()
        yield pair
    finally:
        _stop_all(list(reversed(started)), root)
