"""Folding the log into the views in batches, each batch one transaction with its position.

On PostgreSQL the write of a batch (mostly the server's work, on the other core) overlaps
the read, decoding and fold of the next: the next batch takes the summaries the pending
one changed from memory, and is written only once that one has committed, moving the
position on from it. If that write fails, the batch folded on it is dropped and the pull
starts again from the position stored. Every batch is still one transaction holding its
summaries and its tracking position, so a stop at any moment leaves the view exactly at the
end of a committed batch (exactly once).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from functools import partial
from typing import Any

from eventsourcing.persistence import Tracking

from infrastructure.view_store import PostgresViewStore
from projections.views import ConcurrentProcessing, LedgerViews, Summary, crosses_checkpoint

BATCH = 500

# progress(done, total) during a rebuild or a long catch-up
Progress = Callable[[int, int], None]


def pull(
    ledger: Any,
    projection: LedgerViews,
    *,
    until: int | None = None,
    progress: Progress | None = None,
    lock: threading.Lock | None = None,
    batch: int = BATCH,
) -> int:
    """Folds the log into ``projection`` from its tracked position, ``batch`` positions at a
    time (the views' events among them), each batch in one transaction with its position.
    Answers how many events it applied."""
    if lock is not None:
        with lock:
            return pull(ledger, projection, until=until, progress=progress, batch=batch)
    end = ledger.recorder.max_notification_id() or 0
    if until is not None:
        end = min(end, until)
    overlap = isinstance(projection.view, PostgresViewStore)
    applied = [0]
    with ThreadPoolExecutor(1, thread_name_prefix="careledger-views-write") if overlap else nullcontext() as writer:
        while True:
            try:
                _fold_from_stored(ledger, projection, end, batch, progress, writer, applied)
                return applied[0]
            except ConcurrentProcessing:
                continue  # another processor moved the view: on from where it is now


def _fold_from_stored(
    ledger: Any, projection: LedgerViews, end: int, batch: int, progress: Progress | None,
    writer: ThreadPoolExecutor | None, applied: list[int],
) -> None:
    name, view = ledger.name, projection.view
    expected = view.max_tracking_id(name)
    pending: tuple[Future[None], int] | None = None
    held: dict[str, Summary] = {}
    read, decode, topics = ledger.recorder.stored_between, ledger.mapper.to_domain_event, _TOPICS
    first = (expected or 0) + 1
    while first <= end:
        # ``batch`` positions a read (infrastructure.recorders.stored_between); the events of
        # other topics (a few) are skipped here.
        last_asked = min(end, first + batch - 1)
        rows = [row for row in read(first, last_asked) if row.topic in topics]
        first = last_asked + 1
        if not rows:
            continue
        events, position = list(map(decode, rows)), rows[-1].id
        changed, latest = projection.fold(events, held)
        # Encoded here, before the next batch's fold changes these summaries in place.
        write = partial(view.put, changed, Tracking(name, position), expected=expected, max_recorded=latest,
                        checkpoint=crosses_checkpoint(expected, position), encoded=view.encode(changed))
        if pending is not None:
            pending[0].result()  # this batch was folded on it: it must have committed
            applied[0] += pending[1]
            pending = None
        if writer is None:
            write()
            applied[0] += len(events)
        else:
            pending = (writer.submit(write), len(events))
        held, expected = changed, position
        if progress is not None:
            progress(position, end)
    if pending is not None:
        pending[0].result()
        applied[0] += pending[1]


_TOPICS = frozenset(LedgerViews.topics)
