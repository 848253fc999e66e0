"""Search every table of a store for a string, in clear (UTF-8 bytes) — for personal-data tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
from psycopg import sql

from infrastructure.settings import Settings
from interfaces.bootstrap import postgres_conninfo


def scan_store(settings: Settings, needle: str) -> list[str]:
    """Where ``needle`` appears: table names (PostgreSQL) or the SQLite file itself."""
    raw = needle.encode()
    if not settings.is_postgres:
        path = Path(settings.eventsourcing_env()["SQLITE_DBNAME"])
        hits = [str(p) for p in (path, Path(f"{path}-wal")) if p.exists() and raw in p.read_bytes()]
        return hits
    hits: list[str] = []
    with psycopg.connect(postgres_conninfo(settings)) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema=%s", (settings.database_schema,)
        ).fetchall()
        for (table,) in tables:
            ident = sql.Identifier(settings.database_schema, table)
            rows = conn.execute(sql.SQL("SELECT t::text FROM {} t").format(ident)).fetchall()
            if any(needle in row[0] or raw.hex() in row[0] for row in rows):
                hits.append(table)
    return hits
