"""Case keys at rest: wrapped by the master key, in a table of their own.

The table ``case_keys(case_id, wrapped_key)`` sits beside the event tables, never in them:
events are never deleted, a key must be. Erasing deletes the row, and then makes sure the
database does not keep the deleted bytes where a reader of its files could find them.

What remains outside the tables: PostgreSQL's write-ahead log and any backup taken before
the erasure still hold the *wrapped* key, which opens only with the master key. Retiring a
master key after the last such backup expires finishes the erasure there too.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool

from infrastructure.dialect import POSTGRES, SQLITE, Dialect
from infrastructure.sealing import CaseKeyExists, new_case_key
from infrastructure.secret_files import SECRET_BYTES, load_or_create_secret

MASTER_KEY_BYTES = SECRET_BYTES
NONCE_BYTES = 12


class MasterKeyError(Exception):
    """The master key file is unusable, or is not the key the case keys were wrapped with."""


def load_master_key(path: str | os.PathLike[str]) -> bytes:
    """Reads the 256-bit master key (base64 text) from ``path``, creating it on first use."""
    return load_or_create_secret(path, what="主密钥", error=MasterKeyError)


class KeyWrap:
    """AES-256-GCM under the master key; the case id is bound in as associated data, so a
    wrapped key moved to another case's row does not open."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != MASTER_KEY_BYTES:
            raise MasterKeyError(f"主密钥须为 {MASTER_KEY_BYTES * 8} 位")
        self._aead = AESGCM(master_key)

    @staticmethod
    def _associated_data(case_id: UUID) -> bytes:
        return b"careledger case key " + str(case_id).encode()

    def wrap(self, case_id: UUID, key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, key, self._associated_data(case_id))

    def unwrap(self, case_id: UUID, wrapped: bytes) -> bytes:
        try:
            return self._aead.decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], self._associated_data(case_id)
            )
        except InvalidTag:
            raise MasterKeyError("个案密钥无法用当前主密钥解开：主密钥不符或密钥记录被改动") from None


class _KeyTable:
    """The table's statements, written once (infrastructure.dialect's spelling, ``{t}`` for
    the table); each backend's class below opens its connections, says how a case id is
    stored, and removes what a delete leaves behind."""

    dialect: Dialect

    def __init__(self, master_key: bytes, schema: str | None = None) -> None:
        self._wrap = KeyWrap(master_key)
        self._words = {**self.dialect.words, "t": self.dialect.table(schema, "case_keys")}

    def _sql(self, text: str) -> str:
        return text.replace("?", self.dialect.mark).format_map(self._words)

    def _cursor(self) -> contextlib.AbstractContextManager[Any]:
        """A cursor of tuple rows in a transaction that commits as it ends."""
        raise NotImplementedError

    def _key(self, case_id: UUID) -> Any:
        raise NotImplementedError

    def _scrub(self) -> None:
        """Removes the bytes of deleted rows from where a reader of the files could find them."""
        raise NotImplementedError

    def create_table(self) -> None:
        with self._cursor() as c:
            c.execute(self._sql(
                "CREATE TABLE IF NOT EXISTS {t} (case_id {uuid} PRIMARY KEY, wrapped_key {blob} NOT NULL)"))

    def create(self, case_id: UUID) -> bytes:
        key = new_case_key()
        with self._cursor() as c:
            inserted = c.execute(
                self._sql("INSERT INTO {t} (case_id, wrapped_key) VALUES (?, ?) ON CONFLICT (case_id) DO NOTHING"),
                (self._key(case_id), self._wrap.wrap(case_id, key)),
            ).rowcount
        if inserted != 1:
            raise CaseKeyExists(str(case_id))
        return key

    def rewrap(self, new_master_key: bytes) -> int:
        """Wraps every case key under a new master key, all in one transaction; answers how many."""
        new = KeyWrap(new_master_key)
        with self._cursor() as c:
            rows = [(UUID(str(cid)), bytes(w)) for cid, w in c.execute(self._sql(REWRAP)).fetchall()]
            c.executemany(
                self._sql("UPDATE {t} SET wrapped_key=? WHERE case_id=?"),
                [(new.wrap(cid, self._wrap.unwrap(cid, w)), self._key(cid)) for cid, w in rows],
            )
        self._wrap = new
        return len(rows)

    def get(self, case_id: UUID) -> bytes | None:
        with self._cursor() as c:
            c.execute(self._sql("SELECT wrapped_key FROM {t} WHERE case_id=?"), (self._key(case_id),))
            row = c.fetchone()
        return None if row is None else self._wrap.unwrap(case_id, bytes(row[0]))

    def erase(self, case_id: UUID) -> None:
        """Idempotent, so an erasure interrupted before its event was saved can be retried."""
        with self._cursor() as c:
            c.execute(self._sql("DELETE FROM {t} WHERE case_id=?"), (self._key(case_id),))
        self._scrub()


# Every row locked, so no key is wrapped meanwhile under the old master key.
REWRAP = "SELECT case_id, wrapped_key FROM {t}{for_update}"


class SQLiteCaseKeys(_KeyTable):
    """Case keys in an SQLite file (the event store's file or one of their own)."""

    dialect = SQLITE

    def __init__(self, path: str | os.PathLike[str], master_key: bytes) -> None:
        super().__init__(master_key)
        self._path = str(path)
        # Every connection to ":memory:" opens a database of its own, so an in-memory
        # store keeps one connection, and a lock because the API serves from threads.
        self._memory = (
            sqlite3.connect(":memory:", check_same_thread=False) if self._path == ":memory:" else None
        )
        self._lock = threading.Lock()
        self.create_table()

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        if self._memory is not None:
            with self._lock, self._memory:
                yield self._memory
            return
        conn = sqlite3.connect(self._path, timeout=10)
        try:
            # Per connection, and whatever the build's default: a DELETE overwrites the
            # row's bytes with zeros instead of leaving them in the page's free space.
            conn.execute("PRAGMA secure_delete=ON")
            with conn:  # commits, or rolls back on an exception
                yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[sqlite3.Cursor]:
        with self._connection() as conn:
            yield conn.cursor()

    def _key(self, case_id: UUID) -> str:
        return str(case_id)

    def close(self) -> None:
        if self._memory is not None:
            self._memory.close()

    def _scrub(self) -> None:
        with self._connection() as conn:
            (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
            if mode == "wal":
                # The WAL still holds the frame that inserted the key; copy the zeroed page
                # back and empty the WAL. A reader mid-transaction can postpone this to the
                # next checkpoint, which the library runs as the WAL grows.
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()


class PostgresCaseKeys(_KeyTable):
    """Case keys in PostgreSQL, from a connection string or a psycopg pool."""

    dialect = POSTGRES

    def __init__(
        self, db: str | ConnectionPool, master_key: bytes, *, schema: str = "public",
        horizon_wait: float = 10.0, create_table: bool = True,
    ) -> None:
        super().__init__(master_key, schema)
        self._db = db
        self._horizon_wait = horizon_wait
        if create_table:
            self.create_table()

    @contextlib.contextmanager
    def _connection(self, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        if isinstance(self._db, ConnectionPool):
            with self._db.connection() as conn:
                if not autocommit:
                    yield conn
                    return
                conn.autocommit = True
                try:
                    yield conn
                finally:
                    conn.autocommit = False
        else:
            with psycopg.connect(self._db, autocommit=autocommit) as conn:
                yield conn

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[psycopg.Cursor[Any]]:
        # tuple_row: a pool shared with the event store may make dict rows by default.
        with self._connection() as conn, conn.transaction():
            yield conn.cursor(row_factory=tuple_row)

    def _key(self, case_id: UUID) -> UUID:
        return case_id

    def _scrub(self) -> None:
        # A deleted row stays in its heap page until the space is reused; plain VACUUM only
        # marks it free. VACUUM FULL writes the live rows to a new file and drops the old
        # one (the table holds one short row per case, so this takes milliseconds) -- but
        # it copies the deleted row along while any transaction that might still see it is
        # running, so first wait for those to end.
        with self._connection(autocommit=True) as conn:
            self._await_transactions_older_than_now(conn)
            conn.execute(self._sql("VACUUM FULL {t}"))

    def _await_transactions_older_than_now(self, conn: psycopg.Connection) -> None:
        """Waits, at most ``horizon_wait`` seconds, for the transactions that could keep the
        deleted row alive: any in this database, and any anywhere holding a transaction id.
        pg_locks shows them to every role, unlike pg_stat_activity's backend_xmin."""
        cursor = conn.cursor(row_factory=tuple_row)

        def in_progress() -> set[tuple[str, str]]:
            return set(cursor.execute(_TRANSACTIONS_IN_PROGRESS).fetchall())

        older = in_progress()
        deadline = time.monotonic() + self._horizon_wait
        while older and time.monotonic() < deadline:
            time.sleep(0.02)
            older &= in_progress()


_TRANSACTIONS_IN_PROGRESS = """
SELECT l.locktype, coalesce(l.virtualxid, l.transactionid::text)
FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.granted AND l.pid IS DISTINCT FROM pg_backend_pid()
  AND ((l.locktype = 'virtualxid' AND a.datname = current_database())
       OR (l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock'))
"""
