"""Waiting for a server started by a test (a thread or a process) to answer /healthz."""

from __future__ import annotations

import time
from collections.abc import Callable

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
