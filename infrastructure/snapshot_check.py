"""Every stored snapshot checked against the events it claims to summarise.

Snapshots are derived data, outside the Merkle log: a snapshot rewritten in the store
would make "as of T" (and the current state) show a state no event recorded, while the
log itself still verifies. So `careledger verify` folds each snapshotted aggregate's
events again and compares the fold with every snapshot at the snapshot's version: the
same state, of the same class, at a version the events reach.

Each aggregate is folded once, snapshot to snapshot: events after its last snapshot are
not read. Aggregates are read CHUNK at a time, their snapshots in one query and their events
in another: one query per snapshot was most of `careledger verify`'s time. The first snapshot that differs is reported by aggregate id and version only
(an id is no personal data; the state may hold sealed personal fields and is never
shown).

On PostgreSQL the check can run in a second process (``processes=2``), forked before the
log's walk begins so the two share the machine's cores: the walk waits on the server
about half its time and the check is decoding and folding, so run one after the other
they took the sum of the two. The child reads through a connection of its own and hands
back only the finding; a child that ends without one is not taken for a clean check (the
check runs again in this process).
"""

from __future__ import annotations

import gc
import multiprocessing
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import EventStore, Mapper, StoredEvent
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.utils import resolve_topic

from infrastructure.dialect import Database
from infrastructure.findings import Discrepancy, Finding


def snapshotted_ids(recorder: Any) -> list[UUID]:
    """Every aggregate the snapshot table holds a snapshot of (the library's recorders
    have no such query)."""
    db = Database(recorder.datastore)
    with db.read() as c:
        c.execute("SELECT DISTINCT originator_id FROM {table} ORDER BY originator_id",
                  table=recorder.events_table_name)
        return [db.dialect.uuid(row[0]) for row in c.fetchall()]


def _differs(folded: Any, snapshot: Any) -> bool:
    if folded is None or folded.version != snapshot.originator_version:
        return True
    if type(folded) is not resolve_topic(snapshot.topic):
        return True
    return vars(folded) != vars(snapshot.mutate(None))


# Aggregates read together: two queries for these many, not two an aggregate and one a snapshot.
CHUNK = 200


class _Stores:
    """What the check reads: the two tables, through one database, and their mappers. A
    forked child swaps the database for one with a connection of its own (``_own``)."""

    def __init__(self, snapshots: EventStore[UUID], events: EventStore[UUID]) -> None:
        self.db = Database(snapshots.recorder.datastore)  # type: ignore[attr-defined]
        self.snapshots_table: str = snapshots.recorder.events_table_name  # type: ignore[attr-defined]
        self.events_table: str = events.recorder.events_table_name  # type: ignore[attr-defined]
        self.snapshot_mapper: Mapper[UUID] = snapshots.mapper
        self.event_mapper: Mapper[UUID] = events.mapper

    def ids(self) -> list[UUID]:
        with self.db.read() as c:
            c.execute("SELECT DISTINCT originator_id FROM {table} ORDER BY originator_id", table=self.snapshots_table)
            return [self.db.dialect.uuid(row[0]) for row in c.fetchall()]

    def check(self, ids: Iterator[UUID] | list[UUID]) -> Finding | None:
        wanted = list(ids)
        for start in range(0, len(wanted), CHUNK):
            found = self.check_chunk(wanted[start:start + CHUNK])
            if found is not None:
                return found
        return None

    def check_chunk(self, chunk: list[UUID]) -> Finding | None:
        taken = self._stored(chunk, bounded=False)
        folds = self._stored(chunk, bounded=True)
        for aggregate_id in chunk:
            found = _first_differing(aggregate_id, taken.get(aggregate_id, []), folds.get(aggregate_id, []))
            if found is not None:
                return found
        return None

    def _stored(self, ids: list[UUID], bounded: bool) -> dict[UUID, list[Any]]:
        """The snapshots of ``ids``; ``bounded``: their events instead, only up to each
        aggregate's last snapshot; by aggregate, in version order."""
        db = self.db
        among, params = db.dialect.among("originator_id", [db.dialect.uuid_param(i) for i in ids])
        if not bounded:
            tables = {"events": self.snapshots_table}
            mapper = self.snapshot_mapper
            select = ("SELECT originator_id, originator_version, topic, state FROM {events} "
                      f"WHERE {among} ORDER BY originator_id, originator_version")
        else:
            # Each aggregate's last snapshot version once, joined to its events: a subquery per
            # event row cost PostgreSQL's planner enough to compile it (JIT, a third of a second
            # a chunk) and ran slower besides.
            tables = {"events": self.events_table, "snapshots": self.snapshots_table}
            mapper = self.event_mapper
            select = ("SELECT e.originator_id, e.originator_version, e.topic, e.state FROM "
                      f"(SELECT originator_id, max(originator_version) AS last FROM {{snapshots}} WHERE {among} "
                      "GROUP BY originator_id) AS s JOIN {events} AS e ON e.originator_id = s.originator_id "
                      "AND e.originator_version <= s.last ORDER BY e.originator_id, e.originator_version")
        found: dict[UUID, list[Any]] = {}
        with db.read() as c:
            c.execute(select, params, **tables)
            rows = c.fetchall()
        to_domain_event, uuid = mapper.to_domain_event, db.dialect.uuid
        for row in rows:
            aggregate_id = uuid(row[0])
            stored = StoredEvent(originator_id=aggregate_id, originator_version=row[1], topic=row[2],
                                 state=bytes(row[3]))
            found.setdefault(aggregate_id, []).append(to_domain_event(stored))
        return found


def _first_differing(aggregate_id: UUID, taken: list[Any], events: list[Any]) -> Finding | None:
    folded: Any = None
    remaining = iter(events)
    pending = next(remaining, None)
    for snapshot in taken:
        while pending is not None and pending.originator_version <= snapshot.originator_version:
            folded = pending.mutate(folded)
            pending = next(remaining, None)
        if _differs(folded, snapshot):
            return Finding(
                Discrepancy.SNAPSHOT_CHANGED, None, None,
                f"the snapshot of aggregate {aggregate_id} at version {snapshot.originator_version} is not what "
                "its events fold to: the snapshot was changed or forged",
            )
    return None


class SnapshotCheck:
    """The check of an application's snapshots, for ``verify_log``: called, it runs here;
    ``begin`` starts it in a second process where that is allowed and possible (PostgreSQL),
    and answers what gives its finding later."""

    def __init__(self, app: Application[UUID], processes: int) -> None:
        assert app.snapshots is not None
        self.stores = _Stores(app.snapshots, app.events)
        self.processes = processes

    def __call__(self) -> Finding | None:
        return self.stores.check(self.stores.ids())

    def begin(self) -> _Forked | None:
        """None: nothing started (one process asked for, SQLite, or too few aggregates to be
        worth a process); call the check instead."""
        if self.processes < 2 or not isinstance(self.stores.db.datastore, PostgresDatastore):
            return None
        ids = self.stores.ids()
        if len(ids) <= FORKED_FROM:
            return None
        try:
            return _Forked(self, ids)
        except OSError:  # no second process to be had (memory, a process limit): one does it all
            return None


def snapshot_check(app: Application[UUID], processes: int = 1) -> SnapshotCheck | None:
    """The check of this application's snapshots, for ``verify_log``; None when the
    application keeps none. ``processes=2``: on PostgreSQL, beside the log's walk."""
    if app.snapshots is None:
        return None
    return SnapshotCheck(app, processes)


# Aggregates a claim when two processes share the check: small enough that neither waits
# long for the other at the end.
SHARED_CHUNK = 50
# Fewer snapshotted aggregates than this are checked in one process (a fork costs more).
FORKED_FROM = SHARED_CHUNK
# A child that claims no chunk and answers nothing for this long is taken for stuck (a
# chunk takes well under a second): it is ended and this process checks everything.
STALLED_SECONDS = 60.0


class _Forked:
    """The check in a forked child, shared with this process once its walk of the log is
    done: the child claims chunks of aggregates from the first, this process from the last,
    until they meet. Forked, not spawned: spawning imports the application again (most of a
    second), longer than the check of a 50,000-event log.

    The finding is the one in the lowest chunk, the same as one process's: the child's
    chunks are the first ones with no gap, so every chunk below its finding held, and it
    claims every chunk below the lowest one this process claimed."""

    def __init__(self, check: SnapshotCheck, ids: list[UUID]) -> None:
        self.check = check
        self.stalled_seconds = STALLED_SECONDS
        self.chunks = [ids[start:start + SHARED_CHUNK] for start in range(0, len(ids), SHARED_CHUNK)]
        context = multiprocessing.get_context("fork")
        # The next chunk from the bottom (the child's), and the end of those not yet claimed.
        self.claims = context.Array("q", [0, len(self.chunks)])
        self.answers, answer = context.Pipe(duplex=False)
        self.child = context.Process(target=_child, args=(check.stores, self.chunks, self.claims, answer),
                                     name="careledger-verify-snapshots", daemon=True)
        # Frozen, the objects both processes hold are never walked by the child's collector,
        # which would copy every page of them (a fifth of a second on a 50,000-event check).
        gc.freeze()
        try:
            self.child.start()
        finally:
            gc.unfreeze()
        answer.close()

    def result(self) -> Finding | None:
        mine = None
        try:
            mine = _check_claimed(self.check.stores, self.chunks, self.claims, from_top=True)
            outcome, value = self._answer()
        except EOFError:
            outcome, value = "lost", None
        finally:
            self.answers.close()
            # Answered, the child ends at once; if this process failed first, the child may
            # still be at work (or stuck): it is not waited on beyond the stall bound.
            self.child.join(timeout=self.stalled_seconds)
            if self.child.is_alive():
                self.child.terminate()
                self.child.join()
        if outcome != "done":
            # A child that failed or died (killed, out of memory) proves nothing: check here.
            return self.check()
        found = [f for f in (value, mine) if f is not None]
        return min(found, key=lambda f: f[0])[1] if found else None

    def _answer(self) -> tuple[str, Any]:
        """The child's answer; EOFError for a child that died, or that stalled (ended here):
        a child forked from a process with threads could in principle wait forever on a lock
        one of them held at the fork, and `careledger verify` must not."""
        claimed = self.claims.get_obj()  # read without the lock a stuck child may hold
        seen, since = claimed[0], time.monotonic()
        while not self.answers.poll(1.0):
            if not self.child.is_alive():
                raise EOFError
            if claimed[0] != seen:
                seen, since = claimed[0], time.monotonic()
            elif time.monotonic() - since > self.stalled_seconds:
                self.child.terminate()
                raise EOFError
        return self.answers.recv()  # type: ignore[no-any-return]

    def cancel(self) -> None:
        """The walk found something first: the check's answer would not be reported."""
        self.answers.close()
        if self.child.is_alive():
            self.child.terminate()
        self.child.join()


def _claim(claims: Any, from_top: bool) -> int | None:
    lock = claims.get_lock()
    if not lock.acquire(timeout=10):
        # Held by a child that died holding it: this process stops claiming, and the lost
        # child's answer sends the parent to check everything itself.
        return None
    try:
        low, high = claims[0], claims[1]
        if low >= high:
            return None
        if from_top:
            claims[1] = high - 1
            return int(high - 1)
        claims[0] = low + 1
        return int(low)
    finally:
        lock.release()


def _check_claimed(stores: _Stores, chunks: list[list[UUID]], claims: Any, from_top: bool,
                   ) -> tuple[int, Finding] | None:
    """Chunks claimed one at a time until none is left or one holds a finding."""
    while (index := _claim(claims, from_top)) is not None:
        found = stores.check_chunk(chunks[index])
        if found is not None:
            return index, found
    return None


def _child(stores: _Stores, chunks: list[list[UUID]], claims: Any, answer: Connection) -> None:
    # The parent's connections are inherited as open sockets: never used or closed here
    # (multiprocessing ends a forked child with os._exit, which closes none of them).
    try:
        with _own_connection(stores.db.datastore) as datastore:
            stores.db = Database(datastore)
            answer.send(("done", _check_claimed(stores, chunks, claims, from_top=False)))
    except Exception as exc:  # noqa: BLE001 — reported to the parent, which checks again itself
        answer.send(("failed", type(exc).__name__))
    finally:
        answer.close()


@contextmanager
def _own_connection(parent: Any) -> Iterator[PostgresDatastore]:
    """The parent's datastore (its schema, its settings) with one connection of the child's own."""
    pool = parent.pool
    kwargs = dict(pool.kwargs)
    if getattr(pool, "get_password_func", None):
        kwargs["password"] = pool.get_password_func()
    # Bounded as the pool's own connections are: a child that cannot connect fails, and the
    # parent checks instead.
    kwargs.setdefault("connect_timeout", max(1, round(pool.timeout)))
    conn = psycopg.connect(pool.conninfo, **kwargs)
    try:
        parent.after_connect_func()(conn)
        datastore = _OneConnection.__new__(_OneConnection)
        datastore.__dict__.update(vars(parent))
        datastore.own = conn
        yield datastore
    finally:
        conn.close()


class _OneConnection(PostgresDatastore):
    own: Any

    @contextmanager
    def get_connection(self) -> Iterator[Any]:  # type: ignore[override]
        yield self.own
