"""The views' store (projections.views.ViewStore) on SQLite and on PostgreSQL.

Tables of their own (``view_tracking``, ``view_summaries``, ``view_checkpoints``), keyed by
generation, so neither the library's ``tracking`` table nor another projection that
follows the same application is touched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteRecorder
from psycopg.sql import SQL, Identifier

from projections.views import LIVE, ConcurrentProcessing, Summary, ViewStore


def _dump(summary: Summary) -> str:
    return json.dumps(summary, ensure_ascii=False, sort_keys=True)


class SQLiteViewStore(SQLiteRecorder, ViewStore):
    def __init__(self, datastore: SQLiteDatastore, *, generation: str = LIVE, **_: Any) -> None:
        super().__init__(datastore)
        self.generation = generation

    def construct_create_table_statements(self) -> list[str]:
        return [
            ("CREATE TABLE IF NOT EXISTS view_tracking (generation TEXT, application_name TEXT, "
            "notification_id INTEGER, PRIMARY KEY (generation, application_name)) WITHOUT ROWID"),
            ("CREATE TABLE IF NOT EXISTS view_summaries (generation TEXT, id TEXT, kind TEXT, "
            "data TEXT, PRIMARY KEY (generation, id)) WITHOUT ROWID"),
            ("CREATE TABLE IF NOT EXISTS view_checkpoints (generation TEXT, position INTEGER, "
            "max_recorded REAL, data TEXT, PRIMARY KEY (generation, position)) WITHOUT ROWID"),
        ]

    def max_tracking_id(self, application_name: str) -> int | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT notification_id FROM view_tracking WHERE generation=? AND application_name=?",
                (self.generation, application_name),
            )
            row = c.fetchone()
        return None if row is None else int(row[0])

    def get_summaries(self, ids: Iterable[str]) -> dict[str, Summary]:
        wanted = list(ids)
        found: dict[str, Summary] = {}
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                c.execute(
                    f"SELECT id, data FROM view_summaries WHERE generation=? AND id IN "
                    f"({','.join('?' * len(chunk))})",
                    (self.generation, *chunk),
                )
                found.update({row[0]: json.loads(row[1]) for row in c.fetchall()})
        return found

    def all_summaries(self) -> list[Summary]:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT data FROM view_summaries WHERE generation=? ORDER BY id", (self.generation,))
            return [json.loads(row[0]) for row in c.fetchall()]

    def put(self, summaries: dict[str, Summary], tracking: Tracking, *, expected: int | None,
            checkpoint_max_recorded: float | None = None) -> None:
        with self.datastore.transaction(commit=True) as c:
            if expected is None:
                c.execute(
                    "INSERT INTO view_tracking VALUES (?,?,?) ON CONFLICT DO NOTHING",
                    (self.generation, tracking.application_name, tracking.notification_id),
                )
            else:
                c.execute(
                    "UPDATE view_tracking SET notification_id=? WHERE generation=? "
                    "AND application_name=? AND notification_id=?",
                    (tracking.notification_id, self.generation, tracking.application_name, expected),
                )
            if c.sqlite_cursor.rowcount != 1:
                raise ConcurrentProcessing(tracking.notification_id)
            c.executemany(
                "INSERT INTO view_summaries VALUES (?,?,?,?) "
                "ON CONFLICT (generation, id) DO UPDATE SET kind=excluded.kind, data=excluded.data",
                [(self.generation, key, s.get("kind"), _dump(s)) for key, s in summaries.items()],
            )
            if checkpoint_max_recorded is not None:
                c.execute("SELECT data FROM view_summaries WHERE generation=? ORDER BY id", (self.generation,))
                snapshot = "[" + ",".join(row[0] for row in c.fetchall()) + "]"
                c.execute(
                    "INSERT OR REPLACE INTO view_checkpoints VALUES (?,?,?,?)",
                    (self.generation, tracking.notification_id, checkpoint_max_recorded, snapshot),
                )

    def checkpoint_before(self, moment: float) -> tuple[int, list[Summary]] | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT position, data FROM view_checkpoints WHERE generation=? AND max_recorded<=? "
                "ORDER BY position DESC LIMIT 1",
                (self.generation, moment),
            )
            row = c.fetchone()
        return None if row is None else (int(row[0]), json.loads(row[1]))

    def last_checkpoint(self) -> tuple[int, float] | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT position, max_recorded FROM view_checkpoints WHERE generation=? "
                "ORDER BY position DESC LIMIT 1",
                (self.generation,),
            )
            row = c.fetchone()
        return None if row is None else (int(row[0]), float(row[1]))

    def clear(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            for table in ("view_tracking", "view_summaries", "view_checkpoints"):
                c.execute(f"DELETE FROM {table} WHERE generation=?", (self.generation,))

    def promote(self, to: str = LIVE) -> None:
        with self.datastore.transaction(commit=True) as c:
            for table in ("view_tracking", "view_summaries", "view_checkpoints"):
                c.execute(f"DELETE FROM {table} WHERE generation=?", (to,))
                c.execute(f"UPDATE {table} SET generation=? WHERE generation=?", (to, self.generation))


class PostgresViewStore(PostgresTrackingRecorder, ViewStore):
    """A PostgresTrackingRecorder (so the library's ProjectionRunner can build and wait on
    it) whose tracking lives in ``view_tracking`` rather than the library's table."""

    def __init__(self, datastore: PostgresDatastore, *, generation: str = LIVE, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.generation = generation
        schema = Identifier(datastore.schema)
        self._t = {name: SQL("{}.{}").format(schema, Identifier(name))
                   for name in ("view_tracking", "view_summaries", "view_checkpoints")}
        self.sql_create_statements = [
            SQL("CREATE TABLE IF NOT EXISTS {} (generation text, application_name text, "
                "notification_id bigint, PRIMARY KEY (generation, application_name))").format(self._t["view_tracking"]),
            SQL("CREATE TABLE IF NOT EXISTS {} (generation text, id text, kind text, data jsonb, "
                "PRIMARY KEY (generation, id))").format(self._t["view_summaries"]),
            SQL("CREATE TABLE IF NOT EXISTS {} (generation text, position bigint, max_recorded "
                "double precision, data jsonb, PRIMARY KEY (generation, position))").format(self._t["view_checkpoints"]),
        ]

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            for statement in self.sql_create_statements:
                curs.execute(statement, prepare=False)

    def max_tracking_id(self, application_name: str) -> int | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT notification_id FROM {} WHERE generation=%s AND application_name=%s").format(
                    self._t["view_tracking"]),
                (self.generation, application_name),
            )
            row = curs.fetchone()
        return None if row is None else int(row["notification_id"])

    def get_summaries(self, ids: Iterable[str]) -> dict[str, Summary]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT id, data FROM {} WHERE generation=%s AND id = ANY(%s)").format(self._t["view_summaries"]),
                (self.generation, list(ids)),
            )
            return {row["id"]: row["data"] for row in curs.fetchall()}

    def all_summaries(self) -> list[Summary]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT data FROM {} WHERE generation=%s ORDER BY id").format(self._t["view_summaries"]),
                (self.generation,),
            )
            return [row["data"] for row in curs.fetchall()]

    def put(self, summaries: dict[str, Summary], tracking: Tracking, *, expected: int | None,
            checkpoint_max_recorded: float | None = None) -> None:
        with self.datastore.transaction(commit=True) as curs:
            if expected is None:
                curs.execute(
                    SQL("INSERT INTO {} VALUES (%s,%s,%s) ON CONFLICT DO NOTHING").format(self._t["view_tracking"]),
                    (self.generation, tracking.application_name, tracking.notification_id),
                )
            else:
                curs.execute(
                    SQL("UPDATE {} SET notification_id=%s WHERE generation=%s AND application_name=%s "
                        "AND notification_id=%s").format(self._t["view_tracking"]),
                    (tracking.notification_id, self.generation, tracking.application_name, expected),
                )
            if curs.rowcount != 1:
                raise ConcurrentProcessing(tracking.notification_id)
            if summaries:
                curs.executemany(
                    SQL("INSERT INTO {} VALUES (%s,%s,%s,%s::jsonb) ON CONFLICT (generation, id) "
                        "DO UPDATE SET kind=excluded.kind, data=excluded.data").format(self._t["view_summaries"]),
                    [(self.generation, key, s.get("kind"), _dump(s)) for key, s in summaries.items()],
                )
            if checkpoint_max_recorded is not None:
                curs.execute(
                    SQL("INSERT INTO {} SELECT %s, %s, %s, coalesce(jsonb_agg(data ORDER BY id), '[]'::jsonb) "
                        "FROM {} WHERE generation=%s ON CONFLICT (generation, position) DO UPDATE "
                        "SET data=excluded.data, max_recorded=excluded.max_recorded").format(
                        self._t["view_checkpoints"], self._t["view_summaries"]),
                    (self.generation, tracking.notification_id, checkpoint_max_recorded, self.generation),
                )

    def checkpoint_before(self, moment: float) -> tuple[int, list[Summary]] | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT position, data FROM {} WHERE generation=%s AND max_recorded<=%s "
                    "ORDER BY position DESC LIMIT 1").format(self._t["view_checkpoints"]),
                (self.generation, moment),
            )
            row = curs.fetchone()
        return None if row is None else (int(row["position"]), list(row["data"]))

    def last_checkpoint(self) -> tuple[int, float] | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT position, max_recorded FROM {} WHERE generation=%s "
                    "ORDER BY position DESC LIMIT 1").format(self._t["view_checkpoints"]),
                (self.generation,),
            )
            row = curs.fetchone()
        return None if row is None else (int(row["position"]), float(row["max_recorded"]))

    def clear(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            for table in self._t.values():
                curs.execute(SQL("DELETE FROM {} WHERE generation=%s").format(table), (self.generation,))

    def promote(self, to: str = LIVE) -> None:
        with self.datastore.transaction(commit=True) as curs:
            for table in self._t.values():
                curs.execute(SQL("DELETE FROM {} WHERE generation=%s").format(table), (to,))
                curs.execute(SQL("UPDATE {} SET generation=%s WHERE generation=%s").format(table),
                             (to, self.generation))


def view_store_for(ledger: Any, *, generation: str = LIVE) -> ViewStore:
    """A view store on the ledger's own datastore (same file or pool)."""
    datastore = ledger.recorder.datastore
    store: ViewStore
    if isinstance(datastore, PostgresDatastore):
        store = PostgresViewStore(datastore, generation=generation)
    else:
        store = SQLiteViewStore(datastore, generation=generation)
    store.create_table()
    return store
