"""Every stored snapshot checked against the events it claims to summarise.

Snapshots are derived data, outside the Merkle log: a snapshot rewritten in the store
would make "as of T" (and the current state) show a state no event recorded, while the
log itself still verifies. So `careledger verify` folds each snapshotted aggregate's
events again and compares the fold with every snapshot at the snapshot's version: the
same state, of the same class, at a version the events reach.

Each aggregate is folded once, snapshot to snapshot: events after its last snapshot are
not read. The first snapshot that differs is reported by aggregate id and version only
(an id is no personal data; the state may hold sealed personal fields and is never
shown).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import EventStore
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.utils import resolve_topic
from psycopg.sql import SQL, Identifier

from infrastructure.verify import Discrepancy, Finding


def snapshotted_ids(recorder: Any) -> list[UUID]:
    """Every aggregate the snapshot table holds a snapshot of (the library's recorders
    have no such query)."""
    table = recorder.events_table_name
    if isinstance(recorder.datastore, PostgresDatastore):

        query = SQL("SELECT DISTINCT originator_id FROM {}.{} ORDER BY originator_id").format(
            Identifier(recorder.datastore.schema), Identifier(table)
        )
        with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(query)
            return [row["originator_id"] for row in curs.fetchall()]
    with recorder.datastore.transaction(commit=False) as c:
        c.execute(f"SELECT DISTINCT originator_id FROM {table} ORDER BY originator_id")
        return [UUID(row[0]) for row in c.fetchall()]


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
    for aggregate_id in ids:
        folded: Any = None
        version: int | None = None
        for snapshot in snapshots.get(aggregate_id):
            for domain_event in events.get(aggregate_id, gt=version, lte=snapshot.originator_version):
                folded = domain_event.mutate(folded)
            version = snapshot.originator_version
            if _differs(folded, snapshot):
                return Finding(
                    Discrepancy.SNAPSHOT_CHANGED, None, None,
                    f"the snapshot of aggregate {aggregate_id} at version {version} is not what its "
                    "events fold to: the snapshot was changed or forged",
                )
    return None


def snapshot_check(app: Application[UUID]) -> Callable[[], Finding | None] | None:
    """The check of this application's snapshots, for ``verify_log``; None when the
    application keeps none."""
    if app.snapshots is None:
        return None
    snapshots, events = app.snapshots, app.events
    return lambda: check_snapshots(snapshots, events, snapshotted_ids(snapshots.recorder))
