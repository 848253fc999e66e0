"""Long work started from a request and run on a thread of its own, one at a time.

The dashboard's "verify the whole log" reads every event (about 90 s at 10⁶ events): a
request must not hold a worker and a connection that long, nor may two clicks start two
walks over the log. ``OneAtATime.start`` answers the job running now, or starts one;
the job reports its progress as it goes, and its result or error when done.

Kept in the process's memory only: a restart forgets the job (nothing is lost, the log
is untouched by a verification; the next click runs it again).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)

# work(report) -> result; report(done) tells how far the work has come.
Work = Callable[[Callable[[int], None]], Any]


@dataclass
class Job:
    number: int
    started_by: str
    started_at: datetime
    total: int
    done: int = 0
    finished_at: datetime | None = None
    result: Any = None
    # The failure's class name only: an exception's text may quote stored data.
    error: str | None = None
    _finished: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def running(self) -> bool:
        return not self._finished.is_set()

    @property
    def percent(self) -> int:
        if not self.running:
            return 100
        return min(99, self.done * 100 // self.total) if self.total else 0

    def wait(self, timeout: float | None = None) -> bool:
        """True once the job has finished (for tests and shutdown; requests never wait)."""
        return self._finished.wait(timeout)


class OneAtATime:
    """At most one job running in this process; the latest job is kept to be shown."""

    def __init__(self, clock: Callable[[], datetime], name: str = "careledger-job") -> None:
        self.clock = clock
        self.name = name
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self.latest: Job | None = None

    def start(self, work: Work, *, by: str, total: int) -> tuple[Job, bool]:
        """The job running now and False, or a new job running ``work`` and True."""
        with self._lock:
            if self.latest is not None and self.latest.running:
                return self.latest, False
            job = Job(number=next(self._numbers), started_by=by, started_at=self.clock(), total=total)
            self.latest = job
        thread = threading.Thread(target=self._run, args=(job, work), name=self.name, daemon=True)
        thread.start()
        return job, True

    def _run(self, job: Job, work: Work) -> None:
        def report(done: int) -> None:
            job.done = done

        try:
            job.result = work(report)
        except Exception as error:  # shown on the page and logged, never lost
            job.error = type(error).__name__
            # The type only: an exception's text may quote stored data (a tampered event).
            logger.error("background_job_failed job=%s error=%s", job.number, job.error)
        finally:
            job.finished_at = self.clock()
            job._finished.set()
