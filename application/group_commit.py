"""Group commit: the events of commands saved at the same time go in one transaction.

A one-event transaction on PostgreSQL costs a table lock, an INSERT, a NOTIFY and a commit
(round trips and an fsync), and the lock makes writers queue behind each other anyway. So
while one thread commits, the others that arrive with events to save wait; when it is
done, the first of them commits everything that gathered in one transaction. Nobody waits
for a timer: a lone command commits at once, and a batch is exactly what arrived during
the previous commit.

All or nothing per command stays true: when a batch fails on a conflict (two commands of
the batch, or a command and another process, wrote the same aggregate version) nothing of
it was stored, and its commands are committed again one by one, so only the command that
lost the race is refused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError, Recording

Record = Callable[[ProcessingEvent[Any]], list[Recording[Any]]]


class _Waiting:
    __slots__ = ("done", "error", "processing", "recordings")

    def __init__(self, processing: ProcessingEvent[Any]) -> None:
        self.processing = processing
        self.recordings: list[Recording[Any]] = []
        self.error: BaseException | None = None
        self.done = False


class GroupCommit:
    """Commits the processing events handed to ``save`` by concurrent threads, batched."""

    def __init__(self, record: Record, *, max_batch: int = 64) -> None:
        self._record = record
        self._max_batch = max_batch
        self._changed = threading.Condition(threading.Lock())
        self._queue: list[_Waiting] = []
        self._leading = False
        self.batches = 0  # transactions committed (the tests count them)

    def save(self, processing: ProcessingEvent[Any]) -> list[Recording[Any]]:
        mine = _Waiting(processing)
        with self._changed:
            self._queue.append(mine)
            self._changed.notify_all()  # lets waiting() watchers see the queue grow
        while not mine.done:
            with self._changed:
                while self._leading and not mine.done:
                    self._changed.wait()
                if mine.done:
                    break
                self._leading = True
                batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch:]
            try:
                self._commit(batch)
            finally:
                with self._changed:
                    self._leading = False
                    self._changed.notify_all()
        if mine.error is not None:
            raise mine.error
        return mine.recordings

    def waiting(self, count: int, timeout: float) -> bool:
        """Blocks until at least ``count`` saves are queued behind a commit (for tests)."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._queue) >= count, timeout)

    def _commit(self, batch: Sequence[_Waiting]) -> None:
        if len(batch) > 1:
            together = ProcessingEvent[Any]()
            for waiting in batch:
                together.events.extend(waiting.processing.events)
                together.aggregates.update(waiting.processing.aggregates)
            try:
                recordings = self._record(together)
            except IntegrityError:
                pass  # nothing was stored: each command is tried on its own below
            except BaseException as error:  # handed to every command of the batch
                self._finish(batch, error=error)
                return
            else:
                self.batches += 1
                for waiting in batch:
                    ids = {e.originator_id for e in waiting.processing.events}
                    waiting.recordings = [r for r in recordings if r.domain_event.originator_id in ids]
                self._finish(batch)
                return
        for waiting in batch:
            try:
                waiting.recordings = self._record(waiting.processing)
                self.batches += 1
            except BaseException as error:  # handed to the waiting command's own thread
                waiting.error = error
        self._finish(batch)

    def _finish(self, batch: Sequence[_Waiting], *, error: BaseException | None = None) -> None:
        for waiting in batch:
            if error is not None:
                waiting.error = error
            waiting.done = True
