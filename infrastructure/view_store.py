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

import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteRecorder

from infrastructure.dialect import Cursor, Database
from projections import folds
from projections.views import LIVE, ConcurrentProcessing, Summary, ViewStore

TABLES = ("view_tracking", "view_summaries", "view_changed", "view_horizon", "view_marks", "view_versions")
CREATE = (
    "CREATE TABLE IF NOT EXISTS {p}view_tracking (generation {text}, application_name {text}, "
    "notification_id {bigint}, PRIMARY KEY (generation, application_name)){without_rowid}",
    "CREATE TABLE IF NOT EXISTS {p}view_summaries (generation {text}, id {text}, kind {text}, "
    "data {json}, brief {json}, position {bigint}, PRIMARY KEY (generation, id)){without_rowid}",
    "CREATE TABLE IF NOT EXISTS {p}view_changed (generation {text}, id {text}, "
    "PRIMARY KEY (generation, id)){without_rowid}",
    "CREATE TABLE IF NOT EXISTS {p}view_horizon (generation {text} PRIMARY KEY, max_recorded {real})"
    "{without_rowid}",
    "CREATE TABLE IF NOT EXISTS {p}view_marks (generation {text}, position {bigint}, "
    "max_recorded {real}, PRIMARY KEY (generation, position)){without_rowid}",
    "CREATE TABLE IF NOT EXISTS {p}view_versions (generation {text}, id {text}, position {bigint}, "
    "kind {text}, data {json}, brief {json}, PRIMARY KEY (generation, id, position))",
    "DROP TABLE IF EXISTS {p}view_checkpoints",
    "CREATE TABLE IF NOT EXISTS {p}view_epochs (generation {text} PRIMARY KEY, epoch {text}){without_rowid}",
)
# Columns added after the first release: (table, column, type).
ADDED_COLUMNS = (
    ("view_summaries", "brief", "{json}"),
    ("view_summaries", "position", "{bigint}"),
    ("view_versions", "brief", "{json}"),
)
# A brief, or its summary where the row predates briefs (as text: decoded when taken).
BRIEF = "CAST(brief AS TEXT), CASE WHEN brief IS NULL THEN CAST(data AS TEXT) END"


# orjson: the stdlib's encoder was a tenth of a catch-up's time (UTF-8 as it is, like
# ensure_ascii=False; keys sorted as before).
_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _dump(summary: Summary) -> str:
    return orjson.dumps(summary, option=_OPTIONS).decode()


def _json(value: Summary | str) -> Summary:
    # PostgreSQL's jsonb arrives decoded unless read as text, SQLite's text does not.
    return orjson.loads(value) if isinstance(value, str) else value


def _brief(brief: Summary | str | None, data: Summary | str | None) -> Summary:
    """A stored brief, or one made from the stored summary where the row predates briefs."""
    if brief is not None:
        return _json(brief)
    assert data is not None
    return folds.brief(_json(data))


class _ViewTables(ViewStore):
    """The store, written once; each backend's class below adds the library's recorder
    it must be (for the library's runners) and how it writes a batch of summaries."""

    def __init__(self, datastore: Any, *, generation: str = LIVE, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)  # type: ignore[call-arg]
        self.generation = generation
        self.db = Database(datastore)

    def create_table(self) -> None:
        with self.db.transaction(commit=True) as c:
            for statement in CREATE:
                c.execute(statement, prepare=False)
            # ALTER and CREATE INDEX lock the table even when there is nothing to do, and
            # every process creates the tables as it starts: look first.
            for table, column, kind in ADDED_COLUMNS:
                if column not in self.db.dialect.columns(c, table):
                    c.execute(f"ALTER TABLE {{p}}{table} ADD COLUMN {column} {kind}", prepare=False)
            if "view_summaries_position" not in self.db.dialect.indexes(c, "view_summaries"):
                c.execute("CREATE INDEX IF NOT EXISTS view_summaries_position ON {p}view_summaries "
                          "(generation, position)", prepare=False)

    def max_tracking_id(self, application_name: str) -> int | None:
        with self.db.read() as c:
            row = c.execute("SELECT notification_id FROM {p}view_tracking WHERE generation=? AND application_name=?",
                            (self.generation, application_name)).fetchone()
        return None if row is None else int(row[0])

    def _for_ids(self, select: str, args: tuple[Any, ...], ids: Iterable[str]) -> list[Any]:
        """Rows of ``select`` (its parameters ``args``, then ``{among}``: the row's id is one
        of ``ids``), read a chunk of ids at a time."""
        rows: list[Any] = []
        with self.db.transaction(commit=False) as c:
            for chunk in self.db.chunks(ids):
                among, params = self.db.dialect.among("id", chunk)
                rows.extend(c.execute(select.format(among=among), (*args, *params)).fetchall())
        return rows

    def _kinds(self, kinds: Iterable[str] | None) -> tuple[str, list[Any]]:
        if kinds is None:
            return "", []
        among, params = self.db.dialect.among("kind", sorted(set(kinds)))
        return " AND " + among, params

    def get_summaries(self, ids: Iterable[str]) -> dict[str, Summary]:
        # As text, decoded by orjson: psycopg's jsonb loader is the stdlib's, twice as slow.
        rows = self._for_ids("SELECT id, CAST(data AS TEXT) FROM {{p}}view_summaries WHERE generation=? AND {among}",
                             (self.generation,), ids)
        return {row[0]: _json(row[1]) for row in rows}

    def all_summaries(self, kinds: Iterable[str] | None = None) -> list[Summary]:
        where, args = self._kinds(kinds)
        with self.db.transaction(commit=False) as c:
            c.execute(f"SELECT data FROM {{p}}view_summaries WHERE generation=?{where} ORDER BY id",
                      (self.generation, *args))
            return [_json(row[0]) for row in c.fetchall()]

    def all_briefs(self, kinds: Iterable[str] | None = None) -> list[Summary]:
        where, args = self._kinds(kinds)
        with self.db.transaction(commit=False) as c:
            c.execute(f"SELECT {BRIEF} FROM {{p}}view_summaries WHERE generation=?{where} ORDER BY id",
                      (self.generation, *args))
            return [_brief(*row) for row in c.fetchall()]

    def changes_since(self, position: int | None) -> tuple[str | None, Iterator[tuple[str, int | None, Summary]]]:
        # One statement, so one snapshot: the epoch and the rows cannot straddle a promotion,
        # and a page's refresh is one round trip (not a transaction of three statements).
        after, args = ("", []) if position is None else (" AND position > ?", [position])
        with self.db.read() as c:
            c.execute("SELECT NULL, NULL, (SELECT epoch FROM {p}view_epochs WHERE generation=?), NULL UNION ALL "
                      f"SELECT id, position, {BRIEF} FROM {{p}}view_summaries WHERE generation=?{after}",
                      (self.generation, self.generation, *args))
            rows = c.fetchall()
        epoch = next((row[2] for row in rows if row[0] is None), None)
        return (None if epoch is None else str(epoch),
                ((row[0], row[1], _brief(row[2], row[3])) for row in rows if row[0] is not None))

    def epoch(self) -> str | None:
        with self.db.read() as c:
            row = c.execute("SELECT epoch FROM {p}view_epochs WHERE generation=?", (self.generation,)).fetchone()
        return None if row is None else str(row[0])

    def put(self, summaries: dict[str, Summary], tracking: Tracking, *, expected: int | None,
            max_recorded: float | None = None, checkpoint: bool = False, encoded: Any = None) -> None:
        g, position = self.generation, tracking.notification_id
        # Serialised before the transaction opens: it must not sit idle while Python works
        # (the library's PostgreSQL sessions end after 5 s idle in a transaction).
        batch = self.encode(summaries) if encoded is None else encoded
        with self.db.transaction(commit=True) as c:
            if expected is None:
                c.execute("INSERT INTO {p}view_tracking VALUES (?,?,?) ON CONFLICT DO NOTHING",
                          (g, tracking.application_name, position))
            else:
                c.execute("UPDATE {p}view_tracking SET notification_id=? WHERE generation=? "
                          "AND application_name=? AND notification_id=?",
                          (position, g, tracking.application_name, expected))
            if c.rowcount != 1:
                raise ConcurrentProcessing(position)
            if summaries:
                self._store(c, batch, position)
            if max_recorded is not None:
                c.execute(
                    "INSERT INTO {p}view_horizon AS h VALUES (?,?) ON CONFLICT (generation) "
                    "DO UPDATE SET max_recorded={greatest}(h.max_recorded, excluded.max_recorded)",
                    (g, max_recorded),
                )
            if checkpoint:
                # The changed ids as one array on PostgreSQL: a join let the planner, which
                # takes a new generation for one row, walk every summary of the generation for
                # each changed id (a second a checkpoint at 4,000 summaries).
                changed = ("= ANY(ARRAY(SELECT d.id FROM {p}view_changed AS d WHERE d.generation=?))"
                           if self.db.postgres else "IN (SELECT d.id FROM {p}view_changed AS d WHERE d.generation=?)")
                c.execute(
                    "INSERT INTO {p}view_versions (generation, id, position, kind, data, brief) "
                    "SELECT s.generation, s.id, ?, s.kind, s.data, s.brief FROM {p}view_summaries AS s "
                    f"WHERE s.generation=? AND s.id {changed} "
                    "ON CONFLICT (generation, id, position) DO UPDATE SET kind=excluded.kind, data=excluded.data, "
                    "brief=excluded.brief",
                    (position, g, g),
                )
                c.execute("DELETE FROM {p}view_changed WHERE generation=?", (g,))
                c.execute(
                    "INSERT INTO {p}view_marks SELECT generation, ?, max_recorded FROM {p}view_horizon "
                    "WHERE generation=? ON CONFLICT (generation, position) "
                    "DO UPDATE SET max_recorded=excluded.max_recorded",
                    (position, g),
                )

    def _store(self, c: Cursor, batch: Any, position: int) -> None:
        """Upserts the batch's summaries at ``position`` and marks them changed."""
        raise NotImplementedError

    def checkpoint_before(self, moment: float, kinds: Iterable[str] | None = None) -> tuple[int, list[Summary]] | None:
        position = self.checkpoint_position(moment)
        if position is None:
            return None
        where, args = self._kinds(kinds)
        with self.db.transaction(commit=False) as c:
            latest = self.db.dialect.latest_per_id(BRIEF, "{p}view_versions", f"generation=? AND position<=?{where}")
            c.execute(latest, (self.generation, position, *args))
            return position, [_brief(r[0], r[1]) for r in c.fetchall()]

    def checkpoint_position(self, moment: float) -> int | None:
        with self.db.read() as c:
            row = c.execute("SELECT position FROM {p}view_marks WHERE generation=? AND max_recorded<=? "
                            "ORDER BY position DESC LIMIT 1", (self.generation, moment)).fetchone()
        return None if row is None else int(row[0])

    def _latest(self, columns: str, position: int, ids: Iterable[str]) -> list[Any]:
        return self._for_ids(self.db.dialect.latest_per_id(columns, "{{p}}view_versions",
                                                           "generation=? AND position<=? AND {among}"),
                             (self.generation, position), ids)

    def briefs_at(self, position: int, ids: Iterable[str]) -> list[Summary]:
        return [_brief(row[0], row[1]) for row in self._latest(BRIEF, position, ids)]

    def versions_at(self, position: int, ids: Iterable[str]) -> dict[str, Summary]:
        return {row[0]: _json(row[1]) for row in self._latest("id, data", position, ids)}

    def last_checkpoint(self) -> tuple[int, float] | None:
        with self.db.transaction(commit=False) as c:
            row = c.execute("SELECT position, max_recorded FROM {p}view_marks WHERE generation=? "
                            "ORDER BY position DESC LIMIT 1", (self.generation,)).fetchone()
        return None if row is None else (int(row[0]), float(row[1]))

    def clear(self) -> None:
        with self.db.transaction(commit=True) as c:
            for table in TABLES:
                c.execute(f"DELETE FROM {{p}}{table} WHERE generation=?", (self.generation,))

    def promote(self, to: str = LIVE) -> None:
        with self.db.transaction(commit=True) as c:
            for table in TABLES:
                c.execute(f"DELETE FROM {{p}}{table} WHERE generation=?", (to,))
                c.execute(f"UPDATE {{p}}{table} SET generation=? WHERE generation=?", (to, self.generation))
            c.execute("INSERT INTO {p}view_epochs VALUES (?,?) ON CONFLICT (generation) DO UPDATE "
                      "SET epoch=excluded.epoch", (to, uuid.uuid4().hex))


class SQLiteViewStore(_ViewTables, SQLiteRecorder):
    def encode(self, summaries: dict[str, Summary]) -> list[tuple[str, Any, str, str]]:
        return [(key, s.get("kind"), _dump(s), _dump(folds.brief(s))) for key, s in summaries.items()]

    def _store(self, c: Cursor, batch: list[tuple[str, Any, str, str]], position: int) -> None:
        g = self.generation
        c.executemany(
            "INSERT INTO {p}view_summaries (generation, id, kind, data, brief, position) "
            "VALUES (?,?,?,?,?,?) ON CONFLICT (generation, id) DO UPDATE SET kind=excluded.kind, "
            "data=excluded.data, brief=excluded.brief, position=excluded.position",
            [(g, *row, position) for row in batch],
        )
        c.executemany("INSERT INTO {p}view_changed VALUES (?,?) ON CONFLICT DO NOTHING",
                      [(g, row[0]) for row in batch])


class PostgresViewStore(_ViewTables, PostgresTrackingRecorder):
    """A PostgresTrackingRecorder (so the library's ProjectionRunner can build and wait on
    it) whose tracking lives in ``view_tracking`` rather than the library's table."""

    def encode(self, summaries: dict[str, Summary]) -> str:
        # One JSON array: psycopg adapts a text[] parameter element by element in Python
        # (most of a batch's time), while one string goes as it is.
        dump, brief, option = orjson.dumps, folds.brief, _OPTIONS
        return (b"[" + b",".join(b"[%s,%s]" % (dump(s, option=option), dump(brief(s), option=option))
                                 for s in summaries.values()) + b"]").decode()

    def _store(self, c: Cursor, batch: str, position: int) -> None:
        c.execute(
            "WITH stored AS (INSERT INTO {p}view_summaries (generation, id, kind, data, brief, position) "
            "SELECT ?, e->0->>'id', e->0->>'kind', e->0, e->1, ? "
            "FROM jsonb_array_elements(?::jsonb) AS e ON CONFLICT (generation, id) "
            "DO UPDATE SET kind=excluded.kind, data=excluded.data, brief=excluded.brief, "
            "position=excluded.position RETURNING id) "
            "INSERT INTO {p}view_changed SELECT ?, id FROM stored ON CONFLICT DO NOTHING",
            (self.generation, position, batch, self.generation),
        )


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
