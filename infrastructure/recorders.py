"""The library's application recorders, taught to map versions to log positions and to
find an aggregate's snapshots by the recorded time of the events they end at; the
queries are written once for both backends (infrastructure.dialect)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier, Literal

from infrastructure.dialect import Database

# Past any version: "through" when no bound is asked for.
LAST = 2**62


class LogRow(NamedTuple):
    """A stored event as its table holds it, with its position: what the library's mapper
    reads of a notification (``to_domain_event``), without building one per event."""

    id: int
    originator_id: Any
    originator_version: int
    topic: str
    state: bytes


class _LedgerQueries:
    datastore: Any
    events_table_name: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.db = Database(self.datastore)

    def positions(self, originator_id: UUID) -> dict[int, int]:
        with self.db.read() as c:
            c.execute("SELECT originator_version, {position} FROM {events} WHERE originator_id=?",
                      (self.db.dialect.uuid_param(originator_id),), events=self.events_table_name)
            return {row[0]: row[1] for row in c.fetchall()}

    def locate(self, position: int) -> tuple[UUID, int] | None:
        with self.db.read() as c:
            row = c.execute("SELECT originator_id, originator_version FROM {events} WHERE {position}=?",
                            (position,), events=self.events_table_name).fetchone()
        return None if row is None else (self.db.dialect.uuid(row[0]), row[1])

    def stored_at(self, positions: Iterable[int]) -> dict[int, Notification]:
        """The stored events at these positions, as the library reads them (raw bytes)."""
        wanted = list(positions)
        if not wanted:
            return {}
        among, params = self.db.dialect.among("{position}", wanted)
        with self.db.read() as c:
            c.execute("SELECT {position}, originator_id, originator_version, topic, state FROM {events} "
                      "WHERE " + among, params, events=self.events_table_name)
            return {
                row[0]: Notification(id=row[0], originator_id=self.db.dialect.uuid(row[1]),
                                     originator_version=row[2], topic=row[3], state=bytes(row[4]))
                for row in c.fetchall()
            }

    def stored_between(self, first: int, last: int) -> list[LogRow]:
        """The stored events at positions ``first`` to ``last``, in position order, as the
        library's ``select_notifications`` reads them (the aggregate id as the driver gives
        it). Bounded by positions rather than by a count, so the server reads those rows
        alone, whatever the planner believes of the table's size (a count with the range
        open to the end had PostgreSQL sort the rest of the log for every page); the topics
        are left to the caller, which skips the few it does not fold."""
        with self.db.read() as c:
            c.execute("SELECT {position}, originator_id, originator_version, topic, state FROM {events} "
                      "WHERE {position}>=? AND {position}<=? ORDER BY {position}", (first, last),
                      events=self.events_table_name)
            return [LogRow(r[0], r[1], r[2], r[3], bytes(r[4])) for r in c.fetchall()]

    def latest_versions(self, originator_ids: list[UUID]) -> dict[UUID, int]:
        keys = [self.db.dialect.uuid_param(i) for i in originator_ids]
        among, params = self.db.dialect.among("originator_id", keys)
        with self.db.read() as c:
            c.execute("SELECT originator_id, max(originator_version) FROM {events} "
                      f"WHERE {among} GROUP BY originator_id", params, events=self.events_table_name)
            return {self.db.dialect.uuid(row[0]): row[1] for row in c.fetchall()}

    def snapshot_marks(self, originator_id: UUID, snapshots_table: str) -> list[StoredEvent]:
        """The aggregate's events at the versions it has snapshots of, in version order:
        their recorded times say which snapshot "as of T" may start from, without reading
        any snapshot's state."""
        with self.db.read() as c:
            c.execute(
                "SELECT e.originator_version, e.topic, e.state FROM {snapshots} s "
                "JOIN {events} e ON e.originator_id=s.originator_id "
                "AND e.originator_version=s.originator_version "
                "WHERE s.originator_id=? ORDER BY s.originator_version",
                (self.db.dialect.uuid_param(originator_id),),
                snapshots=snapshots_table, events=self.events_table_name,
            )
            return [StoredEvent(originator_id, row[0], row[1], bytes(row[2])) for row in c.fetchall()]

    def delete_snapshots(self, originator_id: UUID, snapshots_table: str) -> None:
        """Deletes the aggregate's snapshots (derived data, outside the Merkle log): on
        SQLite with the deleted rows' bytes overwritten in the file; PostgreSQL's dumps no
        longer show them (the heap keeps the dead rows until VACUUM reuses their space)."""
        with self.db.transaction(commit=True) as c:
            if not self.db.postgres:
                c.execute("PRAGMA secure_delete=ON")
            c.execute("DELETE FROM {snapshots} WHERE originator_id=?", (self.db.dialect.uuid_param(originator_id),),
                      snapshots=snapshots_table)

    def snapshot_and_events(
        self, originator_id: UUID, snapshots_table: str, version: int, through: int | None
    ) -> tuple[StoredEvent | None, list[StoredEvent]]:
        """The snapshot at ``version`` and the events after it (through ``through``), in one
        round trip: "as of T" once it has chosen its snapshot."""
        key = self.db.dialect.uuid_param(originator_id)
        with self.db.read() as c:
            c.execute(
                "SELECT 0, originator_version, topic, state FROM {snapshots} "
                "WHERE originator_id=? AND originator_version=? UNION ALL "
                "SELECT 1, originator_version, topic, state FROM {events} "
                "WHERE originator_id=? AND originator_version>? AND originator_version<=? ORDER BY 1, 2",
                (key, version, key, version, LAST if through is None else through),
                snapshots=snapshots_table, events=self.events_table_name,
            )
            return _split(originator_id, [(r[0], r[1], r[2], bytes(r[3])) for r in c.fetchall()])


class SQLiteLedgerRecorder(_LedgerQueries, SQLiteApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._indexed: set[str] = set()

    def snapshot_marks(self, originator_id: UUID, snapshots_table: str) -> list[StoredEvent]:
        self._index_snapshot_versions(snapshots_table)
        return super().snapshot_marks(originator_id, snapshots_table)

    def _index_snapshot_versions(self, snapshots_table: str) -> None:
        # The library's snapshot table is WITHOUT ROWID: its rows, states and all, are its
        # primary key's b-tree, so listing an aggregate's snapshot versions walked every
        # snapshot's cell (5 ms for 100 snapshots of a 1,000-event issue). An index of the
        # versions alone answers it. Made on first use: the table is not there when this
        # recorder's own tables are created.
        if snapshots_table in self._indexed:
            return
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"CREATE INDEX IF NOT EXISTS {snapshots_table}_versions "
                f"ON {snapshots_table} (originator_id, originator_version)"
            )
        self._indexed.add(snapshots_table)


class PostgresLedgerRecorder(_LedgerQueries, PostgresApplicationRecorder):
    def _notify_channel(self, curs: Any) -> None:
        # Every district's log table has the same name, so the library's channel is the same
        # for all: the schema as the payload tells a process's one listener (infrastructure.
        # notice_hub) whose follower to wake. A listener of its own ignores the payload.
        curs.execute(SQL("NOTIFY {0}, {1}").format(Identifier(self.channel_name), Literal(self.datastore.schema)))


def _split(
    originator_id: UUID, rows: list[tuple[int, int, str, bytes]]
) -> tuple[StoredEvent | None, list[StoredEvent]]:
    snapshot = None
    events = []
    for part, version, topic, state in rows:
        if part == 0:
            snapshot = StoredEvent(originator_id, version, topic, state)
        else:
            events.append(StoredEvent(originator_id, version, topic, state))
    return snapshot, events
