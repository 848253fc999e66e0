"""Aggregates held in memory between commands, so that a command on an issue changed a
moment ago by this process does not read the issue back first.

A held aggregate is lent, not shared: ``take`` removes it, so one command at a time owns
it and may change it as it likes; only a command that was saved gives its aggregate back
(``give``), at the version the store now holds. A refused command never gives back, so a
half-changed aggregate is never held. A held aggregate may be stale (another process, or
another thread of this one, appended since): the store's ``(originator_id, version)``
uniqueness refuses a save based on it, and application.commands then loads afresh.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

A = TypeVar("A", bound=Aggregate)

# Issues written a few times each in a burst are the case this serves. An issue of 40
# events holds about 25 kB, so a thousand of them are a small part of a worker's memory;
# bench/append.py's writers cycle over a few hundred issues per worker.
HELD = 1024
# And at most this many events' worth of them (an issue's version is its number of events):
# a few issues with thousands of entries each must not fill a worker's memory either.
HELD_EVENTS = 50_000


class Held(Generic[A]):
    """A bounded, least-recently-given-back set of aggregates of one process."""

    def __init__(self, maxsize: int = HELD, max_events: int = HELD_EVENTS) -> None:
        self.maxsize, self.max_events = maxsize, max_events
        self._held: OrderedDict[UUID, A] = OrderedDict()
        self._events = 0  # the sum of the held aggregates' versions
        self._lock = threading.Lock()
        # How often a held copy turned out stale lately (a moving average).
        self.stale_rate = 0.0

    def take(self, aggregate_id: UUID) -> A | None:
        with self._lock:
            taken = self._held.pop(aggregate_id, None)
            if taken is not None:
                self._events -= taken.version
            return taken

    def give(self, aggregate: A) -> None:
        with self._lock:
            kept = self._held.get(aggregate.id)
            # Two threads may each have loaded and saved: the later version is the one kept.
            if kept is not None and kept.version > aggregate.version:
                return
            self._events += aggregate.version - (kept.version if kept is not None else 0)
            self._held[aggregate.id] = aggregate
            self._held.move_to_end(aggregate.id)
            while len(self._held) > self.maxsize or self._events > self.max_events:
                self._events -= self._held.popitem(last=False)[1].version

    def seen(self, *, stale: bool) -> None:
        """A held copy found stale, or current. A worker among several that take turns on
        the same issues finds its copies stale often, and a save that loses costs more (a
        failed transaction, and its batch committed again one by one) than the one-row read
        that tells: while that is so, ``checking`` says to ask the store's version first."""
        with self._lock:
            self.stale_rate += ((1.0 if stale else 0.0) - self.stale_rate) / 16

    def checking(self) -> bool:
        return self.stale_rate > 0.25

    def __len__(self) -> int:
        return len(self._held)
