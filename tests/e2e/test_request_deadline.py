"""A request not answered within the deadline gets a 504 problem answer; the handler finishes
behind it, its late answer is dropped, and the next request is served as usual.

The real thing — a paused database — is in bench/crash_test.py --pause and --pause-server and
tests/integration/test_stalled_database.py (see docs/RELIABILITY.md)."""

from __future__ import annotations

import threading
import time

from fastapi import FastAPI
from fastapi.testclient import TestClient

from interfaces.http.limits import RequestDeadline


def test_a_stalled_request_is_answered_504_and_the_next_one_is_served() -> None:
    release, finished = threading.Event(), threading.Event()
    app = FastAPI()

    @app.get("/stalls")
    def stalls() -> dict[str, str]:
        release.wait(timeout=10)  # stands for a database that does not answer
        finished.set()
        return {"late": "answer"}

    @app.get("/quick")
    def quick() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(RequestDeadline, seconds=0.3)
    with TestClient(app) as client:
        began = time.monotonic()
        answer = client.get("/stalls")
        waited = time.monotonic() - began
        assert answer.status_code == 504
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["rule"] == "answer_within_deadline"
        assert waited < 5
        assert not finished.is_set(), "the 504 came before the handler finished"
        release.set()
        assert finished.wait(timeout=10)
        assert client.get("/quick").json() == {"status": "ok"}


def test_a_request_answered_in_time_is_untouched() -> None:
    app = FastAPI()

    @app.get("/quick")
    def quick() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(RequestDeadline, seconds=5)
    with TestClient(app) as client:
        answer = client.get("/quick")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
