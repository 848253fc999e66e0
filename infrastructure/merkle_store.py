"""The Merkle log's tables, beside the library's ``stored_events`` in the same database.

One class per backend, built from the library's own datastore, so the log shares the
event store's connections (and, on PostgreSQL, its schema).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import zip_longest
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composable, Identifier

from projections.merkle import CompletedSubtree, Frontier, Subtree
from projections.merkle_log import (
    Leaf,
    LeafRow,
    LogMoved,
    MerkleLogStore,
    Progress,
    StoredRow,
    TreeHead,
)

TRACKING_NAME = "merkle_log"


def _head(row: Any) -> TreeHead:
    return TreeHead(row[0], bytes(row[1]), row[2], bytes(row[3]))


def _leaf(row: Any) -> Leaf:
    return Leaf(row[0], row[1], bytes(row[2]))


def _split_levels(keys: Iterable[Subtree]) -> tuple[list[int], list[tuple[int, int]]]:
    leaves, nodes = [], []
    for level, index in keys:
        if level == 0:
            leaves.append(index)
        else:
            nodes.append((level, index))
    return leaves, nodes


class SQLiteMerkleStore(MerkleLogStore):
    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore

    def create_tables(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS merkle_leaves ("
                "leaf_index INTEGER PRIMARY KEY, "
                "position INTEGER NOT NULL UNIQUE, "
                "leaf_hash BLOB NOT NULL)"
            )
            c.execute(
                "CREATE TABLE IF NOT EXISTS merkle_nodes ("
                "level INTEGER NOT NULL, node_index INTEGER NOT NULL, hash BLOB NOT NULL, "
                "PRIMARY KEY (level, node_index)) WITHOUT ROWID"
            )
            c.execute(
                "CREATE TABLE IF NOT EXISTS merkle_heads ("
                "tree_size INTEGER PRIMARY KEY, root_hash BLOB NOT NULL, "
                "timestamp TEXT NOT NULL, signature BLOB NOT NULL)"
            )
            c.execute(
                "CREATE TABLE IF NOT EXISTS merkle_tracking ("
                "name TEXT PRIMARY KEY, position INTEGER NOT NULL, "
                "tree_size INTEGER NOT NULL, frontier BLOB NOT NULL)"
            )
            c.execute(
                "INSERT INTO merkle_tracking VALUES (?, 0, 0, x'') ON CONFLICT (name) DO NOTHING",
                (TRACKING_NAME,),
            )

    def progress(self) -> Progress:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT position, tree_size, frontier FROM merkle_tracking WHERE name=?",
                (TRACKING_NAME,),
            )
            row = c.fetchone()
        return Progress(row[0], Frontier.from_bytes(row[1], bytes(row[2])))

    def append(
        self,
        before: Progress,
        leaves: Sequence[Leaf],
        subtrees: Sequence[CompletedSubtree],
        after: Progress,
    ) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                "UPDATE merkle_tracking SET position=?, tree_size=?, frontier=? "
                "WHERE name=? AND position=? AND tree_size=? RETURNING name",
                (
                    after.position,
                    after.tree_size,
                    after.frontier.to_bytes(),
                    TRACKING_NAME,
                    before.position,
                    before.tree_size,
                ),
            )
            if c.fetchone() is None:
                raise LogMoved()
            c.executemany(
                "INSERT INTO merkle_leaves VALUES (?, ?, ?)",
                [(x.leaf_index, x.position, x.leaf_hash) for x in leaves],
            )
            c.executemany(
                "INSERT INTO merkle_nodes VALUES (?, ?, ?)",
                [(s.level, s.index, s.hash) for s in subtrees],
            )

    def add_head(self, head: TreeHead) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                "INSERT INTO merkle_heads VALUES (?, ?, ?, ?) ON CONFLICT (tree_size) DO NOTHING",
                (head.tree_size, head.root_hash, head.timestamp, head.signature),
            )

    _HEAD = "SELECT tree_size, root_hash, timestamp, signature FROM merkle_heads "

    def latest_head(self) -> TreeHead | None:
        return self._one_head(self._HEAD + "ORDER BY tree_size DESC LIMIT 1", ())

    def head(self, tree_size: int) -> TreeHead | None:
        return self._one_head(self._HEAD + "WHERE tree_size=?", (tree_size,))

    def _one_head(self, query: str, params: tuple[Any, ...]) -> TreeHead | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(query, params)
            row = c.fetchone()
        return None if row is None else _head(row)

    def heads(self, min_size: int, limit: int) -> Sequence[TreeHead]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self._HEAD + "WHERE tree_size>=? ORDER BY tree_size LIMIT ?", (min_size, limit)
            )
            return [_head(r) for r in c.fetchall()]

    def leaves(self, start_index: int, limit: int) -> Sequence[Leaf]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT leaf_index, position, leaf_hash FROM merkle_leaves "
                "WHERE leaf_index>=? ORDER BY leaf_index LIMIT ?",
                (start_index, limit),
            )
            return [_leaf(r) for r in c.fetchall()]

    def leaves_at(self, positions: Iterable[int]) -> dict[int, Leaf]:
        wanted = list(positions)
        if not wanted:
            return {}
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT leaf_index, position, leaf_hash FROM merkle_leaves "
                f"WHERE position IN ({','.join('?' * len(wanted))})",
                wanted,
            )
            return {r[1]: _leaf(r) for r in c.fetchall()}

    def events_with_leaves(
        self, events_table: str, after: int | None, first_leaf: int, leaf_end: int, limit: int
    ) -> list[tuple[StoredRow | None, LeafRow | None]]:
        # In-process: two statements in one transaction cost no more than one joined.
        where, params = ("WHERE rowid>? ", [after]) if after is not None else ("", [])
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT rowid, originator_id, originator_version, topic, state "
                f"FROM {events_table} {where}ORDER BY rowid LIMIT ?",
                [*params, limit],
            )
            events = c.fetchall()
            c.execute(
                "SELECT leaf_index, position, leaf_hash FROM merkle_leaves "
                "WHERE leaf_index>=? AND leaf_index<? ORDER BY leaf_index LIMIT ?",
                (first_leaf, leaf_end, limit),
            )
            leaves = c.fetchall()
        return list(zip_longest(map(tuple, events), map(tuple, leaves)))

    def nodes(self, level: int, start_index: int, limit: int) -> Sequence[tuple[int, bytes]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT node_index, hash FROM merkle_nodes WHERE level=? AND node_index>=? "
                "ORDER BY node_index LIMIT ?",
                (level, start_index, limit),
            )
            return [(r[0], bytes(r[1])) for r in c.fetchall()]

    def subtrees(self, keys: Iterable[Subtree]) -> dict[Subtree, bytes]:
        leaf_indexes, node_keys = _split_levels(keys)
        found: dict[Subtree, bytes] = {}
        with self.datastore.transaction(commit=False) as c:
            if leaf_indexes:
                c.execute(
                    "SELECT leaf_index, leaf_hash FROM merkle_leaves "
                    f"WHERE leaf_index IN ({','.join('?' * len(leaf_indexes))})",
                    leaf_indexes,
                )
                found.update({(0, r[0]): bytes(r[1]) for r in c.fetchall()})
            if node_keys:
                c.execute(
                    "SELECT level, node_index, hash FROM merkle_nodes WHERE (level, node_index) "
                    f"IN (VALUES {','.join('(?, ?)' for _ in node_keys)})",
                    [v for key in node_keys for v in key],
                )
                found.update({(r[0], r[1]): bytes(r[2]) for r in c.fetchall()})
        return found


class PostgresMerkleStore(MerkleLogStore):
    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore

    def _sql(self, text: str) -> Composable:
        # Table names are written {leaves}, {nodes}, {heads}, {tracking} in the queries.
        schema = Identifier(self.datastore.schema)
        return SQL(text).format(
            leaves=SQL("{}.merkle_leaves").format(schema),
            nodes=SQL("{}.merkle_nodes").format(schema),
            heads=SQL("{}.merkle_heads").format(schema),
            tracking=SQL("{}.merkle_tracking").format(schema),
        )

    def create_tables(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                self._sql(
                    "CREATE TABLE IF NOT EXISTS {leaves} ("
                    "leaf_index bigint PRIMARY KEY, position bigint NOT NULL UNIQUE, "
                    "leaf_hash bytea NOT NULL)"
                )
            )
            c.execute(
                self._sql(
                    "CREATE TABLE IF NOT EXISTS {nodes} ("
                    "level smallint NOT NULL, node_index bigint NOT NULL, hash bytea NOT NULL, "
                    "PRIMARY KEY (level, node_index))"
                )
            )
            c.execute(
                self._sql(
                    "CREATE TABLE IF NOT EXISTS {heads} ("
                    "tree_size bigint PRIMARY KEY, root_hash bytea NOT NULL, "
                    "timestamp text NOT NULL, signature bytea NOT NULL)"
                )
            )
            c.execute(
                self._sql(
                    "CREATE TABLE IF NOT EXISTS {tracking} ("
                    "name text PRIMARY KEY, position bigint NOT NULL, "
                    "tree_size bigint NOT NULL, frontier bytea NOT NULL)"
                )
            )
            c.execute(
                self._sql(
                    "INSERT INTO {tracking} VALUES (%s, 0, 0, '') ON CONFLICT (name) DO NOTHING"
                ),
                (TRACKING_NAME,),
            )

    def progress(self) -> Progress:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self._sql("SELECT position, tree_size, frontier FROM {tracking} WHERE name=%s"),
                (TRACKING_NAME,),
            )
            row = c.fetchone()
        assert row is not None, "create_tables() makes the tracking row"
        return Progress(
            row["position"], Frontier.from_bytes(row["tree_size"], bytes(row["frontier"]))
        )

    def append(
        self,
        before: Progress,
        leaves: Sequence[Leaf],
        subtrees: Sequence[CompletedSubtree],
        after: Progress,
    ) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                self._sql(
                    "UPDATE {tracking} SET position=%s, tree_size=%s, frontier=%s "
                    "WHERE name=%s AND position=%s AND tree_size=%s"
                ),
                (
                    after.position,
                    after.tree_size,
                    after.frontier.to_bytes(),
                    TRACKING_NAME,
                    before.position,
                    before.tree_size,
                ),
            )
            if c.rowcount != 1:
                raise LogMoved()
            c.executemany(
                self._sql("INSERT INTO {leaves} VALUES (%s, %s, %s)"),
                [(x.leaf_index, x.position, x.leaf_hash) for x in leaves],
            )
            c.executemany(
                self._sql("INSERT INTO {nodes} VALUES (%s, %s, %s)"),
                [(s.level, s.index, s.hash) for s in subtrees],
            )

    def add_head(self, head: TreeHead) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                self._sql(
                    "INSERT INTO {heads} VALUES (%s, %s, %s, %s) ON CONFLICT (tree_size) DO NOTHING"
                ),
                (head.tree_size, head.root_hash, head.timestamp, head.signature),
            )

    _HEAD = "SELECT tree_size, root_hash, timestamp, signature FROM {heads} "

    def latest_head(self) -> TreeHead | None:
        return self._one_head(self._HEAD + "ORDER BY tree_size DESC LIMIT 1", ())

    def head(self, tree_size: int) -> TreeHead | None:
        return self._one_head(self._HEAD + "WHERE tree_size=%s", (tree_size,))

    def _one_head(self, query: str, params: tuple[Any, ...]) -> TreeHead | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._sql(query), params)
            row = c.fetchone()
        return None if row is None else _head(list(row.values()))

    def heads(self, min_size: int, limit: int) -> Sequence[TreeHead]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self._sql(self._HEAD + "WHERE tree_size>=%s ORDER BY tree_size LIMIT %s"),
                (min_size, limit),
            )
            return [_head(list(r.values())) for r in c.fetchall()]

    def leaves(self, start_index: int, limit: int) -> Sequence[Leaf]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self._sql(
                    "SELECT leaf_index, position, leaf_hash FROM {leaves} "
                    "WHERE leaf_index>=%s ORDER BY leaf_index LIMIT %s"
                ),
                (start_index, limit),
            )
            return [_leaf(list(r.values())) for r in c.fetchall()]

    def leaves_at(self, positions: Iterable[int]) -> dict[int, Leaf]:
        wanted = list(positions)
        if not wanted:
            return {}
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self._sql(
                    "SELECT leaf_index, position, leaf_hash FROM {leaves} WHERE position = ANY(%s)"
                ),
                (wanted,),
            )
            return {r["position"]: _leaf(list(r.values())) for r in c.fetchall()}

    def events_with_leaves(
        self, events_table: str, after: int | None, first_leaf: int, leaf_end: int, limit: int
    ) -> list[tuple[StoredRow | None, LeafRow | None]]:
        # One round trip: each page numbered by rank, joined on the rank. FULL JOIN keeps
        # the rows of whichever side is longer.
        statement = SQL(
            "WITH e AS (SELECT row_number() OVER (ORDER BY notification_id) AS n, * FROM ("
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {schema}.{events} {where}ORDER BY notification_id LIMIT %(limit)s) AS page), "
            "l AS (SELECT row_number() OVER (ORDER BY leaf_index) AS n, * FROM ("
            "SELECT leaf_index, position, leaf_hash FROM {schema}.merkle_leaves "
            "WHERE leaf_index >= %(first)s AND leaf_index < %(end)s "
            "ORDER BY leaf_index LIMIT %(limit)s) AS page) "
            "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state, "
            "l.leaf_index, l.position, l.leaf_hash FROM e FULL JOIN l USING (n) ORDER BY n"
        ).format(
            schema=Identifier(self.datastore.schema),
            events=Identifier(events_table),
            where=SQL("WHERE notification_id > %(after)s " if after is not None else ""),
        )
        params = {"after": after, "first": first_leaf, "end": leaf_end, "limit": limit}
        with self.datastore.transaction(commit=False) as c:
            c.row_factory = tuple_row  # type: ignore[assignment]
            c.execute(statement, params, prepare=True)
            rows = c.fetchall()
        return [
            (
                None if r[0] is None else (r[0], r[1], r[2], r[3], r[4]),
                None if r[5] is None else (r[5], r[6], r[7]),
            )
            for r in rows
        ]

    def nodes(self, level: int, start_index: int, limit: int) -> Sequence[tuple[int, bytes]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self._sql(
                    "SELECT node_index, hash FROM {nodes} WHERE level=%s AND node_index>=%s "
                    "ORDER BY node_index LIMIT %s"
                ),
                (level, start_index, limit),
            )
            return [(r["node_index"], bytes(r["hash"])) for r in c.fetchall()]

    def subtrees(self, keys: Iterable[Subtree]) -> dict[Subtree, bytes]:
        leaf_indexes, node_keys = _split_levels(keys)
        found: dict[Subtree, bytes] = {}
        with self.datastore.transaction(commit=False) as c:
            if leaf_indexes:
                c.execute(
                    self._sql(
                        "SELECT leaf_index, leaf_hash FROM {leaves} WHERE leaf_index = ANY(%s)"
                    ),
                    (leaf_indexes,),
                )
                found.update({(0, r["leaf_index"]): bytes(r["leaf_hash"]) for r in c.fetchall()})
            if node_keys:
                c.execute(
                    self._sql(
                        "SELECT n.level, n.node_index, n.hash FROM {nodes} n "
                        "JOIN unnest(%s::smallint[], %s::bigint[]) AS k(level, node_index) "
                        "USING (level, node_index)"
                    ),
                    ([k[0] for k in node_keys], [k[1] for k in node_keys]),
                )
                found.update(
                    {(r["level"], r["node_index"]): bytes(r["hash"]) for r in c.fetchall()}
                )
        return found


def merkle_store_for(datastore: SQLiteDatastore | PostgresDatastore) -> MerkleLogStore:
    """The store for whichever datastore the application's recorder uses."""
    if isinstance(datastore, SQLiteDatastore):
        return SQLiteMerkleStore(datastore)
    if isinstance(datastore, PostgresDatastore):
        return PostgresMerkleStore(datastore)
    raise TypeError(f"no Merkle log store for {type(datastore).__name__}")
