"""The composition root: the only place that builds applications and stores from settings."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from psycopg_pool import ConnectionPool

from application.accounts import Accounts
from application.audit import AuditTrail
from application.cases import Cases
from application.commands import CommandRunner
from application.evidence import Evidence
from application.identity import Identity
from application.issues import Issues
from application.ledger import Ledger
from application.ports import HeldUploads
from application.registry import Registry
from application.sessions import Sessions, Throttle
from infrastructure.access_store import AccessStore
from infrastructure.audit_store import AuditStore
from infrastructure.case_keys import PostgresCaseKeys, SQLiteCaseKeys, load_master_key
from infrastructure.database_probe import START_WAIT_SECONDS, check_database, postgres_conninfo, wait_for_database
from infrastructure.evidence_files import EvidenceFiles
from infrastructure.findings import Verification
from infrastructure.held_uploads import HeldUploadFiles
from infrastructure.idempotency_key import HmacFingerprintKey, load_idempotency_key
from infrastructure.keyring import Keyring
from infrastructure.merkle_runner import MerkleLogRunner
from infrastructure.merkle_store import MerkleStore, merkle_store_for
from infrastructure.read_replica import ReadRouter, replica_datastore
from infrastructure.replica_stores import RoutedAuditStore, RoutedMerkleStore
from infrastructure.replica_views import RoutedViews, replica_views
from infrastructure.sealing import CaseKeySeals
from infrastructure.settings import Settings
from infrastructure.shared_pools import SharedConnections
from infrastructure.signing import TreeHeadSigner
from infrastructure.snapshot_check import snapshot_check
from infrastructure.verify import verify_log
from infrastructure.view_runner import Views, build_views
from projections.audit_index import AuditIndexProjection
from projections.merkle_log import MerkleLogProjection, TreeHead
from projections.merkle_proofs import MerkleLogReader


@dataclass
class Services:
    settings: Settings
    ledger: Ledger
    # The keys themselves, for `careledger rotate-data-key`; commands seal through ledger.seals.
    case_keys: SQLiteCaseKeys | PostgresCaseKeys
    runner: CommandRunner
    registry: Registry
    identity: Identity
    accounts: Accounts
    sessions: Sessions
    issues: Issues
    cases: Cases
    evidence: Evidence
    trail: AuditTrail
    # With CARELEDGER_READ_DATABASE_URL, RoutedViews: answers from the standby, following on the primary.
    views: Views | RoutedViews
    signer: TreeHeadSigner
    merkle: MerkleLogProjection
    merkle_reader: MerkleLogReader
    audit: AuditIndexProjection
    # Problem lists previewed on a page, kept until confirmed (interfaces.web.plan_forms).
    held_uploads: HeldUploads
    # The standby the views, the audit index and the proofs are read from (None: no replica).
    read_replica: ReadRouter | None = None
    # The district's code when one deployment serves several (interfaces.deployment); None for
    # the deployment's own schema (a lone district, or the province).
    district: str | None = None
    closers: list[Callable[[], Any]] = field(default_factory=list)
    # The Merkle log's thread when this process keeps the log (start_followers), for /readyz.
    merkle_runner: MerkleLogRunner | None = None

    def start_followers(self) -> None:
        """Background catch-up for a serving process; tests drive the projections by hand.
        Nothing to start when a separate `careledger project` process follows the log. Its
        followers try again after an error (infrastructure.retrying): the process goes on
        serving, and /readyz says they fail."""
        self.views.warm()
        if follows_externally(self.settings):
            return
        self.views.start(retry=True)
        self.merkle_runner = MerkleLogRunner(self.merkle, retry=True).start()
        self.closers.append(self.merkle_runner.stop)

    def verify(
        self, *, retired_public_keys: list[Path] | None = None, outside_head: TreeHead | None = None,
        on_progress: Callable[[int], None] | None = None, processes: int = 1,
    ) -> Verification:
        """The whole log checked against its Merkle leaves, signed tree heads and snapshots:
        the dashboard's check and `careledger verify` are this one. ``processes=2`` (the
        command line; a serving process is not forked): on PostgreSQL the snapshots are
        checked in a second process while the log is walked."""
        keys = Keyring.load(self.settings.signing_key_file, retired_public_keys or self.settings.retired_public_keys)
        return verify_log(self.ledger.recorder, self.merkle.store, keys, outside_head=outside_head,
                          on_progress=on_progress, snapshots=snapshot_check(self.ledger, processes))

    def close(self) -> None:
        for close in reversed(self.closers):
            close()


def follows_externally(settings: Settings) -> bool:
    """True when `careledger project` keeps the views, Merkle log and audit index (PostgreSQL)."""
    return settings.is_postgres and settings.followers == "external"


def run_followers(
    settings: Settings, stopping: threading.Event, *, interval: float = 0.5, reread_seconds: float | None = None,
) -> None:
    """`careledger project`: keeps the views (woken by each commit on PostgreSQL, folding in
    batches: infrastructure.view_runner.Views.start), the Merkle log, the audit index and the
    province's roll-up caught up until ``stopping`` is set, for every district registered,
    one registered meanwhile included (the districts table read again every few seconds:
    interfaces.deployment.Deployment.refresh). Every follower resumes from the position it
    stored with its last batch, so a process killed at any point starts again where it
    stopped. A follower's error ends the process (raised here), to be restarted by its
    supervisor: the roll-up's too (a serving process's followers retry instead).
    ``reread_seconds``: how often the districts table is read (default the deployment's)."""
    log = structlog.get_logger("careledger.project")
    # Restarted by its supervisor while the database restarts, it waits for it, as API workers do.
    wait_for_database(settings, START_WAIT_SECONDS,
                      retrying=lambda unavailable: log.warning("database_unavailable_at_start", reason=unavailable.line))
    from interfaces.deployment import build_deployment  # it builds on this module

    with ExitStack() as stack:
        deployment = build_deployment(settings)
        stack.callback(deployment.close)
        if reread_seconds is not None:
            deployment.reread_seconds = reread_seconds
        # Every district's followers in this one process: one view thread and one Merkle
        # thread per district, and the audit indexes caught up in turn.
        followed: list[tuple[Services, MerkleLogRunner]] = []

        def follow(services: Services) -> None:
            # Retry off: the first error ends the process, for its supervisor to restart.
            services.views.start(interval=interval, retry=False)
            runner = MerkleLogRunner(services.merkle, interval=interval, retry=False).start()
            # Stopped with the district's store: also when a district picked up meanwhile is
            # closed because the rest of its adoption failed (tried again later, followed anew).
            services.closers.append(runner.stop)
            followed.append((services, runner))

        for services in deployment.every():
            follow(services)
        deployment.on_added = follow
        # The province's roll-up: one thread over every district's log (deployment.close stops it).
        deployment.start_rollup = lambda follower: follower.start(interval=interval, retry=False)
        if deployment.rollup is not None:
            deployment.start_rollup(deployment.rollup.follower)
        log.info("followers_started", backend="postgresql" if settings.is_postgres else "sqlite",
                 districts=len(deployment.districts))
        while not stopping.is_set():
            for code in deployment.refresh():
                log.info("district_followed", district=code)
            rollup = deployment.rollup
            if rollup is not None and rollup.follower.error is not None:
                raise rollup.follower.error
            # A district whose adoption failed after its followers started was closed: not followed.
            served = {id(services) for services in deployment.every()}
            followed[:] = [(services, runner) for services, runner in followed if id(services) in served]
            for services, merkle_runner in followed:
                services.audit.catch_up()
                if services.views.error is not None:
                    raise services.views.error
                if merkle_runner.error is not None:
                    raise merkle_runner.error
            stopping.wait(interval)
        log.info("followers_stopping")


def build_case_keys(
    settings: Settings, closers: list[Callable[[], Any]], shared: SharedConnections | None = None,
) -> SQLiteCaseKeys | PostgresCaseKeys:
    master = load_master_key(settings.data_key_file)
    if settings.is_postgres:
        if shared is not None:
            pool = shared.case_key_pool()  # closed by the deployment, after every district
        else:
            pool = ConnectionPool(postgres_conninfo(settings), min_size=1, max_size=4, open=True)
            closers.append(pool.close)
        # Off in API workers, like the library's tables: they start without touching the database.
        return PostgresCaseKeys(pool, master, schema=settings.database_schema, create_table=settings.create_tables)
    return SQLiteCaseKeys(settings.eventsourcing_env()["SQLITE_DBNAME"], master)


def build(
    settings: Settings | None = None, *, clock: Callable[[], datetime] | None = None, district: str | None = None,
    shared: SharedConnections | None = None,
) -> Services:
    """Everything of one store. ``district``: the code of a district of a deployment of several
    (its settings name its schema and keys: interfaces.deployment), which begins its
    credentials. ``shared``: the process's connections, shared by every store of such a
    deployment (infrastructure.shared_pools); None: the store's own pools (a lone store)."""
    settings = settings or Settings()
    check_database(settings)  # a wrong URL fails here at once, not as a pool timeout
    closers: list[Callable[[], Any]] = []
    try:
        return _assemble(settings, clock, district, shared, closers)
    except BaseException:
        # A district picked up while running is built again at the next read of the districts
        # table: what a failed build opened (pools, threads) is closed, not left to pile up.
        for close in reversed(closers):
            try:
                close()
            except Exception:  # noqa: BLE001 — the build's own error is the one to raise
                structlog.get_logger("careledger").warning("close_after_failed_build_failed", exc_info=True)
        raise


def _assemble(settings: Settings, clock: Callable[[], datetime] | None, district: str | None,
              shared: SharedConnections | None, closers: list[Callable[[], Any]]) -> Services:
    case_keys = build_case_keys(settings, closers, shared)
    ledger = Ledger(settings.eventsourcing_env(), clock=clock, seals=CaseKeySeals(case_keys),
                    infrastructure=shared.adopt_factory if shared is not None else None)
    closers.append(ledger.close)  # its pool, closed after everything that uses it (closers run last first)
    runner = CommandRunner(ledger, HmacFingerprintKey(load_idempotency_key(settings.idempotency_key_file)))
    closers.append(runner.close)  # before the ledger's store closes under its reading thread
    registry = Registry(runner)
    identity = Identity(ledger, token_days=settings.token_days, credential_prefix=f"{district}." if district else "")
    trail = AuditTrail(ledger)
    primary_views = build_views(ledger, settings, pulls=not follows_externally(settings),
                                notices=shared.notices if shared is not None else None)
    closers.append(primary_views.stop)
    datastore = ledger.factory.datastore  # type: ignore[attr-defined]
    merkle_store = merkle_store_for(datastore)
    audit_store = AuditStore(datastore)
    access_store = AccessStore(datastore)
    if settings.create_tables:
        merkle_store.create_tables()
        audit_store.create_tables()
        access_store.create_tables()
    views: Views | RoutedViews = primary_views
    read_replica, audit_reads, merkle_reads = None, audit_store, merkle_store
    if settings.read_database_url:
        # The standby's copies of the same tables, read only (nothing is created there).
        standby = replica_datastore(settings)
        if shared is not None:
            standby = shared.adopt(standby, replica=True)
        read_replica = ReadRouter(standby, wait_seconds=settings.read_replica_wait_seconds,
                                  retry_seconds=settings.read_replica_retry_seconds)
        closers.append(read_replica.close)
        views = RoutedViews(primary_views, replica_views(primary_views, read_replica), read_replica)
        audit_reads = RoutedAuditStore(audit_store, AuditStore(read_replica.datastore), read_replica)
        merkle_reads = RoutedMerkleStore(merkle_store, MerkleStore(read_replica.datastore), read_replica)
    accounts = Accounts(runner, identity, registry, access_store)
    sessions = Sessions(
        runner, identity, access_store, session_idle=timedelta(minutes=settings.session_idle_minutes),
        session_lifetime=timedelta(hours=settings.session_hours),
        throttle=Throttle(settings.sign_in_failures, timedelta(minutes=settings.sign_in_lock_minutes)),
    )
    signer = TreeHeadSigner.load_or_create(settings.signing_key_file)
    merkle = MerkleLogProjection(ledger.recorder, merkle_store, sign=signer.sign)
    audit = AuditIndexProjection(
        lambda start, limit: ledger.recorder.select_notifications(start, limit),
        ledger.mapper.to_domain_event, audit_reads,
    )
    cases = Cases(runner, registry, trail)
    evidence = Evidence(ledger, cases, case_keys.get, EvidenceFiles(settings.evidence_dir),
                        max_bytes=settings.evidence_max_bytes)
    return Services(
        settings=settings, ledger=ledger, case_keys=case_keys, runner=runner, registry=registry, identity=identity,
        accounts=accounts, sessions=sessions, issues=Issues(runner, registry, trail), cases=cases, evidence=evidence,
        trail=trail, views=views, signer=signer, merkle=merkle, merkle_reader=MerkleLogReader(merkle_reads),
        audit=audit, held_uploads=HeldUploadFiles(settings.evidence_dir), read_replica=read_replica, district=district,
        closers=closers,
    )
