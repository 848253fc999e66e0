"""A database that stops answering (a paused server, a frozen network): requests end in 503/504
problem answers within the request deadline, the process keeps answering, and once the
database answers again a retry with the same Idempotency-Key stores the command exactly once.

The database is frozen by a TCP relay in front of the shared PostgreSQL server, so this runs in
the normal suite without stalling anyone else; `test_crash.py` stops the real server (slow)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from fastapi.testclient import TestClient

from infrastructure.database_probe import database_answers, postgres_conninfo
from interfaces import bootstrap
from interfaces.http.app import create_app
from tests.backends import scratch_schema, settings_for
from tests.district import seed

DEADLINE = 3.0  # above /readyz's own connect timeout (2 s)
# A loaded 2-CPU machine may answer this much after the deadline; a hang takes far longer.
SLACK = 2.5


class FreezableRelay:
    """Relays TCP connections to ``target``; while frozen it moves no byte and accepts no
    connection (they wait in the listen backlog), as a server stopped with SIGSTOP does."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.flowing = threading.Event()
        self.flowing.set()
        self.closed = False
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self) -> None:
        self.flowing.clear()

    def thaw(self) -> None:
        self.flowing.set()

    def close(self) -> None:
        self.closed = True
        self.flowing.set()
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self.closed:
            self.flowing.wait()
            try:
                inbound, _ = self.listener.accept()
                outbound = socket.create_connection(self.target)
            except OSError:
                return
            self.sockets += [inbound, outbound]
            for source, sink in ((inbound, outbound), (outbound, inbound)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                self.flowing.wait()
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@contextmanager
def relayed(url: str) -> Iterator[tuple[FreezableRelay, str]]:
    parts = urlsplit(url)
    relay = FreezableRelay((parts.hostname or "127.0.0.1", parts.port or 5432))
    netloc = f"{parts.username or 'postgres'}@127.0.0.1:{relay.port}"
    try:
        yield relay, urlunsplit(parts._replace(netloc=netloc))
    finally:
        relay.close()


@contextmanager
def frozen(relay: FreezableRelay) -> Iterator[None]:
    relay.freeze()
    try:
        yield
    finally:
        relay.thaw()


def timed(call):  # type: ignore[no-untyped-def]
    began = time.monotonic()
    answer = call()
    return answer, time.monotonic() - began


@pytest.mark.postgres
def test_connections_to_a_database_that_never_answers_give_up_after_their_connect_timeout(
    tmp_path: Path, postgres_database: str,
) -> None:
    """An empty password made libpq read `connect_timeout=5` as the password: a connection to a
    stopped server then waited psycopg's default of 130 s."""
    with relayed(postgres_database) as (relay, url), frozen(relay):
        settings = settings_for("postgres", tmp_path, url, "public")
        answered, waited = timed(lambda: database_answers(settings))
        assert answered is False and waited < 2 + SLACK
        began = time.monotonic()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(postgres_conninfo(settings, connect_timeout=3))
        assert time.monotonic() - began < 3 + SLACK


@pytest.mark.postgres
def test_a_stalled_database_gets_problem_answers_in_time_and_a_retried_command_is_stored_once(
    tmp_path: Path, postgres_database: str,
) -> None:
    with relayed(postgres_database) as (relay, url), scratch_schema(postgres_database) as schema:
        settings = settings_for("postgres", tmp_path, url, schema).model_copy(
            update={"request_deadline_seconds": DEADLINE})
        services = bootstrap.build(settings)
        try:
            district = seed(services)
            sup = {"Authorization": f"Bearer {district.tokens['supervisor']}"}
            with TestClient(create_app(services=services), raise_server_exceptions=False) as client:
                plan = client.post("/api/v1/plans", headers=sup, json={
                    "number": "汉司〔2019〕1号", "title": "方案", "issuer_unit": "bgs", "year": 2019}).json()["id"]
                issue = client.post("/api/v1/issues", headers=sup, json={
                    "plan_id": plan, "seq": 1, "duty": "职责", "problem": "问题", "units": ["sfs-cq"],
                    "measures": []}).json()["id"]

                def urge():  # type: ignore[no-untyped-def]
                    return client.post(f"/api/v1/issues/{issue}/urgings", json={
                        "unit": "sfs-cq", "message": "请报送进展", "reply_by": "2099-12-31"},
                        headers={**sup, "Idempotency-Key": "urge-while-stalled"})

                with frozen(relay):
                    stalled, waited = timed(urge)
                    assert stalled.status_code in (503, 504), stalled.text
                    assert stalled.headers["content-type"] == "application/problem+json"
                    assert waited < DEADLINE + SLACK
                    ready, waited = timed(lambda: client.get("/readyz"))
                    assert ready.status_code == 503 and ready.json()["rule"] == "database_unreachable"
                    assert waited < DEADLINE + SLACK
                    assert client.get("/healthz").status_code == 200

                # The stalled handler goes on once the database answers, and may store the
                # urging; the retry is then answered from its kept answer, or 409 while it runs.
                retried = urge()
                give_up = time.monotonic() + 30
                while retried.status_code != 201 and time.monotonic() < give_up:
                    assert retried.status_code in (409, 503, 504), retried.text
                    time.sleep(0.2)  # retry back-off, as a client would
                    retried = urge()
                assert retried.status_code == 201, retried.text
                assert urge().json() == retried.json()
                urgings = client.get(f"/api/v1/issues/{issue}", headers=sup).json()["urgings"]
                assert [u["message"] for u in urgings] == ["请报送进展"]
        finally:
            services.close()
