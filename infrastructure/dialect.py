"""One SQL text for SQLite and PostgreSQL, and the little that differs between them.

The stores write each statement once, in this spelling:

- ``?`` marks a parameter (psycopg's ``%s`` on PostgreSQL);
- ``{p}`` stands before a table of ours: nothing on SQLite, the quoted schema on PostgreSQL;
- ``{name}`` for a table passed to ``execute`` by keyword (the library's event tables);
- ``{bigint}``, ``{smallint}``, ``{uuid}``, ``{blob}``, ``{text}``, ``{real}``, ``{json}``: column
  types, which stay what each backend's tables were made with (an SQLite ``INTEGER
  PRIMARY KEY`` is the rowid, a ``bigint`` one is not);
- ``{without_rowid}`` after a table SQLite keeps as its primary key's b-tree;
- ``{position}``: the column of the library's event tables that orders the log;
- ``{greatest}``: the larger of two values;
- ``{for_update}`` after a SELECT whose rows the transaction goes on to change (SQLite's
  writer holds the whole file).

Rows come back as tuples (or sqlite3 rows, read the same way) on both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from psycopg.rows import tuple_row

# The words above: (SQLite's, PostgreSQL's).
WORDS = {
    "bigint": ("INTEGER", "bigint"),
    "smallint": ("INTEGER", "smallint"),
    "uuid": ("TEXT", "uuid"),
    "blob": ("BLOB", "bytea"),
    "text": ("TEXT", "text"),
    "real": ("REAL", "double precision"),
    "json": ("TEXT", "jsonb"),
    "without_rowid": (" WITHOUT ROWID", ""),
    "position": ("rowid", "notification_id"),
    "greatest": ("max", "greatest"),
    "for_update": ("", " FOR UPDATE"),
}


class Dialect:
    """What SQLite says differently."""

    postgres = False
    mark = "?"
    words = {word: spelt[0] for word, spelt in WORDS.items()}
    # SQLite caps the parameters of one statement: long lists go 500 at a time.
    chunk = 500

    def prefix(self, schema: str | None) -> str:
        return ""

    def table(self, schema: str | None, name: str) -> str:
        return name

    def cursor(self, raw: Any) -> Any:
        return raw

    def execute(self, raw: Any, text: str, params: Any, prepare: bool | None) -> None:
        raw.execute(text, params)

    def rowcount(self, raw: Any) -> int:
        return int(raw.sqlite_cursor.rowcount)

    def fetchall(self, raw: Any) -> list[Any]:
        return list(raw.fetchall())

    def among(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """``column`` is one of ``values`` (a non-empty list): the clause and its parameters."""
        return f"{column} IN ({','.join('?' * len(values))})", list(values)

    def latest_per_id(self, columns: str, table: str, where: str) -> str:
        """Each id's row with the greatest position among those ``where`` selects, in id order."""
        # SQLite answers the bare columns from the row holding the max().
        return f"SELECT {columns}, max(position) FROM {table} WHERE {where} GROUP BY id ORDER BY id"

    def columns(self, cursor: Cursor, table: str) -> set[str]:
        cursor.execute("SELECT name FROM pragma_table_info(?)", (table,))
        return {row[0] for row in cursor.fetchall()}

    def indexes(self, cursor: Cursor, table: str) -> set[str]:
        cursor.execute("SELECT name FROM sqlite_master WHERE type='index' AND tbl_name=?", (table,))
        return {row[0] for row in cursor.fetchall()}

    def uuid(self, value: Any) -> UUID:
        return UUID(value)

    def uuid_param(self, value: UUID) -> Any:
        return value.hex


class PostgresDialect(Dialect):
    postgres = True
    mark = "%s"
    words = {word: spelt[1] for word, spelt in WORDS.items()}
    chunk = 0  # one array parameter, however long

    def prefix(self, schema: str | None) -> str:
        return _quoted(schema or "public") + "."

    def table(self, schema: str | None, name: str) -> str:
        return self.prefix(schema) + _quoted(name)

    def cursor(self, raw: Any) -> Any:
        # The library's connections make dict rows.
        raw.row_factory = tuple_row
        return raw

    def execute(self, raw: Any, text: str, params: Any, prepare: bool | None) -> None:
        raw.execute(text, params, prepare=prepare)

    def rowcount(self, raw: Any) -> int:
        return int(raw.rowcount)

    def fetchall(self, raw: Any) -> list[Any]:
        # psycopg raises where a statement returns no rows; SQLite answers none.
        return [] if raw.description is None else list(raw.fetchall())

    def among(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(values)]

    def latest_per_id(self, columns: str, table: str, where: str) -> str:
        return f"SELECT DISTINCT ON (id) {columns} FROM {table} WHERE {where} ORDER BY id, position DESC"

    def columns(self, cursor: Cursor, table: str) -> set[str]:
        cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_schema=? "
                       "AND table_name=?", (cursor.db.schema, table))
        return {row[0] for row in cursor.fetchall()}

    def indexes(self, cursor: Cursor, table: str) -> set[str]:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname=? AND tablename=?",
                       (cursor.db.schema, table))
        return {row[0] for row in cursor.fetchall()}

    def uuid(self, value: Any) -> UUID:
        return value if type(value) is UUID else UUID(str(value))

    def uuid_param(self, value: UUID) -> Any:
        return value


def _quoted(name: str) -> str:
    # A literal % would read as a parameter mark.
    return '"' + name.replace('"', '""').replace("%", "%%") + '"'


SQLITE, POSTGRES = Dialect(), PostgresDialect()


class Database:
    """One of the library's datastores (its connections, and on PostgreSQL its schema),
    spoken to in the spelling above."""

    def __init__(self, datastore: SQLiteDatastore | PostgresDatastore) -> None:
        if isinstance(datastore, PostgresDatastore):
            self.dialect: Dialect = POSTGRES
        elif isinstance(datastore, SQLiteDatastore):
            self.dialect = SQLITE
        else:
            raise TypeError(f"no SQL dialect for {type(datastore).__name__}")
        self.datastore = datastore
        self.schema: str | None = getattr(datastore, "schema", None)
        self.words = {**self.dialect.words, "p": self.dialect.prefix(self.schema)}

    @property
    def postgres(self) -> bool:
        return self.dialect.postgres

    def sql(self, text: str, tables: dict[str, str] | None = None) -> str:
        words = self.words if not tables else {
            **self.words, **{k: self.dialect.table(self.schema, v) for k, v in tables.items()}}
        return text.replace("?", self.dialect.mark).format_map(words)

    @contextlib.contextmanager
    def transaction(self, *, commit: bool) -> Iterator[Cursor]:
        with self.datastore.transaction(commit=commit) as raw:
            yield Cursor(self, self.dialect.cursor(raw))

    @contextlib.contextmanager
    def read(self) -> Iterator[Cursor]:
        """Statements that need no transaction of their own (on PostgreSQL, a pooled
        connection as it is; SQLite's reads take the library's reader lock)."""
        if isinstance(self.datastore, PostgresDatastore):
            with self.datastore.get_connection() as conn, conn.cursor() as raw:
                yield Cursor(self, self.dialect.cursor(raw))
        else:
            with self.transaction(commit=False) as cursor:
                yield cursor

    def chunks(self, values: Iterable[Any]) -> Iterator[list[Any]]:
        """``values`` sorted, without repeats, in lists short enough for one statement."""
        wanted = sorted(set(values))
        size = self.dialect.chunk or len(wanted) or 1
        for start in range(0, len(wanted), size):
            yield wanted[start:start + size]


class Cursor:
    def __init__(self, db: Database, raw: Any) -> None:
        self.db, self.raw = db, raw

    def execute(self, text: str, params: Any = (), *, prepare: bool | None = None, **tables: str) -> Cursor:
        """``prepare``: PostgreSQL's choice (None: psycopg's, after a few runs)."""
        self.db.dialect.execute(self.raw, self.db.sql(text, tables), params, prepare)
        return self

    def executemany(self, text: str, rows: Iterable[Sequence[Any]], **tables: str) -> None:
        self.raw.executemany(self.db.sql(text, tables), rows)

    def fetchone(self) -> Any:
        return self.raw.fetchone()

    def fetchall(self) -> list[Any]:
        return self.db.dialect.fetchall(self.raw)

    @property
    def rowcount(self) -> int:
        return self.db.dialect.rowcount(self.raw)
