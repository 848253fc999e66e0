"""Reads sent to a PostgreSQL hot standby (``CARELEDGER_READ_DATABASE_URL``), with the
primary as the fallback.

Streaming replication copies every table, so the standby holds the views, the audit index
and the Merkle log as the primary's followers wrote them, a moment later. A read that needs
a position (read-your-writes: ``min_position``, a page after its reader's write) is answered
by the standby only once the standby's copy has reached that position; it waits for that
up to ``CARELEDGER_READ_REPLICA_WAIT_SECONDS`` and then reads the primary. A standby that
fails a read (stopped, unreachable) is left alone for
``CARELEDGER_READ_REPLICA_RETRY_SECONDS``, its reads going to the primary meanwhile; a query
it cancels for a conflict with replay is answered by the primary alone.
Writes, and the followers that fold the log, only ever use the primary.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from eventsourcing.persistence import PersistenceError
from eventsourcing.postgres import PostgresDatastore

from infrastructure.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

# What a standby's read can fail with: the library wraps psycopg's errors (a pool that cannot
# connect times out as an OperationalError); raw psycopg errors come from connections used directly.
REPLICA_FAILURES = (PersistenceError, psycopg.Error)


def replica_datastore(settings: Settings) -> PostgresDatastore:
    """A pool of connections to the standby, in the same schema as the primary's tables.
    Short connect timeout: a standby that does not answer costs a read that long once, then
    the primary answers until the retry interval has passed."""
    if not settings.read_database_url:
        raise ValueError("no CARELEDGER_READ_DATABASE_URL")
    if not settings.is_postgres:
        raise ValueError("CARELEDGER_READ_DATABASE_URL needs a PostgreSQL CARELEDGER_DATABASE_URL")
    env = settings.model_copy(update={"database_url": settings.read_database_url}).eventsourcing_env()
    if env["PERSISTENCE_MODULE"] != "eventsourcing.postgres":
        raise ValueError("CARELEDGER_READ_DATABASE_URL must be postgresql://…")
    return PostgresDatastore(
        dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"], schema=settings.database_schema,
        pool_size=settings.pool_size, max_overflow=4, connect_timeout=2, pre_ping=settings.database_pre_ping,
        # A standby's query conflicting with replay is cancelled by the server; none is long.
        idle_in_transaction_session_timeout=5,
    )


def _cancelled_by_replay(error: BaseException) -> bool:
    """A standby cancels a query that conflicts with replay as a serialization failure
    (SQLSTATE 40001); the library raises it wrapped."""
    cause = error if isinstance(error, psycopg.Error) else error.__cause__
    return getattr(cause, "sqlstate", None) == "40001"


class ReadRouter:
    """Chooses, read by read, between the standby and the primary, and counts the choices."""

    def __init__(self, datastore: PostgresDatastore, *, wait_seconds: float, retry_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.datastore = datastore
        self.wait_seconds = wait_seconds
        self.retry_seconds = retry_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._down_until = 0.0
        self.last_failure: str | None = None
        # Reads answered by the standby, by the primary because the standby had not reached
        # the position asked within the wait, and by the primary because the standby failed
        # or was resting after a failure.
        self.reads = {"replica": 0, "behind": 0, "down": 0}

    def available(self) -> bool:
        return self._clock() >= self._down_until

    def failed(self, error: BaseException) -> None:
        if _cancelled_by_replay(error):
            # The standby is up: replay cancelled this one query (a row it read was vacuumed
            # on the primary). This read goes to the primary; the next is tried here again.
            logger.info("read replica query cancelled by replay; this read goes to the primary")
            return
        with self._lock:
            self._down_until = self._clock() + self.retry_seconds
            self.last_failure = type(error).__name__
        logger.warning("read replica failed, reading the primary for %.0f s: %s", self.retry_seconds, error)

    def _count(self, outcome: str) -> None:
        with self._lock:
            self.reads[outcome] += 1

    def reached(self, ready: Callable[[], bool], *, wait: bool) -> bool:
        """Whether ``ready()`` (a look at the standby) holds, asked again until the wait ends
        when ``wait``. Raises what the standby fails with."""
        deadline = self._clock() + (self.wait_seconds if wait else 0.0)
        delay = 0.005
        while not ready():
            if self._clock() >= deadline:
                return False
            time.sleep(min(delay, max(0.0, deadline - self._clock())))
            delay = min(delay * 2, 0.1)
        return True

    def settle(self, ready: Callable[[], bool]) -> None:
        """Waits (up to the wait) for ``ready()`` on the standby, so that the reads that
        follow find it there; a failure rests the standby, the reads then go to the primary."""
        if not self.available():
            return
        try:
            self.reached(ready, wait=True)
        except REPLICA_FAILURES as error:
            self.failed(error)

    def read(self, ready: Callable[[], bool], on_replica: Callable[[], T], on_primary: Callable[[], T],
             *, wait: bool = False) -> T:
        """``on_replica()`` when the standby is up and ``ready()`` (waited for when ``wait``),
        else, or when the standby fails meanwhile, ``on_primary()``."""
        if not self.available():
            self._count("down")
            return on_primary()
        try:
            if self.reached(ready, wait=wait):
                answer = on_replica()
                self._count("replica")
                return answer
            self._count("behind")
        except REPLICA_FAILURES as error:
            self.failed(error)
            self._count("down")
        return on_primary()

    def probe(self) -> dict[str, Any]:
        """One look at the standby for /readyz; while it rests after a failure, that failure
        (readiness answers at once rather than after a connect timeout)."""
        if not self.available():
            return {"state": "down", "reason": self.last_failure}
        try:
            with self.datastore.get_connection() as conn, conn.cursor() as cursor:
                row = cursor.execute("SELECT pg_is_in_recovery() AS standby").fetchone()
        except REPLICA_FAILURES as error:
            self.failed(error)
            return {"state": "down", "reason": type(error).__name__}
        return {"state": "up", "standby": bool(row and row["standby"])}

    def close(self) -> None:
        self.datastore.close()
