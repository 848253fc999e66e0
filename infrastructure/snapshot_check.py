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
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import EventStore, StoredEvent
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


def check_snapshots(
    snapshots: EventStore[UUID], events: EventStore[UUID], ids: Iterator[UUID] | list[UUID]
) -> Finding | None:
    """The first snapshot of these aggregates that its events do not reproduce, if any."""
    wanted = list(ids)
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start:start + CHUNK]
        taken = _stored(snapshots, chunk)
        folds = _stored(events, chunk, bounded_by=snapshots.recorder)
        for aggregate_id in chunk:
            found = _first_differing(aggregate_id, taken.get(aggregate_id, []), folds.get(aggregate_id, []))
            if found is not None:
                return found
    return None


# Aggregates read together: two queries for these many, not two an aggregate and one a snapshot.
CHUNK = 200


def _stored(store: EventStore[UUID], ids: list[UUID], bounded_by: Any = None) -> dict[UUID, list[Any]]:
    """The domain events of ``ids`` in ``store``, by aggregate, in version order; with
    ``bounded_by`` (the snapshots' recorder), only up to each aggregate's last snapshot."""
    recorder = store.recorder
    db = Database(recorder.datastore)
    tables = {"events": recorder.events_table_name}  # type: ignore[attr-defined]
    if bounded_by is None:
        among, params = db.dialect.among("e.originator_id", [db.dialect.uuid_param(i) for i in ids])
        select = ("SELECT e.originator_id, e.originator_version, e.topic, e.state FROM {events} AS e "
                  f"WHERE {among} ORDER BY e.originator_id, e.originator_version")
    else:
        # Each aggregate's last snapshot version once, joined to its events: a subquery per
        # event row cost PostgreSQL's planner enough to compile it (JIT, a third of a second
        # a chunk) and ran slower besides.
        tables["snapshots"] = bounded_by.events_table_name
        among, params = db.dialect.among("originator_id", [db.dialect.uuid_param(i) for i in ids])
        select = ("SELECT e.originator_id, e.originator_version, e.topic, e.state FROM "
                  f"(SELECT originator_id, max(originator_version) AS last FROM {{snapshots}} WHERE {among} "
                  "GROUP BY originator_id) AS s JOIN {events} AS e ON e.originator_id = s.originator_id "
                  "AND e.originator_version <= s.last ORDER BY e.originator_id, e.originator_version")
    found: dict[UUID, list[Any]] = {}
    with db.read() as c:
        c.execute(select, params, **tables)
        rows = c.fetchall()
    for row in rows:
        aggregate_id = db.dialect.uuid(row[0])
        stored = StoredEvent(originator_id=aggregate_id, originator_version=row[1], topic=row[2], state=bytes(row[3]))
        found.setdefault(aggregate_id, []).append(store.mapper.to_domain_event(stored))
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


def snapshot_check(app: Application[UUID]) -> Callable[[], Finding | None] | None:
    """The check of this application's snapshots, for ``verify_log``; None when the
    application keeps none."""
    if app.snapshots is None:
        return None
    snapshots, events = app.snapshots, app.events
    return lambda: check_snapshots(snapshots, events, snapshotted_ids(snapshots.recorder))
