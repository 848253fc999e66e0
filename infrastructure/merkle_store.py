"""The Merkle log's tables, beside the library's ``stored_events`` in the same database.

Built from the library's own datastore, so the log shares the event store's connections
(and, on PostgreSQL, its schema); written once for both (infrastructure.dialect).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import zip_longest
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from infrastructure.dialect import Cursor, Database
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


def _page(c: Cursor, select: str, key: str, args: tuple[Any, ...], first: int, limit: int, end: int | None,
          where: str = "", **tables: str) -> list[Any]:
    """The rows of ``select`` whose ``key`` is ``first`` or more (and below ``end``), the
    first ``limit`` of them in key order, asked as a range of ``limit`` keys first: keys
    are dense (leaf and node indexes; positions but for a rolled-back write's gap), and an
    open range had PostgreSQL, with no statistics yet for a growing table, read and sort
    the whole rest of it for every page. Where the range holds fewer (a gap, the end), the
    rest is asked from beyond it, so the rows are the same as one ``LIMIT`` query's."""
    upper = first + limit if end is None else min(first + limit, end)
    c.execute(f"{select}WHERE {where}{key}>=? AND {key}<? ORDER BY {key}", (*args, first, upper), **tables)
    rows = c.fetchall()
    if len(rows) < limit and (end is None or upper < end):
        bound = "" if end is None else f" AND {key}<?"
        c.execute(f"{select}WHERE {where}{key}>=?{bound} ORDER BY {key} LIMIT ?",
                  (*args, upper, *(() if end is None else (end,)), limit - len(rows)), **tables)
        rows.extend(c.fetchall())
    return rows


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


TABLES = (
    "CREATE TABLE IF NOT EXISTS {p}merkle_leaves (leaf_index {bigint} PRIMARY KEY, "
    "position {bigint} NOT NULL UNIQUE, leaf_hash {blob} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {p}merkle_nodes (level {smallint} NOT NULL, node_index {bigint} NOT NULL, "
    "hash {blob} NOT NULL, PRIMARY KEY (level, node_index)){without_rowid}",
    "CREATE TABLE IF NOT EXISTS {p}merkle_heads (tree_size {bigint} PRIMARY KEY, root_hash {blob} NOT NULL, "
    "timestamp {text} NOT NULL, signature {blob} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {p}merkle_tracking (name {text} PRIMARY KEY, position {bigint} NOT NULL, "
    "tree_size {bigint} NOT NULL, frontier {blob} NOT NULL)",
)
HEAD = "SELECT tree_size, root_hash, timestamp, signature FROM {p}merkle_heads "
LEAF = "SELECT leaf_index, position, leaf_hash FROM {p}merkle_leaves "


class MerkleStore(MerkleLogStore):
    def __init__(self, datastore: SQLiteDatastore | PostgresDatastore) -> None:
        self.db = Database(datastore)
        # A pool of connections on PostgreSQL, whose server works on the other core meanwhile.
        self.reads_concurrently = self.db.postgres

    def create_tables(self) -> None:
        with self.db.transaction(commit=True) as c:
            for statement in TABLES:
                c.execute(statement, prepare=False)
            c.execute("INSERT INTO {p}merkle_tracking VALUES (?, 0, 0, ?) ON CONFLICT (name) DO NOTHING",
                      (TRACKING_NAME, b""))

    def progress(self) -> Progress:
        with self.db.transaction(commit=False) as c:
            row = c.execute("SELECT position, tree_size, frontier FROM {p}merkle_tracking WHERE name=?",
                            (TRACKING_NAME,)).fetchone()
        assert row is not None, "create_tables() makes the tracking row"
        return Progress(row[0], Frontier.from_bytes(row[1], bytes(row[2])))

    def append(
        self,
        before: Progress,
        leaves: Sequence[Leaf],
        subtrees: Sequence[CompletedSubtree],
        after: Progress,
    ) -> None:
        with self.db.transaction(commit=True) as c:
            c.execute(
                "UPDATE {p}merkle_tracking SET position=?, tree_size=?, frontier=? "
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
                "INSERT INTO {p}merkle_leaves VALUES (?, ?, ?)",
                [(x.leaf_index, x.position, x.leaf_hash) for x in leaves],
            )
            c.executemany(
                "INSERT INTO {p}merkle_nodes VALUES (?, ?, ?)",
                [(s.level, s.index, s.hash) for s in subtrees],
            )

    def mark(self) -> tuple[int, int]:
        """The position folded in and the size of the latest signed head (0 before any): what
        a copy of these tables must have reached to answer as this one does (a head is added
        in a transaction of its own, after the leaves it covers)."""
        with self.db.transaction(commit=False) as c:
            row = c.execute("SELECT position, (SELECT max(tree_size) FROM {p}merkle_heads) FROM {p}merkle_tracking "
                            "WHERE name=?", (TRACKING_NAME,)).fetchone()
        assert row is not None, "create_tables() makes the tracking row"
        return int(row[0]), int(row[1] or 0)

    def add_head(self, head: TreeHead) -> None:
        with self.db.transaction(commit=True) as c:
            c.execute(
                "INSERT INTO {p}merkle_heads VALUES (?, ?, ?, ?) ON CONFLICT (tree_size) DO NOTHING",
                (head.tree_size, head.root_hash, head.timestamp, head.signature),
            )

    def latest_head(self) -> TreeHead | None:
        return self._one_head(HEAD + "ORDER BY tree_size DESC LIMIT 1", ())

    def head(self, tree_size: int) -> TreeHead | None:
        return self._one_head(HEAD + "WHERE tree_size=?", (tree_size,))

    def _one_head(self, query: str, params: tuple[Any, ...]) -> TreeHead | None:
        with self.db.transaction(commit=False) as c:
            row = c.execute(query, params).fetchone()
        return None if row is None else _head(row)

    def heads(self, min_size: int, limit: int) -> Sequence[TreeHead]:
        with self.db.transaction(commit=False) as c:
            c.execute(HEAD + "WHERE tree_size>=? ORDER BY tree_size LIMIT ?", (min_size, limit))
            return [_head(r) for r in c.fetchall()]

    def leaves(self, start_index: int, limit: int) -> Sequence[Leaf]:
        with self.db.transaction(commit=False) as c:
            c.execute(LEAF + "WHERE leaf_index>=? ORDER BY leaf_index LIMIT ?", (start_index, limit))
            return [_leaf(r) for r in c.fetchall()]

    def leaves_at(self, positions: Iterable[int]) -> dict[int, Leaf]:
        wanted = list(positions)
        if not wanted:
            return {}
        among, params = self.db.dialect.among("position", wanted)
        with self.db.transaction(commit=False) as c:
            return {r[1]: _leaf(r) for r in c.execute(LEAF + "WHERE " + among, params).fetchall()}

    def events_with_leaves(
        self, events_table: str, after: int | None, first_leaf: int, leaf_end: int, limit: int
    ) -> list[tuple[StoredRow | None, LeafRow | None]]:
        # Paired in order: whichever is longer keeps its tail. Statements without a
        # transaction of their own (no BEGIN and ROLLBACK a page): on PostgreSQL each
        # statement read its own snapshot inside one too (READ COMMITTED).
        # The id as the server's text on PostgreSQL: canonical, and no UUID object a row.
        ident = "originator_id::text" if self.db.postgres else "originator_id"
        with self.db.read() as c:
            events = _page(c, f"SELECT {{position}}, {ident}, originator_version, topic, state FROM {{events}} ",
                           "{position}", (), 0 if after is None else after + 1, limit, None, events=events_table)
            leaves = _page(c, LEAF, "leaf_index", (), first_leaf, limit, leaf_end)
        return list(zip_longest(map(tuple, events), map(tuple, leaves)))

    def nodes(self, level: int, start_index: int, limit: int) -> Sequence[tuple[int, bytes]]:
        with self.db.read() as c:
            rows = _page(c, "SELECT node_index, hash FROM {p}merkle_nodes ", "node_index", (level,),
                         start_index, limit, None, where="level=? AND ")
            return [(r[0], bytes(r[1])) for r in rows]

    def subtrees(self, keys: Iterable[Subtree]) -> dict[Subtree, bytes]:
        leaf_indexes, node_keys = _split_levels(keys)
        found: dict[Subtree, bytes] = {}
        with self.db.transaction(commit=False) as c:
            if leaf_indexes:
                among, params = self.db.dialect.among("leaf_index", leaf_indexes)
                c.execute("SELECT leaf_index, leaf_hash FROM {p}merkle_leaves WHERE " + among, params)
                found.update({(0, r[0]): bytes(r[1]) for r in c.fetchall()})
            if node_keys:
                c.execute(
                    "SELECT level, node_index, hash FROM {p}merkle_nodes WHERE (level, node_index) "
                    f"IN (VALUES {','.join('(?, ?)' for _ in node_keys)})",
                    [v for key in node_keys for v in key],
                )
                found.update({(r[0], r[1]): bytes(r[2]) for r in c.fetchall()})
        return found


def merkle_store_for(datastore: SQLiteDatastore | PostgresDatastore) -> MerkleStore:
    """The store for whichever datastore the application's recorder uses."""
    return MerkleStore(datastore)
