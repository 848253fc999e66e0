"""The library's application recorders, taught to map versions to log positions."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier


class SQLiteLedgerRecorder(SQLiteApplicationRecorder):
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
