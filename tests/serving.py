"""Waiting, within a bound, for what a test started on another thread or process: a server
to answer /healthz, a follower to reach a state."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx


def wait_until_healthy(base_url: str, alive: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("the server ended before answering /healthz")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # a poll interval, bounded by the deadline: not a synchronisation
    raise RuntimeError(f"no healthy answer from {base_url}/healthz within {timeout} s")


def until(done: Callable[[], Any], seconds: float = 30) -> bool:
    """Polls ``done`` until it holds, within a bound: a follower is another thread."""
    deadline, pause = time.monotonic() + seconds, threading.Event()
    while not done():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.02)
    return True
