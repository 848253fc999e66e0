"""A small ledger with its Merkle log, on SQLite or PostgreSQL, and raw SQL to tamper with it.

The events come from the bare eventsourcing Application and a counter aggregate: the
log covers stored bytes whatever wrote them, so the tests need nothing of careledger's
domain. The projection signs a head after every save, so a head exists at every size.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from infrastructure.merkle_store import merkle_store_for
from infrastructure.signing import TreeHeadSigner
from projections.merkle_log import MerkleLogProjection, MerkleLogStore


class Counter(Aggregate):
    @event("Started")
    def __init__(self, name: str) -> None:
        self.name = name
        self.total = 0

    @event("Counted")
    def count(self, by: int, note: str) -> None:
        self.total += by


class TickingClock:
    """Each head one second after the last, so head timestamps order as the heads do."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@dataclass
class SmallLog:
    backend: str
    app: Application
    store: MerkleLogStore
    signer: TreeHeadSigner
    projection: MerkleLogProjection
    # Runs one statement on a connection of its own, as someone with database access would.
    sql: Callable[..., list[tuple[Any, ...]]]
    # The column that holds an event's position.
    position_column: str

    @property
    def recorder(self) -> Any:
        return self.app.recorder

    @property
    def events_table(self) -> str:
        # "stored_events" on SQLite; named after the application on PostgreSQL.
        return str(self.recorder.events_table_name)

    def positions(self) -> list[int]:
        return [n.id for n in self.recorder.select_notifications(None, 10_000)]

    def fresh_projection(self, signer: TreeHeadSigner | None = None) -> MerkleLogProjection:
        return MerkleLogProjection(
            self.recorder,
            self.store,
            sign=(signer or self.signer).sign,
            clock=self.projection.clock,
        )


def record_events(log: SmallLog, aggregates: int = 3, counts: int = 3) -> None:
    """``aggregates * (1 + counts)`` events, interleaved, each save followed by a head."""
    counters = [Counter(name=f"c{i}") for i in range(aggregates)]
    for counter in counters:
        log.app.save(counter)
        log.projection.catch_up()
    for n in range(counts):
        for counter in counters:
            counter.count(by=n + 1, note=f"第{n}次")
            log.app.save(counter)
            log.projection.catch_up()


def _sqlite_sql(path: Path) -> Callable[..., list[tuple[Any, ...]]]:
    def run(statement: str, *params: Any) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            return conn.execute(statement, params).fetchall()
        finally:
            conn.close()

    return run


def _postgres_sql(url: str, schema: str) -> Callable[..., list[tuple[Any, ...]]]:
    def run(statement: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            cursor = conn.execute(statement.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description else []

    return run


@contextmanager
def small_log(
    backend: str, tmp_path: Path, postgres: tuple[str, str] | None = None
) -> Iterator[SmallLog]:
    if backend == "sqlite":
        path = tmp_path / "events.sqlite"
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
        sql, position_column = _sqlite_sql(path), "rowid"
    else:
        assert postgres is not None
        url, schema = postgres
        parts = urlsplit(url)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": parts.path.lstrip("/"),
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": parts.username or "postgres",
            "POSTGRES_PASSWORD": parts.password or "",
            "POSTGRES_SCHEMA": schema,
        }
        sql, position_column = _postgres_sql(url, schema), "notification_id"
    app = Application(env={**env, "CREATE_TABLE": "y"})
    try:
        store = merkle_store_for(app.recorder.datastore)  # type: ignore[attr-defined]
        store.create_tables()
        signer = TreeHeadSigner.load_or_create(tmp_path / "signing-key.pem")
        projection = MerkleLogProjection(
            app.recorder, store, sign=signer.sign, clock=TickingClock()
        )
        yield SmallLog(backend, app, store, signer, projection, sql, position_column)
    finally:
        app.close()
