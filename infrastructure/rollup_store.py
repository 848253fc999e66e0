"""The provincial roll-up's store, in the province's own schema (PostgreSQL).

- ``rollup_tracking``: per district, the position of its log folded so far and the latest
  recorded time of any event folded (each version's ``recorded_max`` continues from it);
- ``rollup_state``: per district and aggregate, the fold's state (projections.rollup.fold)
  and its brief as of that position;
- ``rollup_versions``: every brief an event changed, with the event's position and the
  latest recorded time of any event of the district up to it.

A batch's states, versions and tracking are written in one transaction that first moves
the district's position from the one the batch was folded on: a follower stopped at any
moment resumes exactly after its last committed batch, and a batch already folded (or
folded meanwhile by another follower) stores nothing (``RollupMoved``).

As of a past moment, the dated versions are read (each aggregate's last version whose
``recorded_max`` is not after it), not checkpoints: a brief is a few hundred bytes and
only events that change it add one, the moment can be any, and the answer needs no
district's log (the province reads its own schema only). ``recorded_max`` only grows along
a district's log, so the versions it admits are exactly those of the events before the
first one recorded after the moment: the cut the district's own views take
(infrastructure.past_briefs).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg

from infrastructure.database_probe import postgres_conninfo
from infrastructure.dialect import POSTGRES, Database
from infrastructure.settings import Settings

Summary = dict[str, Any]

CREATE = (
    "CREATE TABLE IF NOT EXISTS {p}rollup_tracking (district text PRIMARY KEY, position bigint NOT NULL, "
    "recorded_max double precision NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {p}rollup_state (district text, id text, kind text, state text, brief text, "
    "position bigint, PRIMARY KEY (district, id))",
    "CREATE TABLE IF NOT EXISTS {p}rollup_versions (district text, id text, position bigint, "
    "recorded_max double precision, brief text, PRIMARY KEY (district, id, position))",
)
TABLES = ("rollup_tracking", "rollup_state", "rollup_versions")


def create_rollup_tables(settings: Settings) -> None:
    """The roll-up's tables in the deployment's own schema, on a connection of their own
    (`careledger districts add`, which builds no province services)."""
    prefix = POSTGRES.prefix(settings.database_schema)
    with psycopg.connect(postgres_conninfo(settings), autocommit=True) as conn:
        for statement in CREATE:
            conn.execute(statement.format(p=prefix))


class RollupMoved(Exception):
    """The district's position is no longer the one the batch was folded on; nothing stored."""


@dataclass(frozen=True)
class Tracked:
    position: int  # 0 before the first batch
    recorded_max: float  # epoch seconds; 0 before the first batch


@dataclass(frozen=True)
class Version:
    id: str
    position: int
    recorded_max: float
    brief: Summary


def _dump(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


class RollupStore:
    def __init__(self, datastore: Any) -> None:
        self.db = Database(datastore)
        if not self.db.postgres:
            raise TypeError("the provincial roll-up needs PostgreSQL (districts are schemas)")

    def create_tables(self) -> None:
        with self.db.transaction(commit=True) as c:
            for statement in CREATE:
                c.execute(statement, prepare=False)

    def tracked(self, district: str) -> Tracked:
        with self.db.read() as c:
            row = c.execute("SELECT position, recorded_max FROM {p}rollup_tracking WHERE district=?",
                            (district,)).fetchone()
        return Tracked(0, 0.0) if row is None else Tracked(int(row[0]), float(row[1]))

    def states(self, district: str, ids: Iterable[str]) -> tuple[int, dict[str, tuple[Summary, Summary]]]:
        """The district's position and the (state, brief) of each of ``ids`` it has folded,
        read in one statement (one snapshot: the states are those of that position)."""
        with self.db.read() as c:
            c.execute("SELECT NULL, CAST(position AS TEXT), NULL FROM {p}rollup_tracking WHERE district=? UNION ALL "
                      "SELECT id, state, brief FROM {p}rollup_state WHERE district=? AND id = ANY(?)",
                      (district, district, sorted(set(ids))))
            rows = c.fetchall()
        position = next((int(row[1]) for row in rows if row[0] is None), 0)
        return position, {row[0]: (orjson.loads(row[1]), orjson.loads(row[2])) for row in rows if row[0] is not None}

    def put(self, district: str, *, expected: Tracked, position: int, recorded_max: float,
            states: dict[str, tuple[Summary, Summary]], versions: Sequence[Version]) -> None:
        """Stores the batch's states and versions and moves the district from ``expected``
        to ``position`` in one transaction, or raises RollupMoved storing nothing."""
        # Encoded before the transaction opens, so it never sits idle while Python works.
        encoded_states = _dump([[key, s["kind"], s, b] for key, (s, b) in states.items()])
        encoded_versions = _dump([[v.id, v.position, v.recorded_max, v.brief] for v in versions])
        with self.db.transaction(commit=True) as c:
            if expected.position == 0:
                c.execute("INSERT INTO {p}rollup_tracking VALUES (?,?,?) ON CONFLICT DO NOTHING",
                          (district, position, recorded_max))
            else:
                c.execute("UPDATE {p}rollup_tracking SET position=?, recorded_max=? WHERE district=? AND position=?",
                          (position, recorded_max, district, expected.position))
            if c.rowcount != 1:
                raise RollupMoved(district)
            if states:
                c.execute(
                    "INSERT INTO {p}rollup_state (district, id, kind, state, brief, position) "
                    "SELECT ?, e->>0, e->>1, e->>2, e->>3, ? FROM json_array_elements(?::json) AS e "
                    "ON CONFLICT (district, id) DO UPDATE SET kind=excluded.kind, state=excluded.state, "
                    "brief=excluded.brief, position=excluded.position",
                    (district, position, encoded_states),
                )
            if versions:
                c.execute(
                    "INSERT INTO {p}rollup_versions (district, id, position, recorded_max, brief) "
                    "SELECT ?, e->>0, (e->>1)::bigint, (e->>2)::double precision, e->>3 "
                    "FROM json_array_elements(?::json) AS e",
                    (district, encoded_versions),
                )

    def briefs(self, as_of: float | None = None) -> tuple[dict[str, list[Summary]], dict[str, Tracked]]:
        """Every district's briefs (now, or as of the epoch second ``as_of``) and where each
        district's following stands, read in one statement (one snapshot)."""
        if as_of is None:
            rows = "SELECT district, brief, NULL, NULL FROM {p}rollup_state"
            args: tuple[Any, ...] = ()
        else:
            rows = ("SELECT district, brief, NULL, NULL FROM (SELECT DISTINCT ON (district, id) "
                    "district, brief FROM {p}rollup_versions WHERE recorded_max <= ? "
                    "ORDER BY district, id, position DESC) AS v")
            args = (as_of,)
        with self.db.read() as c:
            c.execute(f"SELECT district, NULL, position, recorded_max FROM {{p}}rollup_tracking UNION ALL {rows}",
                      args)
            found = c.fetchall()
        briefs: dict[str, list[Summary]] = {}
        tracked: dict[str, Tracked] = {}
        for district, brief, position, recorded_max in found:
            if brief is None:
                tracked[district] = Tracked(int(position), float(recorded_max))
                briefs.setdefault(district, [])
            else:
                briefs.setdefault(district, []).append(orjson.loads(brief))
        for listed in briefs.values():
            listed.sort(key=lambda b: (b["kind"], b["id"]))
        return briefs, tracked

    def forget(self, district: str) -> None:
        """Drops what was folded of ``district`` (to fold its log again from the start)."""
        with self.db.transaction(commit=True) as c:
            for table in TABLES:
                c.execute(f"DELETE FROM {{p}}{table} WHERE district=?", (district,))
