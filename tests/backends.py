"""Test databases: a SQLite file per test, or a PostgreSQL schema per test in a database per run."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from infrastructure.settings import Settings

SERVER_URL = os.environ.get("CARELEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("CARELEDGER_REQUIRE_POSTGRES", "") not in ("", "0", "no")
# What a test of behaviour runs on (the parameters of tests/conftest.py's backend fixture and
# of tests/browser/conftest.py's demo).
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def postgres_reachable() -> bool:
    try:
        with psycopg.connect(SERVER_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def database_url(name: str) -> str:
    base, _, _ = SERVER_URL.rpartition("/")
    return f"{base}/{name}"


@contextmanager
def scratch_database() -> Iterator[str]:
    """A database of its own for this test process, dropped at the end."""
    name = f"careledger_t_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(name)
    finally:
        with psycopg.connect(SERVER_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_schema(db_url: str) -> Iterator[str]:
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def settings_for(backend: str, tmp_path: Path, db_url: str | None, schema: str | None) -> Settings:
    # Tests move their clock months and years on and keep using the district's tokens; the
    # tests of expiry set the lifetime they test (the default is pinned in test_authentication).
    keys = dict(signing_key_file=tmp_path / "signing-key.pem", data_key_file=tmp_path / "data-key",
                idempotency_key_file=tmp_path / "idempotency-key", evidence_dir=tmp_path / "evidence",
                token_days=3650)
    if backend == "sqlite":
        return Settings(database_url=f"sqlite:///{tmp_path / 'careledger.sqlite'}", **keys)
    assert db_url and schema
    return Settings(database_url=db_url, database_schema=schema, pool_size=4, **keys)


def require_postgres() -> None:
    if postgres_reachable():
        return
    if REQUIRE_POSTGRES:
        pytest.fail(f"PostgreSQL required but unreachable at {SERVER_URL}")
    pytest.skip(f"PostgreSQL unreachable at {SERVER_URL}")
