"""Keeping the Merkle log caught up from a thread of its own (projections.merkle_log folds
and signs; this decides when, and what an error does)."""

from __future__ import annotations

import threading
from typing import Any

from infrastructure.retrying import Retrying
from projections.merkle_log import MerkleLogProjection


class MerkleLogRunner:
    """Keeps the log caught up from a thread of its own, so a head follows new events
    within ``interval`` seconds; ``wake()`` after a save makes it sooner. After an error
    (infrastructure.retrying) a serving process's runner tries again after a pause, doubling;
    with ``retry=False`` (`careledger project`) the first error ends the thread, in ``error``."""

    def __init__(self, projection: MerkleLogProjection, *, interval: float = 0.5, retry: bool = True) -> None:
        self.projection = projection
        self.interval = interval
        self.retry = retry
        self.retrying = Retrying("merkle_log")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._progressed = threading.Condition()
        self._position = 0
        self._thread = threading.Thread(target=self._run, name="merkle-log", daemon=True)

    @property
    def error(self) -> BaseException | None:
        """The error that ended the thread (``retry=False``): a log that silently stops
        growing is worse than a process that says so. None while it follows or retries."""
        return self.retrying.error if self.retrying.stopped else None

    def start(self) -> MerkleLogRunner:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def status(self) -> dict[str, Any]:
        """For /readyz: following (with when a head last covered the whole log), failing or stopped."""
        return self.retrying.status()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        if self.error is not None:
            raise self.error

    def wait(self, position: int, timeout: float) -> bool:
        """True once every event up to ``position`` is in a signed head."""
        self.wake()
        with self._progressed:
            self._progressed.wait_for(
                lambda: self._position >= position or self.error is not None or self._stop.is_set(),
                timeout,
            )
            if self.error is not None:
                raise self.error
            return self._position >= position

    def _round(self) -> None:
        self._wake.clear()
        self.projection.catch_up()
        position = self.projection.store.progress().position
        with self._progressed:
            self._position = position
            self._progressed.notify_all()

    def _run(self) -> None:
        try:
            self.retrying.run(self._round, self._stop, retry=self.retry,
                              pause=lambda: self._wake.wait(self.interval))
        finally:
            with self._progressed:
                self._progressed.notify_all()  # whoever waits learns the thread ended
