"""The library's application recorders, taught to map versions to log positions and to
find an aggregate's snapshots by the recorded time of the events they end at."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier


class SQLiteLedgerRecorder(SQLiteApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._indexed: set[str] = set()

    def positions(self, originator_id: UUID) -> dict[int, int]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT originator_version, rowid FROM {self.events_table_name} "
                "WHERE originator_id=?",
                (originator_id.hex,),
            )
            return {row[0]: row[1] for row in c.fetchall()}

    def locate(self, position: int) -> tuple[UUID, int] | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT originator_id, originator_version FROM {self.events_table_name} "
                "WHERE rowid=?",
                (position,),
            )
            row = c.fetchone()
        return None if row is None else (UUID(row[0]), row[1])

    def stored_at(self, positions: Iterable[int]) -> dict[int, Notification]:
        """The stored events at these positions, as the library reads them (raw bytes)."""
        wanted = list(positions)
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT rowid, originator_id, originator_version, topic, state FROM {self.events_table_name} "
                f"WHERE rowid IN ({marks})",
                wanted,
            )
            return {
                row[0]: Notification(id=row[0], originator_id=UUID(row[1]), originator_version=row[2],
                                     topic=row[3], state=bytes(row[4]))
                for row in c.fetchall()
            }

    def latest_versions(self, originator_ids: list[UUID]) -> dict[UUID, int]:
        marks = ",".join("?" * len(originator_ids))
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT originator_id, max(originator_version) FROM {self.events_table_name} "
                f"WHERE originator_id IN ({marks}) GROUP BY originator_id",
                [i.hex for i in originator_ids],
            )
            return {UUID(row[0]): row[1] for row in c.fetchall()}

    def snapshot_marks(self, originator_id: UUID, snapshots_table: str) -> list[StoredEvent]:
        """The aggregate's events at the versions it has snapshots of, in version order:
        their recorded times say which snapshot "as of T" may start from, without reading
        any snapshot's state."""
        self._index_snapshot_versions(snapshots_table)
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT e.originator_version, e.topic, e.state FROM {snapshots_table} s "
                f"JOIN {self.events_table_name} e ON e.originator_id=s.originator_id "
                "AND e.originator_version=s.originator_version "
                "WHERE s.originator_id=? ORDER BY s.originator_version",
                (originator_id.hex,),
            )
            return [StoredEvent(originator_id, row[0], row[1], bytes(row[2])) for row in c.fetchall()]

    def delete_snapshots(self, originator_id: UUID, snapshots_table: str) -> None:
        """Deletes the aggregate's snapshots (derived data, outside the Merkle log), with
        the deleted rows' bytes overwritten in the file."""
        with self.datastore.transaction(commit=True) as c:
            c.execute("PRAGMA secure_delete=ON")
            c.execute(f"DELETE FROM {snapshots_table} WHERE originator_id=?", (originator_id.hex,))

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

    def snapshot_and_events(
        self, originator_id: UUID, snapshots_table: str, version: int, through: int | None
    ) -> tuple[StoredEvent | None, list[StoredEvent]]:
        """The snapshot at ``version`` and the events after it (through ``through``), in one
        round trip: "as of T" once it has chosen its snapshot."""
        bound = "" if through is None else " AND originator_version<=?"
        params: list[object] = [originator_id.hex, version, originator_id.hex, version]
        if through is not None:
            params.append(through)
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT 0, originator_version, topic, state FROM {snapshots_table} "
                "WHERE originator_id=? AND originator_version=? UNION ALL "
                f"SELECT 1, originator_version, topic, state FROM {self.events_table_name} "
                f"WHERE originator_id=? AND originator_version>?{bound} ORDER BY 1, 2",
                params,
            )
            return _split(originator_id, [(r[0], r[1], r[2], bytes(r[3])) for r in c.fetchall()])


class PostgresLedgerRecorder(PostgresApplicationRecorder):
    def _table(self) -> SQL:
        return SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(self.events_table_name))  # type: ignore[return-value]

    def positions(self, originator_id: UUID) -> dict[int, int]:
        query = SQL("SELECT originator_version, notification_id FROM {} WHERE originator_id=%s").format(
            self._table()
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(query, (originator_id,))
            return {row["originator_version"]: row["notification_id"] for row in curs.fetchall()}

    def locate(self, position: int) -> tuple[UUID, int] | None:
        query = SQL(
            "SELECT originator_id, originator_version FROM {} WHERE notification_id=%s"
        ).format(self._table())
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(query, (position,))
            row = curs.fetchone()
        return None if row is None else (row["originator_id"], row["originator_version"])

    def latest_versions(self, originator_ids: list[UUID]) -> dict[UUID, int]:
        query = SQL(
            "SELECT originator_id, max(originator_version) AS version FROM {} "
            "WHERE originator_id = ANY(%s) GROUP BY originator_id"
        ).format(self._table())
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(query, (originator_ids,))
            return {row["originator_id"]: row["version"] for row in curs.fetchall()}

    def stored_at(self, positions: Iterable[int]) -> dict[int, Notification]:
        wanted = list(positions)
        if not wanted:
            return {}
        query = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
            "WHERE notification_id = ANY(%s)"
        ).format(self._table())
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(query, (wanted,))
            return {
                row["notification_id"]: Notification(
                    id=row["notification_id"], originator_id=row["originator_id"],
                    originator_version=row["originator_version"], topic=row["topic"], state=bytes(row["state"]))
                for row in curs.fetchall()
            }

    def snapshot_marks(self, originator_id: UUID, snapshots_table: str) -> list[StoredEvent]:
        query = SQL(
            "SELECT e.originator_version, e.topic, e.state FROM {} s JOIN {} e "
            "ON e.originator_id=s.originator_id AND e.originator_version=s.originator_version "
            "WHERE s.originator_id=%s ORDER BY s.originator_version"
        ).format(SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(snapshots_table)), self._table())
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(query, (originator_id,))
            return [
                StoredEvent(originator_id, row["originator_version"], row["topic"], bytes(row["state"]))
                for row in curs.fetchall()
            ]

    def delete_snapshots(self, originator_id: UUID, snapshots_table: str) -> None:
        """Deletes the aggregate's snapshots; pg_dump no longer shows them (the heap keeps the
        dead rows until VACUUM reuses their space)."""
        query = SQL("DELETE FROM {} WHERE originator_id=%s").format(
            SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(snapshots_table))
        )
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(query, (originator_id,))

    def snapshot_and_events(
        self, originator_id: UUID, snapshots_table: str, version: int, through: int | None
    ) -> tuple[StoredEvent | None, list[StoredEvent]]:
        query = SQL(
            "SELECT 0 AS part, originator_version, topic, state FROM {} "
            "WHERE originator_id=%s AND originator_version=%s UNION ALL "
            "SELECT 1, originator_version, topic, state FROM {} "
            "WHERE originator_id=%s AND originator_version>%s AND originator_version<=%s ORDER BY 1, 2"
        ).format(SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(snapshots_table)), self._table())
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(query, (originator_id, version, originator_id, version,
                                 2**62 if through is None else through))
            return _split(originator_id, [
                (row["part"], row["originator_version"], row["topic"], bytes(row["state"])) for row in curs.fetchall()
            ])


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
