"""The audit index's tables and queries, for SQLite and PostgreSQL (built from the library's datastores).

Every query is a page in position order after ``after``, so each filter needs an index
that yields its rows in position order: ``(column, position)`` for an equality, and
``(unit, type, position)``, ``(user_name, type, position)`` for the pairs asked together.

A time window (``from``/``to``) is not such a filter: recorded times rise with position
but not strictly (a writer can commit after a later-stamped one), so the window's rows
are not a position range, and reading them through ``(recorded_at, position)`` then
sorting costs the whole window (seconds at 10^6 events). So each row also keeps
``recorded_max``, the latest recorded time at or before its position, which never falls:

- no row before the first with ``recorded_max >= from`` can be in the window (its own
  time is at most its ``recorded_max``); one index probe finds that position;
- after the first row with ``recorded_max > to``, a row in the window is one recorded
  earlier than a row before it (``recorded_at < recorded_max``), which a partial index
  holds (there are few);

so a window is a position range read in order, plus those few rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from eventsourcing.persistence import OperationalError
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from infrastructure.dialect import Database
from projections.audit_index import AuditFilter, AuditIndexStore, AuditRow, IndexMoved

MAX_POSITION = 2**62
# How many appended rows between looks at the PostgreSQL index's statistics (one catalog
# query each), and the fewest rows worth analysing.
CHECK_STATISTICS_EVERY = 500

logger = logging.getLogger(__name__)


TABLE = "{p}audit_index"


def _indexes() -> dict[str, str]:
    """Index name -> its CREATE INDEX statement."""
    made = {f"audit_index_{name}": f"CREATE INDEX IF NOT EXISTS audit_index_{name} ON {TABLE} ({columns})"
            for name, columns in INDEXES.items()}
    made["audit_index_out_of_order"] = (
        f"CREATE INDEX IF NOT EXISTS audit_index_out_of_order ON {TABLE} (position) WHERE {OUT_OF_ORDER}")
    made["audit_index_late"] = f"CREATE INDEX IF NOT EXISTS audit_index_late ON {TABLE} (position) WHERE {LATE}"
    return made


def _drops() -> dict[str, str]:
    return {f"audit_index_{name}": f"DROP INDEX IF EXISTS {{p}}audit_index_{name}" for name in DROPPED}


COLUMNS = "position, aggregate_id, aggregate_type, version, type, user_name, unit, recorded_at, occurred_at, lateness"
FILTERED = ("unit", "user_name", "type", "aggregate_id")
# name -> indexed columns; every index ends in position, the order pages are read in.
INDEXES = {
    **{column: f"{column}, position" for column in FILTERED},
    "lateness": "lateness, position",
    "unit_type": "unit, type, position",
    "user_type": "user_name, type, position",
    "unit_lateness": "unit, lateness, position",
    "recorded_max": "recorded_max, position",
}
# Rows recorded earlier than a row before them: the only ones of a window past its end.
OUT_OF_ORDER = "recorded_at < recorded_max"
# Late entries are few (a fraction of a percent): their own index, in position order.
LATE = "lateness > 0"
# Made by earlier versions: a window read through it is sorted whole, so the planner must
# not be offered it.
DROPPED = ("recorded_at",)


def _clauses(where: AuditFilter) -> tuple[list[str], list[Any]]:
    clauses, params = ["position > ?"], [where.after]
    for column, value in (("unit", where.unit), ("user_name", where.user), ("type", where.type),
                          ("aggregate_type", where.aggregate_type),
                          ("aggregate_id", str(where.aggregate) if where.aggregate else None)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if where.recorded_from is not None:
        clauses.append("recorded_at >= ?")
        params.append(_epoch(where.recorded_from))
    if where.recorded_to is not None:
        clauses.append("recorded_at <= ?")
        params.append(_epoch(where.recorded_to))
    if where.late_by_seconds is not None:
        clauses.append("lateness >= ?")
        params.append(where.late_by_seconds)
        if where.late_by_seconds > 0:
            # Spelled out so the planner may read the partial index of late rows, in position order.
            clauses.append(LATE)
    return clauses, params


def _bounds(where: AuditFilter) -> tuple[str, list[Any]] | None:
    """For a window, the query of its position bounds: the first position whose
    recorded_max reaches ``from``, and the first whose recorded_max passes ``to`` (one
    index probe each; NULL where no row does)."""
    if where.recorded_from is None and where.recorded_to is None:
        return None
    def probe(op: str) -> str:
        return f"(SELECT position FROM {TABLE} WHERE recorded_max {op} ? ORDER BY recorded_max, position LIMIT 1)"

    first = probe(">=") if where.recorded_from is not None else "NULL"
    past = probe(">") if where.recorded_to is not None else "NULL"
    params = [_epoch(t) for t in (where.recorded_from, where.recorded_to) if t is not None]
    return f"SELECT {first} AS first_position, {past} AS past_position", params


def _statement(where: AuditFilter, bounds: tuple[Any, Any] = (None, None)) -> tuple[str, list[Any]]:
    """The page's SELECT and its parameters; a window's ``bounds`` come from ``_bounds`` in
    a read before, so that the planner sees how wide the position range is and picks the
    index accordingly."""
    clauses, params = _clauses(where)
    select = f"SELECT {COLUMNS} FROM {TABLE} WHERE "
    if where.recorded_from is None and where.recorded_to is None:
        return f"{select}{' AND '.join(clauses)} ORDER BY position LIMIT ?", [*params, where.limit]
    first, past = bounds
    bounded, bound_params = list(clauses), list(params)
    if where.recorded_from is not None:
        # No row in the window lies before it; none at all when no row reaches `from`.
        bounded.append("position >= ?")
        bound_params.append(MAX_POSITION if first is None else first)
    if where.recorded_to is None or past is None:
        return (f"{select}{' AND '.join(bounded)} ORDER BY position LIMIT ?",
                [*bound_params, where.limit])
    bounded.append("position < ?")
    bound_params.append(past)
    late = [*clauses, OUT_OF_ORDER, "position >= ?"]
    late_params = [*params, past]
    statement = (
        f"SELECT * FROM ({select}{' AND '.join(bounded)} ORDER BY position LIMIT ?) AS within "
        f"UNION ALL SELECT * FROM ({select}{' AND '.join(late)} ORDER BY position LIMIT ?) AS late "
        "ORDER BY position LIMIT ?"
    )
    return statement, [*bound_params, where.limit, *late_params, where.limit, where.limit]


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def _values(rows: Sequence[AuditRow], latest: float) -> list[tuple[Any, ...]]:
    """Rows to insert, each with the latest recorded time up to it (from ``latest``, the
    index's last before them)."""
    out = []
    for row in rows:
        recorded = _epoch(row.recorded_at)
        latest = max(latest, recorded)
        out.append((row.position, str(row.aggregate_id), row.aggregate_type, row.version, row.type,
                    row.user, row.unit, recorded, _epoch(row.occurred_at), row.lateness_seconds, latest))
    return out


# Fills recorded_max on a table made before it existed, in one pass in position order.
BACKFILL = (
    f"UPDATE {TABLE} AS a SET recorded_max = m.latest FROM (SELECT position AS p, "
    f"max(recorded_at) OVER (ORDER BY position) AS latest FROM {TABLE}) AS m "
    "WHERE a.position = m.p AND a.recorded_max IS NULL"
)
LAST_MAX = f"SELECT recorded_max FROM {TABLE} ORDER BY position DESC LIMIT 1"
TRACKED = "SELECT position FROM {p}audit_tracking WHERE name='audit'"


def _row(values: Sequence[Any]) -> AuditRow:
    return AuditRow(
        position=values[0], aggregate_id=UUID(str(values[1])), aggregate_type=values[2], version=values[3],
        type=values[4], user=values[5], unit=values[6],
        recorded_at=datetime.fromtimestamp(values[7], timezone.utc),
        occurred_at=datetime.fromtimestamp(values[8], timezone.utc),
    )


class AuditStore(AuditIndexStore):
    def __init__(self, datastore: SQLiteDatastore | PostgresDatastore) -> None:
        self.db = Database(datastore)
        # Rows this process appended since it last looked at the index's statistics.
        self._unchecked = 0

    def create_tables(self) -> None:
        with self.db.transaction(commit=True) as c:
            # The tracking row first: a start that waits on it (a catch-up is moving it) must
            # not hold a lock on audit_index meanwhile, which that catch-up's insert waits for.
            c.execute("CREATE TABLE IF NOT EXISTS {p}audit_tracking (name {text} PRIMARY KEY, "
                      "position {bigint} NOT NULL)", prepare=False)
            c.execute("INSERT INTO {p}audit_tracking VALUES ('audit', 0) ON CONFLICT (name) DO NOTHING")
            c.execute(
                "CREATE TABLE IF NOT EXISTS {p}audit_index (position {bigint} PRIMARY KEY, "
                "aggregate_id {text} NOT NULL, aggregate_type {text} NOT NULL, version {bigint} NOT NULL, type {text} NOT NULL, "
                "user_name {text} NOT NULL, unit {text} NOT NULL, recorded_at {real} NOT NULL, "
                "occurred_at {real} NOT NULL, lateness {bigint} NOT NULL)", prepare=False)
            if "recorded_max" not in self.db.dialect.columns(c, "audit_index"):
                # In the same transaction as the column, so no start sees it half filled.
                c.execute("ALTER TABLE {p}audit_index ADD COLUMN recorded_max {real}", prepare=False)
                c.execute(BACKFILL)
            # CREATE INDEX IF NOT EXISTS takes a SHARE lock on the table (writes wait) before it
            # finds the index there, so at every start it would stall the catch-up; only the
            # missing ones are made (once, by `careledger migrate` or the first start).
            present = self.db.dialect.indexes(c, "audit_index")
            for statement in [*(made for name, made in _indexes().items() if name not in present),
                              *(drop for name, drop in _drops().items() if name in present)]:
                c.execute(statement, prepare=False)
        self._analyze_if_stale()

    def position(self) -> int:
        with self.db.transaction(commit=False) as c:
            return int(c.execute(TRACKED).fetchone()[0])

    def append(self, before: int, rows: Sequence[AuditRow], after: int) -> None:
        with self.db.transaction(commit=True) as c:
            c.execute("UPDATE {p}audit_tracking SET position=? WHERE name='audit' AND position=? RETURNING name",
                      (after, before))
            if c.fetchone() is None:
                raise IndexMoved()
            last = c.execute(LAST_MAX).fetchone()
            c.executemany(f"INSERT INTO {TABLE} ({COLUMNS}, recorded_max) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                          _values(rows, float("-inf") if last is None else last[0]))
        self._unchecked += len(rows)
        if self._unchecked >= CHECK_STATISTICS_EVERY:
            self._unchecked = 0
            self._analyze_if_stale(after)

    def _analyze_if_stale(self, indexed: int | None = None) -> None:
        """On PostgreSQL, ANALYZE the index when it has no statistics yet or has grown by a
        fifth since them (``indexed``: the last position indexed, about its row count).

        Without statistics the planner prices every filter at a fixed guess (an equality
        0.5 %, a range 0.5 %), so a window's page is read as a bitmap of the whole window
        sorted for 100 rows, and the rows past a window's end through the unit's or type's
        index to the end of the log instead of the small index of rows recorded out of
        order: 100-300 ms at 10^6 where the right plans take a few. Autovacuum would take
        them, but it may be off (as on benchmark hosts) or not yet there after a catch-up of
        a whole log; ANALYZE reads a sample, under a second at 10^6. (SQLite's planner
        reads the indexes as they are.)
        """
        if not self.db.postgres:
            return
        with self.db.transaction(commit=True) as c:
            table = c.execute(
                "SELECT c.reltuples, s.last_analyze IS NOT NULL OR s.last_autoanalyze IS NOT NULL "
                "FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
                "WHERE c.oid = to_regclass(quote_ident(?) || '.audit_index')",
                (self.db.schema,),
            ).fetchone()
            if indexed is None:
                indexed = int(c.execute(TRACKED).fetchone()[0])
        if table is None or indexed < CHECK_STATISTICS_EVERY:
            return
        counted, analyzed = max(float(table[0]), 0.0), table[1]  # -1 before the first ANALYZE or VACUUM
        if analyzed and indexed <= counted * 1.2 + CHECK_STATISTICS_EVERY:
            return
        try:
            with self.db.transaction(commit=True) as c:
                c.execute(f"ANALYZE {TABLE}", prepare=False)
        except OperationalError as error:
            # Its lock is held by another ANALYZE (another process, autovacuum): the next look
            # tries again if that one did not do it.
            logger.warning("audit index: ANALYZE skipped: %s", error)

    def query(self, where: AuditFilter) -> list[AuditRow]:
        with self.db.transaction(commit=False) as c:
            bounds: tuple[Any, Any] = (None, None)
            if (probe := _bounds(where)) is not None:
                bounds = tuple(c.execute(*probe).fetchone())  # type: ignore[assignment]
            # Never a prepared statement's generic plan: which index is cheap depends on the
            # values (how wide the window, how rare the unit or type), which only a plan made
            # for them sees.
            return [_row(r) for r in c.execute(*_statement(where, bounds), prepare=False).fetchall()]
