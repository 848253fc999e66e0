"""The districts one PostgreSQL deployment serves (docs/SCALING.md, "A province").

A plain table in the deployment's own schema (the province's) lists them: code, name, the
schema its tables live in, when it was added. Each district's log, Merkle tree, views, keys
and sessions are its own, in its schema and its key folder; interfaces.deployment builds
one set of services per row. SQLite holds one district only: there is no such table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import psycopg
from psycopg import sql

from infrastructure.database_probe import postgres_conninfo
from infrastructure.settings import Settings

# A county-level administrative division code (GB/T 2260): six digits, the first not 0.
CODE = re.compile(r"[1-9][0-9]{5}")


class DistrictRefused(Exception):
    """A district that cannot be added; ``message`` is what the operator reads."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class District:
    code: str
    name: str
    schema: str
    added_at: datetime


def district_schema(code: str) -> str:
    return f"d{code}"


def check_code(code: str) -> str:
    if not CODE.fullmatch(code):
        raise DistrictRefused("区县代码须为 6 位行政区划代码（如 420112）")
    return code


class DistrictTable:
    """The province schema's ``districts`` table (PostgreSQL only)."""

    def __init__(self, settings: Settings) -> None:
        if not settings.is_postgres:
            raise DistrictRefused("SQLite 部署只服务一个区县；多个区县须使用 PostgreSQL（每个区县一个模式）")
        self._conninfo = postgres_conninfo(settings)
        self._table = sql.Identifier(settings.database_schema, "districts")
        self._schema = settings.database_schema

    def create_table(self) -> None:
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self._schema)))
            conn.execute(sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (code TEXT PRIMARY KEY, name TEXT NOT NULL, "
                "schema_name TEXT NOT NULL UNIQUE, added_at TIMESTAMPTZ NOT NULL)").format(self._table))

    def all(self) -> list[District]:
        """Every district, by code; none before the table exists (a deployment never migrated
        since districts came, or one that serves one district)."""
        with psycopg.connect(self._conninfo) as conn:
            exists = conn.execute("SELECT to_regclass(%s)", (f'"{self._schema}".districts',)).fetchone()
            if exists is None or exists[0] is None:
                return []
            rows = conn.execute(sql.SQL("SELECT code, name, schema_name, added_at FROM {} ORDER BY code")
                                .format(self._table)).fetchall()
        return [District(code, name, schema, added_at) for code, name, schema, added_at in rows]

    def add(self, code: str, name: str, *, prepare: Callable[[District], None] | None = None) -> District:
        """Registers the district, after creating its schema and ``prepare`` (its tables and
        keys): one whose preparation fails is not registered, so no start meets it half made.
        Adding it again with the same name prepares it again (which makes only what is
        missing) and changes nothing else; another name is refused."""
        check_code(code)
        name = name.strip()
        if not name or len(name) > 100:
            raise DistrictRefused("区县名称须为 1–100 个字")
        schema = district_schema(code)
        if schema == self._schema:
            raise DistrictRefused("区县的模式不能是本部署自己的模式")
        self.create_table()
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            row = conn.execute(sql.SQL("SELECT name, schema_name, added_at FROM {} WHERE code = %s")
                               .format(self._table), (code,)).fetchone()
            if row is not None and row[0] != name:
                raise DistrictRefused(f"区县 {code} 已以名称“{row[0]}”登记")
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        district = District(code, name, schema, datetime.now(timezone.utc)) if row is None else District(code, *row)
        if prepare is not None:
            prepare(district)
        if row is None:
            with psycopg.connect(self._conninfo) as conn:
                conn.execute(sql.SQL("INSERT INTO {} (code, name, schema_name, added_at) VALUES (%s, %s, %s, %s) "
                                     "ON CONFLICT (code) DO NOTHING").format(self._table),
                             (code, name, schema, district.added_at))
        return district
