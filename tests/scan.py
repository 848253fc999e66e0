"""Search every table of a store for a string, in clear (UTF-8 bytes), or a whole dump of
the database for a value and its unkeyed hashes — for personal-data tests."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from infrastructure.database_probe import postgres_conninfo
from infrastructure.settings import Settings


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


def dump_database(settings: Settings) -> bytes:
    """What someone who takes the database away holds: ``pg_dump`` of the whole database
    (every schema), or every file of the SQLite database (main file, WAL, shared memory)."""
    if not settings.is_postgres:
        path = Path(settings.eventsourcing_env()["SQLITE_DBNAME"])
        return b"".join(p.read_bytes() for p in sorted(path.parent.glob(f"{path.name}*")))
    pg_dump = shutil.which("pg_dump") or "/usr/lib/postgresql/15/bin/pg_dump"
    done = subprocess.run(
        [pg_dump, "--no-owner", "--dbname", settings.database_url], capture_output=True, check=True
    )
    return done.stdout


def unkeyed_forms(value: str) -> dict[str, bytes]:
    """Every way the value, or an unkeyed hash of it, could sit in a dump: UTF-8, JSON with
    ASCII escapes; SHA-256, SHA-1 and MD5 as hex (both cases), raw digest and base64; and
    each of these as the hex PostgreSQL dumps bytea in."""
    raw = value.encode()
    forms = {"utf-8": raw, "json-escaped": json.dumps(value).strip('"').encode()}
    for name in ("sha256", "sha1", "md5"):
        digest = hashlib.new(name, raw).digest()
        forms[f"{name} hex"] = digest.hex().encode()
        forms[f"{name} HEX"] = digest.hex().upper().encode()
        forms[f"{name} raw"] = digest
        forms[f"{name} base64"] = base64.b64encode(digest).rstrip(b"=")
    # A bytea column (the PostgreSQL event store's) dumps as hex of what it holds.
    return {**forms, **{f"{name} in bytea": form.hex().encode() for name, form in forms.items()}}


def forms_found(dump: bytes, value: str) -> list[str]:
    """The names of the forms of ``value`` (see ``unkeyed_forms``) that ``dump`` holds."""
    return [name for name, form in unkeyed_forms(value).items() if form in dump]
