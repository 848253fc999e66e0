"""A process's connections to PostgreSQL shared by every district it serves.

Each district's store (interfaces.bootstrap.build) had pools of its own: the library's
datastore (pool size + 4), the case keys' (1–4), a listening connection for its views, and
with a standby the standby's datastore: about five connections a district held, a hundred
for twenty districts in one process. A connection serves any schema: the library and our
stores qualify every table by ``datastore.schema`` and rely on no ``search_path``; the
library configures every connection of a datastore alike (autocommit, its
idle-in-transaction timeout, dict rows), whatever the schema; the composite type it registers
per schema (its events' row type, sent as an array with each insert) is told apart per
schema here (SharedSchemaDatastore); psycopg prepares statements per connection by their text, and each
schema's texts differ (its least-recently-used 100 are kept: a connection serving many
districts prepares again what it evicted, no more). So one process holds:

- ``events``: one pool for every district's library datastore and our stores on it (views,
  Merkle log, audit index, sessions), made by the library itself (a datastore's pool, its
  connections configured as every datastore's), handed to each district's datastore in
  place of the one it made and never opened (``adopt``);
- ``case_keys``: one pool for every district's case keys (their connections are not in
  autocommit, unlike the library's, so they are not mixed with those);
- ``notices``: one listening connection for every district's views follower;
- ``replica``: with CARELEDGER_READ_DATABASE_URL, one pool to the standby likewise.

``CARELEDGER_POOL_SIZE`` is then the process's: the events pool keeps that many connections
and opens up to 4 more under load. Closing a district's store leaves the shared pools open;
the deployment closes them last (``close``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing.postgres import PostgresDatastore
from psycopg.adapt import PyFormat
from psycopg.types.composite import register_composite
from psycopg_pool import ConnectionPool

from infrastructure.database_probe import postgres_conninfo
from infrastructure.notice_hub import NoticeHub
from infrastructure.read_replica import replica_datastore
from infrastructure.settings import Settings

# The library's overflow over the pool size (infrastructure.settings.eventsourcing_env).
OVERFLOW = 4
# How long a thread waits for a connection of the events pool: the library's own (its connect
# timeout). Longer is not safer: the library retries a timed-out call up to ten times, so 30 s
# here let one /readyz or one verify child wait five minutes on an exhausted pool.
WAIT_SECONDS = 5.0
CASE_KEY_POOL = (1, 4)


class SharedPool:
    """A shared pool as a district's datastore holds it: everything the pool does, except
    that closing the district's store does not close it."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)

    def close(self, timeout: float = 5.0) -> None:
        """Nothing: the pool serves the other districts (SharedConnections.close closes it)."""

    # ``with datastore:`` (the library's factory passes its own to its datastore's pool) would
    # close the pool on leaving: a district's store never does that to the others'.
    def __enter__(self) -> SharedPool:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class SharedSchemaDatastore(PostgresDatastore):
    """A district's datastore on the shared pool. The library's insert sends the events as
    an array of its composite type ``stored_event_uuid``, which each schema defines with an
    oid of its own; psycopg picks the dumper (and so the oid) by the Python class of the
    value, and makes one class for every composite of that name and fields, whatever its
    schema: on a connection that served two schemas, the second's registration took over
    and the first's inserts were cast to the other schema's type, which PostgreSQL refuses.
    Here each schema's composite has a Python class of its own, registered on each
    connection once."""

    @contextmanager
    def get_connection(self) -> Iterator[Any]:
        with super().get_connection() as conn:
            for name, info in self.psycopg_type_adapters.items():
                own = self.psycopg_python_types[name]
                try:
                    registered = conn.adapters.get_dumper(own, PyFormat.BINARY).oid == info.oid
                except psycopg.ProgrammingError:  # no dumper for it or its base on this connection
                    registered = False
                if not registered:
                    register_composite(info, conn, factory=own)
            yield conn

    def register_type_adapters(self) -> None:
        super().register_type_adapters()
        for name, library in list(self.psycopg_python_types.items()):
            if not getattr(library, "_careledger_schema", None):
                # A subclass of the library's namedtuple: what its code builds and reads alike.
                self.psycopg_python_types[name] = type(
                    f"{library.__name__}_{self.schema}", (library,), {"__slots__": (), "_careledger_schema": self.schema})


class SharedConnections:
    def __init__(self, settings: Settings) -> None:
        env = settings.eventsourcing_env()
        # The library's datastore made once, for its pool: connections configured exactly as
        # each district's datastore would configure its own. Kept: a datastore collected
        # closes its pool.
        self._library = PostgresDatastore(
            dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"],
            connect_timeout=WAIT_SECONDS,
            # The library's default, which a district's datastore gets (our settings leave it).
            idle_in_transaction_session_timeout=int(env.get("POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT") or 5),
            pool_size=settings.pool_size, max_overflow=OVERFLOW, pre_ping=settings.database_pre_ping,
        )
        self.events = self._library.pool
        self.case_keys = ConnectionPool(postgres_conninfo(settings), min_size=CASE_KEY_POOL[0],
                                        max_size=CASE_KEY_POOL[1], open=False)
        self.notices = NoticeHub(postgres_conninfo(settings))
        self._replica = replica_datastore(settings) if settings.read_database_url else None
        self.replica = self._replica.pool if self._replica is not None else None
        self._opening = threading.Lock()

    def adopt(self, datastore: PostgresDatastore, *, replica: bool = False) -> SharedSchemaDatastore:
        """``datastore`` (a district's, or with ``replica`` its standby's), made again on the
        shared pool; its own pool, never opened (the library opens it at the first
        connection), is closed."""
        shared = self.replica if replica else self.events
        if shared is None:
            raise ValueError("no CARELEDGER_READ_DATABASE_URL")
        adopted = SharedSchemaDatastore.__new__(SharedSchemaDatastore)
        adopted.__dict__.update(vars(datastore))
        adopted.pool = SharedPool(shared)  # type: ignore[assignment]
        datastore.pool.close()
        return adopted

    def adopt_factory(self, factory: Any) -> None:
        """Ledger's ``infrastructure`` hook: before the library makes a recorder or a table."""
        factory.datastore = self.adopt(factory.datastore)

    def case_key_pool(self) -> ConnectionPool:
        with self._opening:
            self.case_keys.open()
        return self.case_keys

    def close(self) -> None:
        self.notices.close()
        for pool in (self.events, self.case_keys, self.replica):
            if pool is not None:
                pool.close()
