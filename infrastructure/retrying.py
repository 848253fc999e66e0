"""A follower's errors, the one way every follower thread meets them.

In a serving process a follower does not stop at an error (the server restarted, a
connection dropped, a table it reads gone for a while): it logs one line a failure with
their count (the traceback with the first only: a server down for an hour is two hundred
lines, not two hundred tracebacks), tries again after ``first`` seconds, doubling up to
``most``, and after a good round logs that it recovered and waits ``first`` again.
`careledger project` runs its followers with ``retry=False``: the first error ends the
thread, kept in ``error``, and the process, for its supervisor to restart
(docs/OPERATIONS.md).

Each round stores what it folded with its position in one transaction, so a round that
failed half way is done again from the last position stored, and nothing is folded twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger(__name__)

# After an error a serving process's follower tries again this long after, doubling up to RETRY_MOST.
RETRY_FIRST, RETRY_MOST = 1.0, 30.0
# Failing this many rounds in a row (about five minutes at the longest wait) is logged as an error.
STILL_FAILING = 10


class PartsFailed(Exception):
    """A round whose named parts failed (a district's batch of the roll-up) while every other
    part was done: the failure names them, not only the first."""

    def __init__(self, errors: Mapping[str, Exception]) -> None:
        self.errors = dict(errors)
        # The kinds only: a message may quote what a statement read.
        super().__init__(", ".join(f"{part}: {type(error).__name__}" for part, error in sorted(self.errors.items())))


@dataclass(eq=False)
class Retrying:
    """The state of one follower thread: following, failing (since when, how many rounds in
    a row) or stopped (its thread ended on an error). ``name`` begins its log lines
    (``NAME_failed``, ``NAME_recovered``); ``first`` and ``most`` are read at each failure."""

    name: str
    first: float = RETRY_FIRST
    most: float = RETRY_MOST
    # What ``status`` calls the moment of the last good round (a follower's: when it last
    # reached the end of the log), and the parts a PartsFailed names.
    done_key: str = "caught_up_at"
    parts_key: str = "parts"
    # The last round's error while failing or once stopped (None after a good round).
    error: BaseException | None = field(default=None, init=False)
    failures: int = field(default=0, init=False)
    stopped: bool = field(default=False, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    # Since when it fails: wall clock for the answer, monotonic for its length.
    _since: tuple[float, float] | None = field(default=None, init=False, repr=False)
    _done_at: float | None = field(default=None, init=False, repr=False)
    _delay: float | None = field(default=None, init=False, repr=False)

    def run(self, round_: Callable[[], object], stopping: threading.Event, *, retry: bool,
            pause: Callable[[], object] | None = None) -> None:
        """Runs ``round_`` until ``stopping`` is set, ``pause`` after each good one. A round
        may call ``recovered`` itself once it works (a listener whose round lasts as long
        as its connection)."""
        while not stopping.is_set():
            try:
                round_()
            except BaseException as error:  # noqa: BLE001 — kept for the caller and /readyz, and logged
                failures, delay = self.failed(error)
                if not retry:
                    with self._lock:
                        self.stopped = True
                    logger.exception("%s_failed", self.name)
                    return
                self._log(error, failures, delay)
                stopping.wait(delay)
                continue
            self.recovered()
            if pause is not None:
                pause()

    def _log(self, error: BaseException, failures: int, delay: float) -> None:
        # The kind of the error (or each failed part's), never its text.
        parts = error.errors if isinstance(error, PartsFailed) else {}
        level = logging.ERROR if failures == STILL_FAILING else logging.WARNING
        logger.log(level, "%s_failed failures=%d retry_in=%gs error=%s", self.name, failures, delay,
                   str(error) if parts else type(error).__name__, exc_info=failures == 1 and not parts)
        if failures == 1:
            for part, cause in sorted(parts.items()):
                logger.warning("%s_part_failed part=%s", self.name, part, exc_info=cause)

    def failed(self, error: BaseException) -> tuple[int, float]:
        """Counts a failed round; answers the count and how long to wait before the next."""
        with self._lock:
            self.error = error
            self.failures += 1
            if self._since is None:
                self._since = (time.time(), time.monotonic())
            self._delay = self.first if self._delay is None else min(self._delay * 2, self.most)
            return self.failures, self._delay

    def recovered(self) -> None:
        """A round went well: following again, the next failure waits ``first``."""
        with self._lock:
            if self.failures:
                logger.warning("%s_recovered failures=%d", self.name, self.failures)
            self.error, self.failures, self._since, self._delay = None, 0, None, None
            self._done_at = time.time()

    def status(self) -> dict[str, Any]:
        """For /readyz: ``state`` ``following`` (with when the last good round ended),
        ``failing`` (with ``error``, the exception's kind only: a message may quote what a
        statement read; ``failures`` in a row, ``failing_since``, ``failing_seconds``) or
        ``stopped``."""
        with self._lock:
            state = "stopped" if self.stopped else "failing" if self.error is not None else "following"
            answer: dict[str, Any] = {"state": state, self.done_key: _moment(self._done_at)}
            if self.error is not None and self._since is not None:
                since, began = self._since
                answer.update(error=type(self.error).__name__, failures=self.failures, failing_since=_moment(since),
                              failing_seconds=round(time.monotonic() - began, 1))
                if isinstance(self.error, PartsFailed):
                    answer[self.parts_key] = {part: type(e).__name__ for part, e in sorted(self.error.errors.items())}
            return answer


def _moment(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()
