"""The views' store (projections.views.ViewStore) on SQLite and on PostgreSQL.

Tables of their own, keyed by generation, so neither the library's ``tracking`` table nor
another projection that follows the same application is touched:

- ``view_tracking``: the position each generation reflects;
- ``view_summaries``: the current summaries, each with its brief (what the views read of
  it, projections.folds.brief) and the position of the batch that last changed it;
- ``view_changed``: ids changed since the generation's last checkpoint;
- ``view_horizon``: the latest recorded time of any event folded so far;
- ``view_marks``: checkpoints (position, latest recorded time up to it);
- ``view_epochs``: a new random value for a generation each time another is promoted over
  it (ViewStore.epoch);
- ``view_versions``: at each checkpoint, a copy of each summary changed since the previous
  one, so a summary as of checkpoint P is its version with the greatest position <= P.

Briefs and positions were added later: ``create_table`` adds their columns to an older
database, and a row without a brief has it computed from its summary when read.

The earlier design copied every summary into ``view_checkpoints`` every 500 positions; that
table is dropped when the tables are created (``careledger migrate``, or any start), and a
view rebuilt with ``careledger rebuild`` gets the new checkpoints. Until then a view as of a
past moment replays from the start of the log (same answer, slower).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteRecorder
from psycopg.sql import SQL, Identifier

from projections import folds
from projections.views import LIVE, ConcurrentProcessing, Summary, ViewStore

TABLES = ("view_tracking", "view_summaries", "view_changed", "view_horizon", "view_marks", "view_versions")


def _dump(summary: Summary) -> str:
    return json.dumps(summary, ensure_ascii=False, sort_keys=True)


def _brief(brief: Summary | str | None, data: Summary | str | None) -> Summary:
    """A stored brief, or one made from the stored summary where the row predates briefs."""
    if brief is not None:
        return json.loads(brief) if isinstance(brief, str) else brief
    assert data is not None
    return folds.brief(json.loads(data) if isinstance(data, str) else data)


# Columns added after the first release: (table, column, SQLite type, PostgreSQL type).
ADDED_COLUMNS = (
    ("view_summaries", "brief", "TEXT", "jsonb"),
    ("view_summaries", "position", "INTEGER", "bigint"),
    ("view_versions", "brief", "TEXT", "jsonb"),
)


class SQLiteViewStore(SQLiteRecorder, ViewStore):
    def __init__(self, datastore: SQLiteDatastore, *, generation: str = LIVE, **_: Any) -> None:
        super().__init__(datastore)
        self.generation = generation

    def construct_create_table_statements(self) -> list[str]:
        return [
            ("CREATE TABLE IF NOT EXISTS view_tracking (generation TEXT, application_name TEXT, "
            "notification_id INTEGER, PRIMARY KEY (generation, application_name)) WITHOUT ROWID"),
            ("CREATE TABLE IF NOT EXISTS view_summaries (generation TEXT, id TEXT, kind TEXT, "
            "data TEXT, brief TEXT, position INTEGER, PRIMARY KEY (generation, id)) WITHOUT ROWID"),
            ("CREATE TABLE IF NOT EXISTS view_changed (generation TEXT, id TEXT, "
            "PRIMARY KEY (generation, id)) WITHOUT ROWID"),
            ("CREATE TABLE IF NOT EXISTS view_horizon (generation TEXT PRIMARY KEY, max_recorded REAL) "
            "WITHOUT ROWID"),
            ("CREATE TABLE IF NOT EXISTS view_marks (generation TEXT, position INTEGER, "
            "max_recorded REAL, PRIMARY KEY (generation, position)) WITHOUT ROWID"),
            ("CREATE TABLE IF NOT EXISTS view_versions (generation TEXT, id TEXT, position INTEGER, "
            "kind TEXT, data TEXT, brief TEXT, PRIMARY KEY (generation, id, position))"),
            "DROP TABLE IF EXISTS view_checkpoints",
            "CREATE TABLE IF NOT EXISTS view_epochs (generation TEXT PRIMARY KEY, epoch TEXT) WITHOUT ROWID",
        ]

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            for statement in self.create_table_statements:
                c.execute(statement)
            for table, column, kind, _ in ADDED_COLUMNS:
                c.execute(f"SELECT 1 FROM pragma_table_info('{table}') WHERE name=?", (column,))
                if c.fetchone() is None:
                    c.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            c.execute("CREATE INDEX IF NOT EXISTS view_summaries_position ON view_summaries (generation, position)")

    def max_tracking_id(self, application_name: str) -> int | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT notification_id FROM view_tracking WHERE generation=? AND application_name=?",
                (self.generation, application_name),
            )
            row = c.fetchone()
        return None if row is None else int(row[0])

    def _for_ids(self, select: str, args: tuple[Any, ...], ids: Iterable[str], tail: str = "") -> list[Any]:
        """Rows of ``select ... AND id IN (ids)`` + ``tail``, 500 ids a query (SQLite's
        limit on variables)."""
        wanted = sorted(set(ids))
        rows: list[Any] = []
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                c.execute(f"{select} AND id IN ({','.join('?' * len(chunk))}){tail}", (*args, *chunk))
                rows.extend(c.fetchall())
        return rows

    def get_summaries(self, ids: Iterable[str]) -> dict[str, Summary]:
        rows = self._for_ids("SELECT id, data FROM view_summaries WHERE generation=?", (self.generation,), ids)
        return {row[0]: json.loads(row[1]) for row in rows}

    def all_summaries(self, kinds: Iterable[str] | None = None) -> list[Summary]:
        where, args = _kinds_sqlite(kinds)
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT data FROM view_summaries WHERE generation=?{where} ORDER BY id",
                      (self.generation, *args))
            return [json.loads(row[0]) for row in c.fetchall()]

    def all_briefs(self, kinds: Iterable[str] | None = None) -> list[Summary]:
        where, args = _kinds_sqlite(kinds)
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT brief, CASE WHEN brief IS NULL THEN data END FROM view_summaries "
                      f"WHERE generation=?{where} ORDER BY id", (self.generation, *args))
            return [_brief(*row) for row in c.fetchall()]

    def briefs_since(self, position: int | None) -> Iterator[tuple[str, int | None, Summary]]:
        after = "" if position is None else " AND position > ?"
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT id, position, brief, CASE WHEN brief IS NULL THEN data END FROM view_summaries "
                      f"WHERE generation=?{after}", (self.generation, *([] if position is None else [position])))
            rows = c.fetchall()  # as text: each is decoded only as the caller takes it
        for row in rows:
            yield row[0], row[1], _brief(row[2], row[3])

    def epoch(self) -> str | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT epoch FROM view_epochs WHERE generation=?", (self.generation,))
            row = c.fetchone()
        return None if row is None else str(row[0])

    def put(self, summaries: dict[str, Summary], tracking: Tracking, *, expected: int | None,
            max_recorded: float | None = None, checkpoint: bool = False) -> None:
        g, position = self.generation, tracking.notification_id
        rows = [(g, key, s.get("kind"), _dump(s), _dump(folds.brief(s)), position) for key, s in summaries.items()]
        with self.datastore.transaction(commit=True) as c:
            if expected is None:
                c.execute(
                    "INSERT INTO view_tracking VALUES (?,?,?) ON CONFLICT DO NOTHING",
                    (g, tracking.application_name, tracking.notification_id),
                )
            else:
                c.execute(
                    "UPDATE view_tracking SET notification_id=? WHERE generation=? "
                    "AND application_name=? AND notification_id=?",
                    (tracking.notification_id, g, tracking.application_name, expected),
                )
            if c.sqlite_cursor.rowcount != 1:
                raise ConcurrentProcessing(tracking.notification_id)
            if summaries:
                c.executemany(
                    "INSERT INTO view_summaries (generation, id, kind, data, brief, position) "
                    "VALUES (?,?,?,?,?,?) ON CONFLICT (generation, id) DO UPDATE SET kind=excluded.kind, "
                    "data=excluded.data, brief=excluded.brief, position=excluded.position",
                    rows,
                )
                c.executemany("INSERT OR IGNORE INTO view_changed VALUES (?,?)", [(g, key) for key in summaries])
            if max_recorded is not None:
                c.execute(
                    "INSERT INTO view_horizon VALUES (?,?) ON CONFLICT (generation) "
                    "DO UPDATE SET max_recorded=max(max_recorded, excluded.max_recorded)",
                    (g, max_recorded),
                )
            if checkpoint:
                c.execute(
                    "INSERT OR REPLACE INTO view_versions (generation, id, position, kind, data, brief) "
                    "SELECT s.generation, s.id, ?, s.kind, s.data, s.brief FROM view_changed AS d "
                    "JOIN view_summaries AS s ON s.generation=d.generation AND s.id=d.id "
                    "WHERE d.generation=?",
                    (tracking.notification_id, g),
                )
                c.execute("DELETE FROM view_changed WHERE generation=?", (g,))
                c.execute(
                    "INSERT OR REPLACE INTO view_marks SELECT generation, ?, max_recorded FROM view_horizon "
                    "WHERE generation=?",
                    (tracking.notification_id, g),
                )

    def checkpoint_before(self, moment: float, kinds: Iterable[str] | None = None) -> tuple[int, list[Summary]] | None:
        position = self.checkpoint_position(moment)
        if position is None:
            return None
        where, args = _kinds_sqlite(kinds)
        with self.datastore.transaction(commit=False) as c:
            # SQLite answers the bare columns from the row holding the max().
            c.execute(
                f"SELECT brief, CASE WHEN brief IS NULL THEN data END, max(position) FROM view_versions "
                f"WHERE generation=? AND position<=?{where} GROUP BY id ORDER BY id",
                (self.generation, position, *args),
            )
            return position, [_brief(r[0], r[1]) for r in c.fetchall()]

    def checkpoint_position(self, moment: float) -> int | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT position FROM view_marks WHERE generation=? AND max_recorded<=? "
                      "ORDER BY position DESC LIMIT 1", (self.generation, moment))
            row = c.fetchone()
        return None if row is None else int(row[0])

    def briefs_at(self, position: int, ids: Iterable[str]) -> list[Summary]:
        # SQLite answers the bare columns from the row holding the max().
        rows = self._for_ids("SELECT brief, CASE WHEN brief IS NULL THEN data END, max(position) FROM view_versions "
                             "WHERE generation=? AND position<=?", (self.generation, position), ids, " GROUP BY id")
        return [_brief(row[0], row[1]) for row in rows]

    def versions_at(self, position: int, ids: Iterable[str]) -> dict[str, Summary]:
        rows = self._for_ids("SELECT id, data, max(position) FROM view_versions WHERE generation=? AND position<=?",
                             (self.generation, position), ids, " GROUP BY id")
        return {row[0]: json.loads(row[1]) for row in rows}

    def last_checkpoint(self) -> tuple[int, float] | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT position, max_recorded FROM view_marks WHERE generation=? "
                "ORDER BY position DESC LIMIT 1",
                (self.generation,),
            )
            row = c.fetchone()
        return None if row is None else (int(row[0]), float(row[1]))

    def clear(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            for table in TABLES:
                c.execute(f"DELETE FROM {table} WHERE generation=?", (self.generation,))

    def promote(self, to: str = LIVE) -> None:
        with self.datastore.transaction(commit=True) as c:
            for table in TABLES:
                c.execute(f"DELETE FROM {table} WHERE generation=?", (to,))
                c.execute(f"UPDATE {table} SET generation=? WHERE generation=?", (to, self.generation))
            c.execute("INSERT OR REPLACE INTO view_epochs VALUES (?,?)", (to, uuid.uuid4().hex))


def _kinds_sqlite(kinds: Iterable[str] | None) -> tuple[str, list[str]]:
    if kinds is None:
        return "", []
    wanted = sorted(set(kinds))
    return f" AND kind IN ({','.join('?' * len(wanted))})", wanted


class PostgresViewStore(PostgresTrackingRecorder, ViewStore):
    """A PostgresTrackingRecorder (so the library's ProjectionRunner can build and wait on
    it) whose tracking lives in ``view_tracking`` rather than the library's table."""

    def __init__(self, datastore: PostgresDatastore, *, generation: str = LIVE, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.generation = generation
        schema = Identifier(datastore.schema)
        self._t = {name: SQL("{}.{}").format(schema, Identifier(name)) for name in TABLES}
        self._epochs = SQL("{}.{}").format(schema, Identifier("view_epochs"))
        t = self._t
        self.sql_create_statements = [
            SQL("CREATE TABLE IF NOT EXISTS {} (generation text, application_name text, "
                "notification_id bigint, PRIMARY KEY (generation, application_name))").format(t["view_tracking"]),
            SQL("CREATE TABLE IF NOT EXISTS {} (generation text, id text, kind text, data jsonb, "
                "brief jsonb, position bigint, PRIMARY KEY (generation, id))").format(t["view_summaries"]),
            SQL("CREATE TABLE IF NOT EXISTS {} (generation text, id text, "
                "PRIMARY KEY (generation, id))").format(t["view_changed"]),
            SQL("CREATE TABLE IF NOT EXISTS {} (generation text PRIMARY KEY, "
                "max_recorded double precision)").format(t["view_horizon"]),
            SQL("CREATE TABLE IF NOT EXISTS {} (generation text, position bigint, "
                "max_recorded double precision, PRIMARY KEY (generation, position))").format(t["view_marks"]),
            SQL("CREATE TABLE IF NOT EXISTS {} (generation text, id text, position bigint, kind text, "
                "data jsonb, brief jsonb, PRIMARY KEY (generation, id, position))").format(t["view_versions"]),
            SQL("DROP TABLE IF EXISTS {}").format(SQL("{}.{}").format(schema, Identifier("view_checkpoints"))),
            SQL("CREATE TABLE IF NOT EXISTS {} (generation text PRIMARY KEY, epoch text)").format(self._epochs),
        ]
        self._added = [
            (table, column, SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} " + kind).format(t[table], Identifier(column)))
            for table, column, _, kind in ADDED_COLUMNS
        ]
        self._position_index = SQL("CREATE INDEX IF NOT EXISTS view_summaries_position ON {} (generation, position)").format(
            t["view_summaries"])

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            for statement in self.sql_create_statements:
                curs.execute(statement, prepare=False)
            # ALTER and CREATE INDEX lock the table even when there is nothing to do, and
            # every process creates the tables as it starts: look first.
            curs.execute("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema=%s",
                         (self.datastore.schema,))
            present = {(r["table_name"], r["column_name"]) for r in curs.fetchall()}
            for table, column, statement in self._added:
                if (table, column) not in present:
                    curs.execute(statement, prepare=False)
            curs.execute("SELECT 1 FROM pg_indexes WHERE schemaname=%s AND indexname='view_summaries_position'",
                         (self.datastore.schema,))
            if curs.fetchone() is None:
                curs.execute(self._position_index, prepare=False)

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

    def all_summaries(self, kinds: Iterable[str] | None = None) -> list[Summary]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT data FROM {} WHERE generation=%s AND (%s::text[] IS NULL OR kind = ANY(%s)) "
                    "ORDER BY id").format(self._t["view_summaries"]),
                (self.generation, *_kinds_pg(kinds)),
            )
            return [row["data"] for row in curs.fetchall()]

    def all_briefs(self, kinds: Iterable[str] | None = None) -> list[Summary]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT brief, CASE WHEN brief IS NULL THEN data END AS data FROM {} WHERE generation=%s "
                    "AND (%s::text[] IS NULL OR kind = ANY(%s)) ORDER BY id").format(self._t["view_summaries"]),
                (self.generation, *_kinds_pg(kinds)),
            )
            return [_brief(row["brief"], row["data"]) for row in curs.fetchall()]

    def briefs_since(self, position: int | None) -> Iterator[tuple[str, int | None, Summary]]:
        with self.datastore.transaction(commit=False) as curs:
            # Two statements, not one with "IS NULL OR": a prepared plan must use the index.
            # As text, decoded only as the caller takes each, after the transaction ends (the
            # caller's work must not hold it open): all of them decoded at once would double
            # the memory the caller needs.
            after = SQL("") if position is None else SQL(" AND position > %s")
            curs.execute(
                SQL("SELECT id, position, brief::text AS brief, CASE WHEN brief IS NULL THEN data::text END "
                    "AS data FROM {} WHERE generation=%s{}").format(self._t["view_summaries"], after),
                (self.generation, *([] if position is None else [position])),
            )
            rows = curs.fetchall()
        for r in rows:
            yield r["id"], r["position"], _brief(r["brief"], r["data"])

    def epoch(self) -> str | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(SQL("SELECT epoch FROM {} WHERE generation=%s").format(self._epochs), (self.generation,))
            row = curs.fetchone()
        return None if row is None else str(row["epoch"])

    def put(self, summaries: dict[str, Summary], tracking: Tracking, *, expected: int | None,
            max_recorded: float | None = None, checkpoint: bool = False) -> None:
        g, t = self.generation, self._t
        # Serialised before the transaction opens, as one JSON array: psycopg adapts a
        # text[] parameter element by element in Python (most of a batch's time), while one
        # string goes as it is; and the transaction must not sit idle while Python works
        # (the library's sessions end after 5 s idle in a transaction).
        document = "[" + ",".join(f"[{_dump(s)},{_dump(folds.brief(s))}]" for s in summaries.values()) + "]"
        with self.datastore.transaction(commit=True) as curs:
            if expected is None:
                curs.execute(
                    SQL("INSERT INTO {} VALUES (%s,%s,%s) ON CONFLICT DO NOTHING").format(t["view_tracking"]),
                    (g, tracking.application_name, tracking.notification_id),
                )
            else:
                curs.execute(
                    SQL("UPDATE {} SET notification_id=%s WHERE generation=%s AND application_name=%s "
                        "AND notification_id=%s").format(t["view_tracking"]),
                    (tracking.notification_id, g, tracking.application_name, expected),
                )
            if curs.rowcount != 1:
                raise ConcurrentProcessing(tracking.notification_id)
            if summaries:
                curs.execute(
                    SQL("WITH stored AS (INSERT INTO {} (generation, id, kind, data, brief, position) "
                        "SELECT %s, e->0->>'id', e->0->>'kind', e->0, e->1, %s "
                        "FROM jsonb_array_elements(%s::jsonb) AS e ON CONFLICT (generation, id) "
                        "DO UPDATE SET kind=excluded.kind, data=excluded.data, brief=excluded.brief, "
                        "position=excluded.position RETURNING id) "
                        "INSERT INTO {} SELECT %s, id FROM stored ON CONFLICT DO NOTHING").format(
                        t["view_summaries"], t["view_changed"]),
                    (g, tracking.notification_id, document, g),
                )
            if max_recorded is not None:
                curs.execute(
                    SQL("INSERT INTO {} VALUES (%s,%s) ON CONFLICT (generation) "
                        "DO UPDATE SET max_recorded=greatest({}.max_recorded, excluded.max_recorded)").format(
                        t["view_horizon"], t["view_horizon"]),
                    (g, max_recorded),
                )
            if checkpoint:
                curs.execute(
                    SQL("INSERT INTO {} (generation, id, position, kind, data, brief) "
                        "SELECT s.generation, s.id, %s, s.kind, s.data, s.brief FROM {} AS d "
                        "JOIN {} AS s ON s.generation=d.generation AND s.id=d.id WHERE d.generation=%s "
                        "ON CONFLICT (generation, id, position) DO UPDATE SET data=excluded.data, "
                        "brief=excluded.brief").format(
                        t["view_versions"], t["view_changed"], t["view_summaries"]),
                    (tracking.notification_id, g),
                )
                curs.execute(SQL("DELETE FROM {} WHERE generation=%s").format(t["view_changed"]), (g,))
                curs.execute(
                    SQL("INSERT INTO {} SELECT generation, %s, max_recorded FROM {} WHERE generation=%s "
                        "ON CONFLICT (generation, position) DO UPDATE SET max_recorded=excluded.max_recorded").format(
                        t["view_marks"], t["view_horizon"]),
                    (tracking.notification_id, g),
                )

    def checkpoint_before(self, moment: float, kinds: Iterable[str] | None = None) -> tuple[int, list[Summary]] | None:
        position = self.checkpoint_position(moment)
        if position is None:
            return None
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT DISTINCT ON (id) brief, CASE WHEN brief IS NULL THEN data END AS data FROM {} "
                    "WHERE generation=%s AND position<=%s AND (%s::text[] IS NULL OR kind = ANY(%s)) "
                    "ORDER BY id, position DESC").format(self._t["view_versions"]),
                (self.generation, position, *_kinds_pg(kinds)),
            )
            return position, [_brief(r["brief"], r["data"]) for r in curs.fetchall()]

    def checkpoint_position(self, moment: float) -> int | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT position FROM {} WHERE generation=%s AND max_recorded<=%s "
                    "ORDER BY position DESC LIMIT 1").format(self._t["view_marks"]),
                (self.generation, moment),
            )
            row = curs.fetchone()
        return None if row is None else int(row["position"])

    def briefs_at(self, position: int, ids: Iterable[str]) -> list[Summary]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT DISTINCT ON (id) brief, CASE WHEN brief IS NULL THEN data END AS data FROM {} "
                    "WHERE generation=%s AND position<=%s AND id = ANY(%s) ORDER BY id, position DESC").format(
                    self._t["view_versions"]),
                (self.generation, position, sorted(set(ids))),
            )
            return [_brief(r["brief"], r["data"]) for r in curs.fetchall()]

    def versions_at(self, position: int, ids: Iterable[str]) -> dict[str, Summary]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT DISTINCT ON (id) id, data FROM {} WHERE generation=%s AND position<=%s "
                    "AND id = ANY(%s) ORDER BY id, position DESC").format(self._t["view_versions"]),
                (self.generation, position, sorted(set(ids))),
            )
            return {r["id"]: r["data"] for r in curs.fetchall()}

    def last_checkpoint(self) -> tuple[int, float] | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT position, max_recorded FROM {} WHERE generation=%s "
                    "ORDER BY position DESC LIMIT 1").format(self._t["view_marks"]),
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
            curs.execute(SQL("INSERT INTO {} VALUES (%s,%s) ON CONFLICT (generation) DO UPDATE "
                             "SET epoch=excluded.epoch").format(self._epochs), (to, uuid.uuid4().hex))


def _kinds_pg(kinds: Iterable[str] | None) -> tuple[list[str] | None, list[str] | None]:
    wanted = None if kinds is None else sorted(set(kinds))
    return wanted, wanted


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
