"""The composition root: the only place that builds applications and stores from settings."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool

from application.accounts import Accounts, Throttle
from application.ledger import Ledger
from application.personal_data import CaseKeys
from infrastructure.access_store import PostgresAccessStore, SQLiteAccessStore
from infrastructure.audit_store import PostgresAuditStore, SQLiteAuditStore
from infrastructure.case_keys import PostgresCaseKeys, SQLiteCaseKeys, load_master_key
from infrastructure.database_probe import START_WAIT_SECONDS, check_database, wait_for_database
from infrastructure.idempotency_key import HmacFingerprintKey, load_idempotency_key
from infrastructure.merkle_store import merkle_store_for
from infrastructure.settings import Settings
from infrastructure.signing import TreeHeadSigner
from infrastructure.view_runner import Views, build_views
from projections.audit_index import AuditIndexProjection
from projections.merkle_log import MerkleLogProjection, MerkleLogRunner
from projections.merkle_proofs import MerkleLogReader


@dataclass
class Services:
    settings: Settings
    ledger: Ledger
    views: Views
    signer: TreeHeadSigner
    merkle: MerkleLogProjection
    merkle_reader: MerkleLogReader
    audit: AuditIndexProjection
    accounts: Accounts
    closers: list[Callable[[], Any]] = field(default_factory=list)

    def start_followers(self) -> None:
        """Background catch-up for a serving process; tests drive the projections by hand.
        Nothing to start when a separate `careledger project` process follows the log."""
        self.views.warm()
        if follows_externally(self.settings):
            return
        self.views.start()
        runner = MerkleLogRunner(self.merkle).start()
        self.closers.append(runner.stop)

    def close(self) -> None:
        for close in reversed(self.closers):
            close()
        self.ledger.close()


def follows_externally(settings: Settings) -> bool:
    """True when `careledger project` keeps the views, Merkle log and audit index (PostgreSQL)."""
    return settings.is_postgres and settings.followers == "external"


def run_followers(settings: Settings, stopping: threading.Event, *, interval: float = 0.5) -> None:
    """`careledger project`: keeps the views (the library's subscription runner on PostgreSQL,
    the pull thread on SQLite), the Merkle log and the audit index caught up until
    ``stopping`` is set. Every follower resumes from the position it stored with its last
    batch, so a process killed at any point starts again where it stopped. A follower's
    error ends the process (raised here), to be restarted by its supervisor."""
    from infrastructure.view_runner import subscription_runner

    log = structlog.get_logger("careledger.project")
    # Restarted by its supervisor while the database restarts, it waits for it, as API workers do.
    wait_for_database(settings, START_WAIT_SECONDS,
                      retrying=lambda unavailable: log.warning("database_unavailable_at_start", reason=unavailable.line))
    with ExitStack() as stack:
        services = build(settings)
        stack.callback(services.close)
        views_runner = stack.enter_context(subscription_runner(settings)) if settings.is_postgres else None
        if views_runner is None:
            services.views.start(interval=interval)
        merkle_runner = MerkleLogRunner(services.merkle, interval=interval).start()
        stack.callback(merkle_runner.stop)
        log.info("followers_started", backend="postgresql" if settings.is_postgres else "sqlite")
        while not stopping.is_set():
            services.audit.catch_up()
            if services.views.error is not None:
                raise services.views.error
            if merkle_runner.error is not None:
                raise merkle_runner.error
            if views_runner is not None:
                views_runner.run_forever(timeout=interval)  # raises the runner's error, if any
                if views_runner.is_interrupted.is_set() and not stopping.is_set():
                    raise RuntimeError("the views runner stopped")
            else:
                stopping.wait(interval)
        log.info("followers_stopping")


def postgres_conninfo(settings: Settings, *, connect_timeout: int = 5) -> str:
    # Quoted by psycopg: spliced in as text, an empty password swallowed the next parameter
    # (libpq reads `password= connect_timeout=5` as the password "connect_timeout=5"), so
    # connections to a stopped server waited psycopg's default 130 s instead of 5.
    env = settings.eventsourcing_env()
    return make_conninfo(
        host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"], dbname=env["POSTGRES_DBNAME"],
        user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"], connect_timeout=connect_timeout,
    )


def build_case_keys(settings: Settings, closers: list[Callable[[], Any]]) -> CaseKeys:
    master = load_master_key(settings.data_key_file)
    if settings.is_postgres:
        pool = ConnectionPool(postgres_conninfo(settings), min_size=1, max_size=4, open=True)
        closers.append(pool.close)
        # Off in API workers, like the library's tables: they start without touching the database.
        return PostgresCaseKeys(pool, master, schema=settings.database_schema, create_table=settings.create_tables)
    return SQLiteCaseKeys(settings.eventsourcing_env()["SQLITE_DBNAME"], master)


def build(settings: Settings | None = None, *, clock: Callable[[], datetime] | None = None) -> Services:
    settings = settings or Settings()
    check_database(settings)  # a wrong URL fails here at once, not as a pool timeout
    closers: list[Callable[[], Any]] = []
    ledger = Ledger(
        settings.eventsourcing_env(), clock=clock, case_keys=build_case_keys(settings, closers),
        fingerprint_key=HmacFingerprintKey(load_idempotency_key(settings.idempotency_key_file)),
        token_days=settings.token_days,
    )
    views = build_views(ledger, settings, pulls=not follows_externally(settings))
    closers.append(views.stop)
    datastore = ledger.factory.datastore  # type: ignore[attr-defined]
    merkle_store = merkle_store_for(datastore)
    audit_store = PostgresAuditStore(datastore) if settings.is_postgres else SQLiteAuditStore(datastore)
    access_store = PostgresAccessStore(datastore) if settings.is_postgres else SQLiteAccessStore(datastore)
    if settings.create_tables:
        merkle_store.create_tables()
        audit_store.create_tables()
        access_store.create_tables()
    accounts = Accounts(
        ledger, access_store, session_idle=timedelta(minutes=settings.session_idle_minutes),
        session_lifetime=timedelta(hours=settings.session_hours),
        throttle=Throttle(settings.sign_in_failures, timedelta(minutes=settings.sign_in_lock_minutes)),
    )
    signer = TreeHeadSigner.load_or_create(settings.signing_key_file)
    merkle = MerkleLogProjection(ledger.recorder, merkle_store, sign=signer.sign)
    audit = AuditIndexProjection(
        lambda start, limit: ledger.recorder.select_notifications(start, limit),
        ledger.mapper.to_domain_event, audit_store,
    )
    return Services(
        settings=settings, ledger=ledger, views=views, signer=signer, merkle=merkle,
        merkle_reader=MerkleLogReader(merkle_store), audit=audit, accounts=accounts, closers=closers,
    )
