"""A serving process's views and Merkle log followers meet a real failure and come back by
themselves, folding once what was written meanwhile; `careledger project`'s stop at the first
error (the roll-up's: tests/integration/test_rollup.py)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from infrastructure.settings import Settings
from infrastructure.view_runner import pull
from interfaces import bootstrap
from interfaces.http.app import create_app
from projections.views import LedgerViews
from tests.district import District
from tests.integration.test_operations import metric
from tests.integration.test_views import fresh_store, new_issue
from tests.serving import until


@contextmanager
def tables_away(settings: Settings, *tables: str) -> Iterator[None]:
    """The ``tables`` renamed away from another connection for the block, then back."""
    if settings.is_postgres:
        conn: Any = psycopg.connect(settings.database_url, autocommit=True)
        where = f'"{settings.database_schema}".'
    else:
        conn = sqlite3.connect(settings.eventsourcing_env()["SQLITE_DBNAME"], timeout=30, isolation_level=None)
        where = ""
    try:
        for table in tables:
            conn.execute(f"ALTER TABLE {where}{table} RENAME TO {table}_away")
        try:
            yield
        finally:
            for table in tables:
                conn.execute(f"ALTER TABLE {where}{table}_away RENAME TO {table}")
    finally:
        conn.close()


def test_a_serving_processs_views_and_merkle_log_retry_after_an_error_and_fold_what_was_written_meanwhile_once(
    backend: str, services: bootstrap.Services, district: District,
) -> None:
    ledger, views = services.ledger, services.views
    views.following.first, views.following.most = 0.05, 0.2
    services.start_followers()  # as `careledger serve` starts them (interfaces.deployment)
    runner = services.merkle_runner
    assert runner is not None
    runner.retrying.first, runner.retrying.most = 0.05, 0.2
    with TestClient(create_app(services=services), raise_server_exceptions=False) as client:
        new_issue(district)
        end = ledger.recorder.max_notification_id()

        def caught_up() -> bool:
            return views.has_processed(end) and services.merkle.store.progress().position == end

        assert until(caught_up), (views.follower_status(), runner.status())
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["views"]["state"] == "following" and ready.json()["merkle_log"]["state"] == "following"
        # The tables both followers read their positions from gone, for a while.
        with tables_away(services.settings, "view_tracking", "merkle_tracking"):
            assert until(lambda: views.following.failures >= 2 and runner.retrying.failures >= 2), (
                views.follower_status(), runner.status())
            failing = client.get("/readyz")
            assert failing.status_code == 503, failing.text
            body = failing.json()
            assert body["rule"] == "views_failing", body
            assert body["views"]["state"] == "failing" and body["views"]["failures"] >= 2, body
            assert body["views"]["error"] == type(views.following.error).__name__ and body["views"]["failing_since"]
            assert runner.status()["state"] == "failing" and views.error is None and runner.error is None
            # Scraped from a private address (the test client's own is not one: 404).
            with TestClient(create_app(services=services), client=("127.0.0.1", 50000)) as scraper:
                scraped = scraper.get("/metrics").text
            assert metric(scraped, "careledger_follower_failing_rounds", follower="views") >= 2, scraped
            assert metric(scraped, "careledger_follower_failing_rounds", follower="merkle_log") >= 2, scraped
            new_issue(district)  # written while both fail
            new_issue(district)
            end = ledger.recorder.max_notification_id()
        assert until(caught_up), (views.follower_status(), runner.status())
        assert until(lambda: client.get("/readyz").status_code == 200)
        recovered = client.get("/readyz").json()
        assert recovered["views"]["state"] == "following" and "error" not in recovered["views"], recovered
        assert recovered["merkle_log"]["state"] == "following" and "error" not in recovered["merkle_log"], recovered
        assert views.following.failures == 0 and runner.retrying.failures == 0
        if backend == "postgres":
            # Every connection of the followers cut, the one listening for commits included.
            before = views.listening.status()["listening_since"]
            with psycopg.connect(services.settings.database_url, autocommit=True) as conn:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            assert until(lambda: views.listening.status()["listening_since"] != before), views.follower_status()
            new_issue(district)
            end = ledger.recorder.max_notification_id()
            assert until(caught_up), (views.follower_status(), runner.status())
            assert until(lambda: client.get("/readyz").status_code == 200)
            assert client.get("/readyz").json()["views"]["listening"]["state"] == "following"
    # Exactly once: the views as a fold of the whole log from nothing, every event one leaf.
    clean = fresh_store(ledger, "clean")
    pull(ledger, LedgerViews(view=clean))
    assert views.summaries() == clean.all_summaries()
    checked = services.verify()
    assert checked.intact and checked.unlogged_events == 0, checked.summary()
    assert services.merkle.store.progress().tree_size == checked.events_checked


@pytest.mark.parametrize("table", ["view_tracking", "merkle_tracking"])
def test_careledger_project_still_ends_at_the_first_error_of_the_views_or_the_merkle_log(
    services: bootstrap.Services, district: District, table: str,
) -> None:
    stopping = threading.Event()
    failed: list[BaseException] = []

    def project() -> None:
        try:
            bootstrap.run_followers(services.settings, stopping, interval=0.05)
        except BaseException as error:  # noqa: BLE001 — the assertion below reads it
            failed.append(error)

    new_issue(district)
    end = services.ledger.recorder.max_notification_id()
    follows = threading.Thread(target=project)
    follows.start()
    try:
        assert until(lambda: services.views.has_processed(end) and services.merkle.store.progress().position == end)
        with tables_away(services.settings, table):
            follows.join(timeout=60)  # it ends by itself, or the assertion below says it did not
        assert not follows.is_alive() and len(failed) == 1, failed
        assert table in str(failed[0]), failed
    finally:
        stopping.set()
        follows.join(timeout=30)
