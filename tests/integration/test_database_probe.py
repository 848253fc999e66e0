"""A database URL that cannot be opened fails within 2 s with one line, Chinese and English."""

from __future__ import annotations

import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from infrastructure.database_probe import DatabaseUnavailable
from infrastructure.settings import Settings
from interfaces import bootstrap
from tests.backends import SERVER_URL, database_url, require_postgres

CJK = re.compile(r"[\u4e00-\u9fff]")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError
        data += chunk
    return data


def _refuse_password(conn: socket.socket) -> None:
    """The PostgreSQL wire protocol as far as a refused password: what a server with
    `md5`/`scram` in pg_hba.conf answers (the local server trusts 127.0.0.1)."""
    _read_startup(conn)
    conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
    _, length = struct.unpack("!ci", _read(conn, 5))
    _read(conn, length - 4)
    _send_error(conn, "28P01", 'password authentication failed for user "careledger"')


def _read_startup(conn: socket.socket) -> None:
    while True:
        length, code = struct.unpack("!ii", _read(conn, 8))
        if length == 8 and code in (80877103, 80877104):  # SSLRequest, GSSENCRequest
            conn.sendall(b"N")
            continue
        _read(conn, length - 8)  # the rest of the startup message
        return


def _send_error(conn: socket.socket, sqlstate: str, text: str) -> None:
    fields = b"".join(key + value.encode() + b"\0" for key, value in (
        (b"S", "FATAL"), (b"V", "FATAL"), (b"C", sqlstate), (b"M", text),
    )) + b"\0"
    conn.sendall(b"E" + struct.pack("!i", 4 + len(fields)) + fields)


def _be_full(conn: socket.socket) -> None:
    _read_startup(conn)
    _send_error(conn, "53300", "sorry, too many clients already")


def _say_nothing(conn: socket.socket) -> None:
    conn.recv(1024)  # and answers nothing; the connection stays open until the test ends


@contextmanager
def fake_server(serve: Callable[[socket.socket], None]) -> Iterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []

    def run() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        accepted.append(conn)
        try:
            serve(conn)
        except (ConnectionError, OSError):
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()
        for conn in accepted:
            conn.close()


def _settings(url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=url, signing_key_file=tmp_path / "k.pem", data_key_file=tmp_path / "dk")


def _assert_fails_fast(url: str, tmp_path: Path, *, says: str) -> str:
    started = time.perf_counter()
    with pytest.raises(DatabaseUnavailable) as refused:
        bootstrap.build(_settings(url, tmp_path))
    elapsed = time.perf_counter() - started
    line = refused.value.line
    assert elapsed < 2.0, f"took {elapsed:.2f} s"
    assert "\n" not in line and CJK.search(line) and "Cannot open the database" in line
    assert says in line
    assert "s3cret" not in line
    return line


def test_a_missing_database_fails_within_two_seconds_naming_it(tmp_path: Path) -> None:
    require_postgres()
    _assert_fails_fast(database_url("careledger_no_such_db"), tmp_path, says='database "careledger_no_such_db" does not exist')


def test_an_unknown_role_fails_within_two_seconds_naming_it(tmp_path: Path) -> None:
    require_postgres()
    base = SERVER_URL.replace("postgres@", "careledger_no_such_role@", 1)
    _assert_fails_fast(base, tmp_path, says='role "careledger_no_such_role" does not exist')


def test_a_closed_port_fails_within_two_seconds(tmp_path: Path) -> None:
    port = _closed_port()
    _assert_fails_fast(f"postgresql://postgres@127.0.0.1:{port}/x", tmp_path, says=f"no PostgreSQL server answers at 127.0.0.1:{port}")


def test_a_wrong_password_fails_within_two_seconds_without_echoing_it(tmp_path: Path) -> None:
    with fake_server(_refuse_password) as port:
        _assert_fails_fast(f"postgresql://careledger:s3cret@127.0.0.1:{port}/careledger", tmp_path,
                           says='wrong or missing password for user "careledger"')


def test_a_server_that_never_answers_fails_within_two_seconds(tmp_path: Path) -> None:
    with fake_server(_say_nothing) as port:
        _assert_fails_fast(f"postgresql://postgres@127.0.0.1:{port}/x", tmp_path, says="no PostgreSQL server answers")


@pytest.mark.parametrize("url", ["mysql://root@127.0.0.1/careledger", "postgresql://postgres@127.0.0.1:port/x", "careledger.sqlite"])
def test_a_malformed_url_fails_with_the_form_it_should_have(url: str, tmp_path: Path) -> None:
    _assert_fails_fast(url, tmp_path, says="CARELEDGER_DATABASE_URL")


def test_a_sqlite_file_where_no_directory_can_be_made_fails_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    _assert_fails_fast(f"sqlite:///{tmp_path / 'a-file' / 'careledger.sqlite'}", tmp_path,
                       says="cannot create or write the SQLite database file")


@pytest.mark.parametrize("command", [["units", "add", "x", "单位"], ["serve", "--port", "0"], ["verify"]])
def test_the_command_line_prints_one_line_and_no_traceback(command: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "CARELEDGER_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{_closed_port()}/careledger",
           "CARELEDGER_SIGNING_KEY_FILE": str(tmp_path / "k.pem"), "CARELEDGER_DATA_KEY_FILE": str(tmp_path / "dk")}
    done = subprocess.run([sys.executable, "-m", "interfaces.cli.main", *command], env=env,
                          capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert done.returncode == 3
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert CJK.search(lines[0]) and "no PostgreSQL server answers" in lines[0]


def test_a_full_server_is_left_to_the_pool_to_wait_for(tmp_path: Path) -> None:
    from infrastructure.database_probe import check_database

    with fake_server(_be_full) as port:
        check_database(_settings(f"postgresql://postgres@127.0.0.1:{port}/x", tmp_path))  # no DatabaseUnavailable


@contextmanager
def _down_then_relayed(refusals: int) -> Iterator[tuple[int, list[str]]]:
    """A port of its own: the first ``refusals`` connections are closed at once, as a server
    going down closes them; later ones are relayed to the real server. Yields the port and
    what each connection was given."""
    real = urlsplit(SERVER_URL)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    given: list[str] = []
    opened: list[socket.socket] = []

    def pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            sink.close()

    def run() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            opened.append(conn)
            if len(given) < refusals:
                given.append("closed")
                conn.close()
                continue
            given.append("relayed")
            upstream = socket.create_connection((real.hostname or "127.0.0.1", real.port or 5432))
            opened.append(upstream)
            threading.Thread(target=pipe, args=(conn, upstream), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, conn), daemon=True).start()

    threading.Thread(target=run, daemon=True).start()
    try:
        yield int(listener.getsockname()[1]), given
    finally:
        listener.close()
        for conn in opened:
            conn.close()


@contextmanager
def _tables_behind_a_database_that_was_down(tmp_path: Path) -> Iterator[tuple[Settings, list[str]]]:
    """A scratch database with its tables, reached through a port whose first two connections
    are closed at once; the settings a restarted process would start with."""
    from tests.backends import scratch_database

    require_postgres()
    with scratch_database() as url:
        keys = dict(signing_key_file=tmp_path / "k.pem", data_key_file=tmp_path / "dk",
                    idempotency_key_file=tmp_path / "ik")
        bootstrap.build(Settings(database_url=url, **keys)).close()  # the tables, as `serve` makes them
        with _down_then_relayed(refusals=2) as (port, given):
            relayed = urlsplit(url)._replace(netloc=f"postgres@127.0.0.1:{port}").geturl()
            yield Settings(database_url=relayed, create_tables=False, **keys), given


def test_an_api_worker_started_while_the_database_is_down_waits_for_it_and_then_serves(tmp_path: Path) -> None:
    """uvicorn stops the whole server when a worker it restarts fails to start; a worker
    restarted during a database restart must wait for the database instead."""
    from fastapi.testclient import TestClient

    from interfaces.http.app import create_app

    with _tables_behind_a_database_that_was_down(tmp_path) as (settings, given):
        with TestClient(create_app(settings)) as client:
            assert client.get("/readyz").status_code == 200
        assert given[:3] == ["closed", "closed", "relayed"]


def test_the_runner_started_while_the_database_is_down_waits_for_it(tmp_path: Path) -> None:
    with _tables_behind_a_database_that_was_down(tmp_path) as (settings, given):
        stopping = threading.Event()
        stopping.set()  # opens its followers, then stops at its first look
        bootstrap.run_followers(settings, stopping)
        assert given[:3] == ["closed", "closed", "relayed"]


def test_waiting_for_a_database_that_stays_away_ends_with_its_one_line(tmp_path: Path) -> None:
    from infrastructure.database_probe import wait_for_database

    port = _closed_port()
    retries: list[str] = []
    with pytest.raises(DatabaseUnavailable) as refused:
        wait_for_database(_settings(f"postgresql://postgres@127.0.0.1:{port}/x", tmp_path), 1.0,
                          retrying=lambda unavailable: retries.append(unavailable.line))
    assert retries and all(line == refused.value.line for line in retries)
    assert f"no PostgreSQL server answers at 127.0.0.1:{port}" in refused.value.line
