"""Access bookkeeping outside the event log, for SQLite and PostgreSQL (built from the
library's datastores, so it shares their connections).

- ``credentials``: argon2id hashes of dashboard passwords. The audit API publishes every
  event's fields, so a hash must never be an event field; the log records only that a
  password was set (``User.PasswordSet``).
- ``sessions``: dashboard sessions, keyed by the SHA-256 of a 256-bit random id. A
  digest is enough (the id is random, not chosen by a person), and a copy of the table
  signs nobody in.
- ``sign_in_failures``: failed password sign-ins per user and per client address, shared
  by every worker, so a lock holds whichever worker the next attempt reaches.
- ``token_use``: when each token last signed a request in, written at most once a minute,
  so that a request does not append an event or write a row every time.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from application.ports import SessionRecord
from infrastructure.dialect import Database

# A session's or token's last use is written again only when older than this.
TOUCH_EVERY = timedelta(seconds=60)

TABLES = (
    "CREATE TABLE IF NOT EXISTS {p}credentials (user_id TEXT PRIMARY KEY, password_hash TEXT NOT NULL, "
    "set_at DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {p}sessions (digest TEXT PRIMARY KEY, user_id TEXT NOT NULL, "
    "created_at DOUBLE PRECISION NOT NULL, last_seen_at DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sessions_user ON {p}sessions (user_id)",
    "CREATE TABLE IF NOT EXISTS {p}sign_in_failures (key TEXT PRIMARY KEY, failures INTEGER NOT NULL, "
    "first_at DOUBLE PRECISION NOT NULL, locked_until DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {p}token_use (token_id TEXT PRIMARY KEY, last_used_at DOUBLE PRECISION NOT NULL)",
)


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


class AccessStore:
    """On either backend: ``{p}`` is the table prefix (PostgreSQL's schema), ``?`` the
    parameter mark (infrastructure.dialect)."""

    def __init__(self, datastore: SQLiteDatastore | PostgresDatastore, hasher: PasswordHasher | None = None) -> None:
        self.db = Database(datastore)
        self._hasher = hasher or PasswordHasher()  # argon2id, RFC 9106's low-memory profile
        # Verified when no such user exists, so that an unknown name takes as long as a wrong password.
        self._decoy = self._hasher.hash("careledger: no such user")
        self._touched: dict[UUID, float] = {}
        self._touched_lock = threading.Lock()

    def _execute(self, text: str, params: tuple[Any, ...] = (), *, commit: bool = True) -> list[tuple[Any, ...]]:
        with self.db.transaction(commit=commit) as c:
            return [tuple(row) for row in c.execute(text, params, prepare=False).fetchall()]

    def create_tables(self) -> None:
        for statement in TABLES:
            self._execute(statement)

    # ---- passwords --------------------------------------------------------------------

    def set_password(self, user_id: UUID, password: str) -> None:
        hashed = self._hasher.hash(password)
        now = _epoch(datetime.now(timezone.utc))
        self._execute(
            "INSERT INTO {p}credentials (user_id, password_hash, set_at) VALUES (?, ?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash, set_at = excluded.set_at",
            (str(user_id), hashed, now))

    def verify_password(self, user_id: UUID | None, password: str) -> bool:
        rows = [] if user_id is None else self._execute(
            "SELECT password_hash FROM {p}credentials WHERE user_id = ?", (str(user_id),), commit=False)
        hashed = rows[0][0] if rows else self._decoy
        try:
            self._hasher.verify(hashed, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        if not rows:
            return False
        if self._hasher.check_needs_rehash(hashed):
            assert user_id is not None
            self.set_password(user_id, password)
        return True

    # ---- sessions ---------------------------------------------------------------------

    def open_session(self, digest: str, user_id: UUID, now: datetime) -> None:
        self._execute(
            "INSERT INTO {p}sessions (digest, user_id, created_at, last_seen_at) VALUES (?, ?, ?, ?)",
            (digest, str(user_id), _epoch(now), _epoch(now)))

    def find_session(self, digest: str) -> SessionRecord | None:
        rows = self._execute(
            "SELECT user_id, created_at, last_seen_at FROM {p}sessions WHERE digest = ?", (digest,), commit=False)
        if not rows:
            return None
        user_id, created, seen = rows[0]
        return SessionRecord(UUID(user_id), _moment(created), _moment(seen))

    def touch_session(self, digest: str, now: datetime) -> None:
        self._execute(
            "UPDATE {p}sessions SET last_seen_at = ? WHERE digest = ? AND last_seen_at < ?",
            (_epoch(now), digest, _epoch(now - TOUCH_EVERY)))

    def end_session(self, digest: str) -> None:
        self._execute("DELETE FROM {p}sessions WHERE digest = ?", (digest,))

    def end_sessions(self, user_id: UUID) -> int:
        rows = self._execute("DELETE FROM {p}sessions WHERE user_id = ? RETURNING digest",
                             (str(user_id),))
        return len(rows)

    def end_sessions_older_than(self, created_before: datetime, seen_before: datetime) -> int:
        """Drops sessions past either expiry (they would be refused anyway)."""
        rows = self._execute(
            "DELETE FROM {p}sessions WHERE created_at < ? OR last_seen_at < ? RETURNING digest",
            (_epoch(created_before), _epoch(seen_before)))
        return len(rows)

    # ---- failed sign-ins ----------------------------------------------------------------

    def locked_until(self, keys: list[str], now: datetime) -> datetime | None:
        if not keys:
            return None
        marks = ", ".join("?" * len(keys))
        rows = self._execute(
            "SELECT max(locked_until) FROM {p}sign_in_failures " f"WHERE key IN ({marks}) AND locked_until > ?",
            (*keys, _epoch(now)), commit=False)
        return _moment(rows[0][0]) if rows and rows[0][0] is not None else None

    def count_failure(
        self, key: str, now: datetime, *, limit: int, window: timedelta, lock: timedelta
    ) -> datetime | None:
        """Counts one failure for ``key`` in one statement (workers may count at once):
        failures older than ``window`` start the count again, and the ``limit``-th locks the
        key for ``lock``. Answers the end of the lock this failure began, else None."""
        at, since, until = _epoch(now), _epoch(now - window), _epoch(now + lock)
        rows = self._execute(
            "INSERT INTO {p}sign_in_failures AS f (key, failures, first_at, locked_until) VALUES (?, 1, ?, 0) "
            "ON CONFLICT (key) DO UPDATE SET "
            "failures = CASE WHEN f.first_at < ? THEN 1 ELSE f.failures + 1 END, "
            "first_at = CASE WHEN f.first_at < ? THEN ? ELSE f.first_at END "
            "RETURNING failures",
            (key, at, since, since, at))
        failures = rows[0][0]
        if failures < limit:
            return None
        self._execute(
            "UPDATE {p}sign_in_failures SET failures = 0, first_at = ?, locked_until = ? WHERE key = ?",
            (at, until, key))
        return _moment(until)

    def clear_failures(self, key: str) -> None:
        self._execute("DELETE FROM {p}sign_in_failures WHERE key = ?", (key,))

    def forget_failures_before(self, moment: datetime) -> None:
        """Drops counts and locks that no longer matter (client addresses are not kept longer)."""
        self._execute(
            "DELETE FROM {p}sign_in_failures WHERE first_at < ? AND locked_until < ?",
            (_epoch(moment), _epoch(moment)))

    # ---- token use ------------------------------------------------------------------------

    def touch_token(self, token_id: UUID, now: datetime) -> None:
        at = _epoch(now)
        with self._touched_lock:
            # This process wrote it within the minute: no statement at all.
            if self._touched.get(token_id, float("-inf")) > at - TOUCH_EVERY.total_seconds():
                return
            if len(self._touched) > 10_000:
                self._touched.clear()
            self._touched[token_id] = at
        self._execute(
            "INSERT INTO {p}token_use AS u (token_id, last_used_at) VALUES (?, ?) "
            "ON CONFLICT (token_id) DO UPDATE SET last_used_at = excluded.last_used_at "
            "WHERE u.last_used_at < excluded.last_used_at",
            (str(token_id), at))

    def tokens_last_used(self) -> dict[UUID, datetime]:
        rows = self._execute("SELECT token_id, last_used_at FROM {p}token_use", commit=False)
        return {UUID(token_id): _moment(at) for token_id, at in rows}
