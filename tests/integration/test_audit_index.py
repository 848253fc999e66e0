"""The audit index's pages are exactly the rows the filter names, in position order, however
the recorded times of the rows interleave, on both backends.

The rows are written to the store directly (the projection's decoding is not what is
tested here): 600 rows over 3 units, 3 users and 3 types, recorded a minute apart, with
some committed late (recorded earlier than rows before them) and some claimed late
(occurred days before they were recorded). Each filter's pages are compared with the same
filter applied to the rows in Python.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from infrastructure.audit_store import AuditStore
from projections.audit_index import AuditFilter, AuditIndexStore, AuditRow
from tests.backends import scratch_schema

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
START = datetime(2024, 1, 1, tzinfo=UTC)
UNITS, USERS, TYPES = ["u1", "u2", "u3"], ["甲", "乙", "丙"], ["Urged", "Closed", "Registered"]


def make_rows(seed: int, count: int = 600) -> list[AuditRow]:
    rng = random.Random(seed)
    aggregates = [uuid4() for _ in range(20)]
    rows = []
    for position in range(1, count + 1):
        recorded = START + timedelta(minutes=position)
        if rng.random() < 0.05:  # committed after rows stamped later than it
            recorded -= timedelta(minutes=rng.randint(1, 300))
        occurred = recorded - timedelta(days=rng.choice([0, 0, 0, 1, 8, 30]))
        rows.append(AuditRow(
            position=position, aggregate_id=rng.choice(aggregates), aggregate_type="Issue",
            version=position, type=rng.choice(TYPES), user=rng.choice(USERS), unit=rng.choice(UNITS),
            recorded_at=recorded, occurred_at=occurred,
        ))
    return rows


def matches(row: AuditRow, where: AuditFilter) -> bool:
    return (
        row.position > where.after
        and (where.unit is None or row.unit == where.unit)
        and (where.user is None or row.user == where.user)
        and (where.type is None or row.type == where.type)
        and (where.aggregate is None or row.aggregate_id == where.aggregate)
        and (where.recorded_from is None or row.recorded_at >= where.recorded_from)
        and (where.recorded_to is None or row.recorded_at <= where.recorded_to)
        and (where.late_by_seconds is None or row.lateness_seconds >= where.late_by_seconds)
    )


def expected(rows: list[AuditRow], where: AuditFilter) -> list[int]:
    return [r.position for r in rows if matches(r, where)][: where.limit]


def postgres_datastore(url: str, schema: str, **options: Any) -> PostgresDatastore:
    parts = url.removeprefix("postgresql://")
    user, _, rest = parts.partition("@")
    host_port, _, dbname = rest.partition("/")
    host, _, port = host_port.partition(":")
    return PostgresDatastore(dbname=dbname, host=host, port=port or "5432", user=user, password="",
                             schema=schema, **options)


@contextmanager
def postgres_store(url: str) -> Iterator[tuple[str, AuditStore]]:
    """An audit store with its tables made, in a scratch schema (named beside it)."""
    with scratch_schema(url) as schema:
        datastore = postgres_datastore(url, schema)
        built = AuditStore(datastore)
        built.create_tables()
        yield schema, built
        datastore.close()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditIndexStore]:
    if request.param == "sqlite":
        datastore = SQLiteDatastore(str(tmp_path / "audit.sqlite"))
        built: AuditIndexStore = AuditStore(datastore)
        built.create_tables()
        yield built
        datastore.close()
        return
    with postgres_store(request.getfixturevalue("postgres_database")) as (_schema, built):
        yield built


def fill(store: AuditIndexStore, rows: list[AuditRow]) -> None:
    for start in range(0, len(rows), 70):  # several appends, as the projection's batches
        batch = rows[start:start + 70]
        store.append(store.position(), batch, batch[-1].position)


def test_every_filter_pages_exactly_the_rows_it_names_in_position_order(store: AuditIndexStore) -> None:
    rows = make_rows(5)
    fill(store, rows)
    rng = random.Random(11)
    aggregates = sorted({r.aggregate_id for r in rows}, key=str)
    for _ in range(150):
        a = START + timedelta(minutes=rng.randint(-60, 660))
        where = AuditFilter(
            after=rng.choice([0, 0, rng.randint(0, 600)]),
            limit=rng.choice([1, 7, 100]),
            unit=rng.choice([None, *UNITS]),
            user=rng.choice([None, None, *USERS]),
            type=rng.choice([None, *TYPES]),
            aggregate=rng.choice([None, None, None, *aggregates]),
            recorded_from=rng.choice([None, a]),
            recorded_to=rng.choice([None, a + timedelta(minutes=rng.choice([0, 5, 60, 400]))]),
            late_by_seconds=rng.choice([None, None, 86400, 7 * 86400 + 1]),
        )
        got = [r.position for r in store.query(where)]
        assert got == expected(rows, where), where


def test_a_window_finds_rows_committed_after_its_end_but_recorded_inside_it(store: AuditIndexStore) -> None:
    rows = make_rows(5, count=200)
    # The last row was stamped inside an early window but reached the index last.
    rows[-1] = AuditRow(**{**rows[-1].__dict__, "recorded_at": START + timedelta(minutes=10, seconds=30)})
    fill(store, rows)
    where = AuditFilter(recorded_from=START + timedelta(minutes=10), recorded_to=START + timedelta(minutes=11))
    assert [r.position for r in store.query(where)] == [10, 11, 200]
    assert [r.position for r in store.query(AuditFilter(after=11, recorded_from=where.recorded_from,
                                                        recorded_to=where.recorded_to))] == [200]


def test_an_index_made_before_recorded_max_is_filled_in_when_the_tables_are_made(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    rows = make_rows(7, count=50)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE audit_index (position INTEGER PRIMARY KEY, aggregate_id TEXT NOT NULL, "
            "aggregate_type TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL, user_name TEXT NOT NULL, "
            "unit TEXT NOT NULL, recorded_at REAL NOT NULL, occurred_at REAL NOT NULL, lateness INTEGER NOT NULL)")
        conn.executemany("INSERT INTO audit_index VALUES (?,?,?,?,?,?,?,?,?,?)", [
            (r.position, str(r.aggregate_id), r.aggregate_type, r.version, r.type, r.user, r.unit,
             r.recorded_at.timestamp(), r.occurred_at.timestamp(), r.lateness_seconds) for r in rows])
    datastore = SQLiteDatastore(str(path))
    store = AuditStore(datastore)
    store.create_tables()
    more = make_rows(8, count=60)[50:]
    store.append(store.position(), more, 60)
    everything = rows + more
    where = AuditFilter(recorded_from=START + timedelta(minutes=20), recorded_to=START + timedelta(minutes=55))
    assert [r.position for r in store.query(where)] == expected(everything, where)
    datastore.close()
    with sqlite3.connect(path) as conn:
        latest = [r[0] for r in conn.execute("SELECT recorded_max FROM audit_index ORDER BY position")]
    assert latest == sorted(latest) and None not in latest


@pytest.mark.postgres
def test_a_start_does_not_wait_for_the_index_a_catch_up_is_writing(
    postgres_database: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with scratch_schema(postgres_database) as schema:
        first = postgres_datastore(postgres_database, schema)
        AuditStore(first).create_tables()
        # A second process starting while a catch-up holds its insert's lock (and the
        # tracking row) must not ask for a lock that waits on it: that was a deadlock.
        # The timeout turns such a wait into a failure rather than a hung test.
        monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=3000")
        later = postgres_datastore(postgres_database, schema)
        with psycopg.connect(postgres_database) as writer:
            writer.execute(f'LOCK TABLE "{schema}".audit_index IN ROW EXCLUSIVE MODE')
            AuditStore(later).create_tables()
        later.close()
        first.close()


@pytest.mark.postgres
def test_making_the_tables_adds_a_missing_index_and_drops_a_retired_one(postgres_database: str) -> None:
    with postgres_store(postgres_database) as (schema, store):
        with psycopg.connect(postgres_database, autocommit=True) as conn:
            conn.execute(f'DROP INDEX "{schema}".audit_index_unit_type')
            conn.execute(f'CREATE INDEX audit_index_recorded_at ON "{schema}".audit_index (recorded_at, position)')
        store.create_tables()
        with psycopg.connect(postgres_database) as conn:
            names = {r[0] for r in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname=%s AND tablename='audit_index'", (schema,))}
        assert "audit_index_unit_type" in names and "audit_index_recorded_at" not in names


@pytest.mark.postgres
def test_a_grown_index_gets_planner_statistics_without_autovacuum(postgres_database: str) -> None:
    with postgres_store(postgres_database) as (schema, store):
        with psycopg.connect(postgres_database, autocommit=True) as conn:
            # So that only the store can have analysed it.
            conn.execute(f'ALTER TABLE "{schema}".audit_index SET (autovacuum_enabled = false)')

            def statistics() -> int:
                return conn.execute("SELECT count(*) FROM pg_stats WHERE schemaname=%s "
                                    "AND tablename='audit_index'", (schema,)).fetchone()[0]

            rows = make_rows(9, count=1200)
            fill(store, rows[:400])
            assert statistics() == 0  # too few to be worth it
            fill(store, rows[400:])
            assert statistics() > 0
        where = AuditFilter(unit="u1", recorded_from=START + timedelta(minutes=100),
                            recorded_to=START + timedelta(minutes=700))
        assert [r.position for r in store.query(where)] == expected(rows, where)
