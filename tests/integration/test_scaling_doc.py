"""docs/SCALING.md names the tables a deployment really has: those of its table "The tables of
one schema" are exactly the tables the first start creates, on either backend (the library
names its two tables after the application on PostgreSQL only)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import psycopg

from infrastructure.settings import Settings
from interfaces import bootstrap

LIBRARY_ON_THE_OTHER_BACKEND = {True: {"stored_events", "stored_snapshots"},
                                False: {"careledger_events", "careledger_snapshots"}}
SCALING = (Path(__file__).resolve().parents[2] / "docs" / "SCALING.md").read_text()


def documented_tables() -> set[str]:
    section = SCALING.split("## The tables of one schema", 1)[1].split("\n## ", 1)[0]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {name for cell in first_cells for name in re.findall(r"`([a-z_]+)`", cell)}


def created_tables(settings: Settings) -> set[str]:
    bootstrap.build(settings).close()
    if settings.is_postgres:
        with psycopg.connect(settings.database_url) as conn:
            rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                                (settings.database_schema,)).fetchall()
    else:
        with sqlite3.connect(settings.database_url.removeprefix("sqlite:///")) as conn:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                "AND name NOT LIKE 'sqlite_%'").fetchall()
    return {name for (name,) in rows}


def test_scaling_names_every_table_the_first_start_creates_and_no_other(settings: Settings) -> None:
    created, other = created_tables(settings), LIBRARY_ON_THE_OTHER_BACKEND[settings.is_postgres]
    assert documented_tables() == created | other and not created & other
    assert "pending" not in SCALING.lower()
