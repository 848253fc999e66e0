"""One LISTEN connection for every district a process follows.

A follower alone listens on a pooled connection of its own store (infrastructure.log_notices);
twenty districts' followers held twenty connections that only waited. The hub holds one
connection of its own (not from a pool: it is never given back), LISTENs on each
subscriber's channel on it and wakes the follower whose district a notice names.

Every district's log table has the same name in its own schema, so the library's channel is
the same for all (``ledger_events``); the district is told by the notice's payload, its
schema (infrastructure.recorders.PostgresLedgerRecorder sends it). A notice without one (a
process of an older version writing) wakes every follower of its channel: a wasted catch-up,
never a missed one.

A lost connection ends the hub's thread: every follower subscribed is told through its
``failed`` callback, as a follower's own listening thread tells it. A subscription made after
that connects again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg.sql import SQL, Identifier

# How often the hub looks for new subscribers and for ``closing`` when no notice arrives.
POLL_SECONDS = 0.2


@dataclass(eq=False)
class _Subscriber:
    channel: str
    schema: str
    wake: threading.Event
    stopping: threading.Event
    failed: Callable[[BaseException], None]
    # Set once the hub's LISTEN on its channel has taken effect (its connection made).
    listened: threading.Event | None = None


class NoticeHub:
    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._lock = threading.Lock()
        self._subscribers: list[_Subscriber] = []
        # Subscribed, not yet listened for: the hub's thread issues each LISTEN itself, as
        # psycopg serialises a connection's use.
        self._pending: list[_Subscriber] = []
        self._listened = 0
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()

    def subscribe(self, channel: str, schema: str, wake: threading.Event, stopping: threading.Event,
                  failed: Callable[[BaseException], None], listened: threading.Event | None = None) -> None:
        """Sets ``wake`` at each notice of ``schema``'s log on ``channel`` (and once when the
        LISTEN has taken effect, when ``listened`` is set too) until ``stopping`` is set;
        ``failed`` gets the error that ends the hub's connection."""
        with self._lock:
            if self._closing.is_set():
                raise RuntimeError("notice hub closed")
            self._pending.append(_Subscriber(channel, schema, wake, stopping, failed, listened))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="careledger-log-notices-hub", daemon=True)
                self._thread.start()

    def listening(self) -> int:
        """The followers whose channel it listens on now (not those still to LISTEN for)."""
        with self._lock:
            return self._listened

    def _run(self) -> None:
        try:
            with psycopg.connect(self._conninfo, autocommit=True, application_name="careledger-notices") as conn:
                channels: set[str] = set()
                while not self._closing.is_set():
                    with self._lock:
                        # Among the subscribers before the LISTEN: a failure of it is theirs to hear.
                        new, self._pending = self._pending, []
                        self._subscribers = [s for s in self._subscribers + new if not s.stopping.is_set()]
                    for channel in {s.channel for s in new} - channels:
                        conn.execute(SQL("LISTEN {0}").format(Identifier(channel)))
                        channels.add(channel)
                    with self._lock:
                        self._listened = len(self._subscribers)
                    for subscriber in new:
                        # What was recorded before the LISTEN took effect is its first catch-up's.
                        subscriber.wake.set()
                        if subscriber.listened is not None:
                            subscriber.listened.set()
                    for notice in conn.notifies(timeout=POLL_SECONDS, stop_after=1):
                        self._deliver(notice.channel, notice.payload)
        except BaseException as error:  # noqa: BLE001 — handed to every follower, which reports it
            with self._lock:
                told, self._subscribers, self._pending = self._subscribers + self._pending, [], []
                self._thread, self._listened = None, 0
            for subscriber in told:
                subscriber.failed(error)
                subscriber.wake.set()

    def _deliver(self, channel: str, schema: str) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            if subscriber.channel == channel and (not schema or subscriber.schema == schema):
                subscriber.wake.set()

    def close(self) -> None:
        with self._lock:
            self._closing.set()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=10)
