"""The audit index's tables and queries, for SQLite and PostgreSQL (built from the library's datastores)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from psycopg import sql

from projections.audit_index import AuditFilter, AuditIndexStore, AuditRow, IndexMoved

COLUMNS = "position, aggregate_id, aggregate_type, version, type, user_name, unit, recorded_at, occurred_at, lateness"
FILTERED = ("unit", "user_name", "type", "aggregate_id")


def _clauses(where: AuditFilter, mark: str) -> tuple[list[str], list[Any]]:
    clauses, params = ["position > " + mark], [where.after]
    for column, value in (("unit", where.unit), ("user_name", where.user), ("type", where.type),
                          ("aggregate_id", str(where.aggregate) if where.aggregate else None)):
        if value is not None:
            clauses.append(f"{column} = {mark}")
            params.append(value)
    if where.recorded_from is not None:
        clauses.append(f"recorded_at >= {mark}")
        params.append(_epoch(where.recorded_from))
    if where.recorded_to is not None:
        clauses.append(f"recorded_at <= {mark}")
        params.append(_epoch(where.recorded_to))
    if where.late_by_seconds is not None:
        clauses.append(f"lateness >= {mark}")
        params.append(where.late_by_seconds)
    return clauses, params


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def _values(row: AuditRow) -> tuple[Any, ...]:
    return (row.position, str(row.aggregate_id), row.aggregate_type, row.version, row.type, row.user,
            row.unit, _epoch(row.recorded_at), _epoch(row.occurred_at), row.lateness_seconds)


def _row(values: Sequence[Any]) -> AuditRow:
    return AuditRow(
        position=values[0], aggregate_id=UUID(str(values[1])), aggregate_type=values[2], version=values[3],
        type=values[4], user=values[5], unit=values[6],
        recorded_at=datetime.fromtimestamp(values[7], timezone.utc),
        occurred_at=datetime.fromtimestamp(values[8], timezone.utc),
    )


class SQLiteAuditStore(AuditIndexStore):
    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore

    def create_tables(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS audit_index (position INTEGER PRIMARY KEY, aggregate_id TEXT NOT NULL, "
                "aggregate_type TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL, user_name TEXT NOT NULL, "
                "unit TEXT NOT NULL, recorded_at REAL NOT NULL, occurred_at REAL NOT NULL, lateness INTEGER NOT NULL)"
            )
            for column in (*FILTERED, "recorded_at", "lateness"):
                c.execute(f"CREATE INDEX IF NOT EXISTS audit_index_{column} ON audit_index ({column}, position)")
            c.execute("CREATE TABLE IF NOT EXISTS audit_tracking (name TEXT PRIMARY KEY, position INTEGER NOT NULL)")
            c.execute("INSERT INTO audit_tracking VALUES ('audit', 0) ON CONFLICT (name) DO NOTHING")

    def position(self) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT position FROM audit_tracking WHERE name='audit'")
            return int(c.fetchone()[0])

    def append(self, before: int, rows: Sequence[AuditRow], after: int) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute("UPDATE audit_tracking SET position=? WHERE name='audit' AND position=? RETURNING name",
                      (after, before))
            if c.fetchone() is None:
                raise IndexMoved()
            c.executemany(f"INSERT INTO audit_index ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                          [_values(r) for r in rows])

    def query(self, where: AuditFilter) -> list[AuditRow]:
        clauses, params = _clauses(where, "?")
        statement = f"SELECT {COLUMNS} FROM audit_index WHERE {' AND '.join(clauses)} ORDER BY position LIMIT ?"
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, [*params, where.limit])
            return [_row(tuple(r)) for r in c.fetchall()]


class PostgresAuditStore(AuditIndexStore):
    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore
        self.schema = sql.Identifier(datastore.schema)

    def _sql(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(schema=self.schema)

    def create_tables(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(self._sql(
                "CREATE TABLE IF NOT EXISTS {schema}.audit_index (position bigint PRIMARY KEY, "
                "aggregate_id text NOT NULL, aggregate_type text NOT NULL, version bigint NOT NULL, "
                "type text NOT NULL, user_name text NOT NULL, unit text NOT NULL, "
                "recorded_at double precision NOT NULL, occurred_at double precision NOT NULL, lateness bigint NOT NULL)"
            ))
            for column in (*FILTERED, "recorded_at", "lateness"):
                c.execute(self._sql(
                    f"CREATE INDEX IF NOT EXISTS audit_index_{column} ON {{schema}}.audit_index ({column}, position)"
                ))
            c.execute(self._sql(
                "CREATE TABLE IF NOT EXISTS {schema}.audit_tracking (name text PRIMARY KEY, position bigint NOT NULL)"
            ))
            c.execute(self._sql(
                "INSERT INTO {schema}.audit_tracking VALUES ('audit', 0) ON CONFLICT (name) DO NOTHING"
            ))

    def position(self) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._sql("SELECT position FROM {schema}.audit_tracking WHERE name='audit'"))
            return int(c.fetchone()["position"])

    def append(self, before: int, rows: Sequence[AuditRow], after: int) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(self._sql(
                "UPDATE {schema}.audit_tracking SET position=%s WHERE name='audit' AND position=%s RETURNING name"
            ), (after, before))
            if c.fetchone() is None:
                raise IndexMoved()
            c.executemany(self._sql(
                f"INSERT INTO {{schema}}.audit_index ({COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
            ), [_values(r) for r in rows])

    def query(self, where: AuditFilter) -> list[AuditRow]:
        clauses, params = _clauses(where, "%s")
        statement = self._sql(
            f"SELECT {COLUMNS} FROM {{schema}}.audit_index WHERE {' AND '.join(clauses)} ORDER BY position LIMIT %s"
        )
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, [*params, where.limit])
            return [_row(list(r.values())) for r in c.fetchall()]
