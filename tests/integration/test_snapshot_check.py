"""A snapshot rewritten in the store is caught by verify, though the log itself holds."""

from __future__ import annotations

import multiprocessing
import sqlite3
from typing import Any

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from infrastructure.database_probe import postgres_conninfo
from infrastructure.findings import Discrepancy, Verification
from infrastructure.merkle_store import merkle_store_for
from infrastructure.snapshot_check import snapshot_check
from infrastructure.verify import verify_log
from tests.district import Clock, District
from tests.e2e.test_cli import cli_env  # noqa: F401 — the fixture
from tests.integration.test_snapshots import EVERY, issue_history, snapshot_versions, snapshotting

runner = CliRunner()


def rewrite_snapshot(settings: Any, version: int, old: bytes, new: bytes) -> None:
    """As an intruder with write access to the database would: valid JSON, one value changed."""
    if settings.is_postgres:
        table = sql.Identifier(settings.database_schema, "careledger_snapshots")
        with psycopg.connect(postgres_conninfo(settings), autocommit=True) as conn:
            state = bytes(conn.execute(sql.SQL("SELECT state FROM {} WHERE originator_version = %s").format(table),
                                       (version,)).fetchone()[0])
            assert old in state
            conn.execute(sql.SQL("UPDATE {} SET state = %s WHERE originator_version = %s").format(table),
                         (state.replace(old, new), version))
        return
    with sqlite3.connect(settings.eventsourcing_env()["SQLITE_DBNAME"]) as conn:
        state = conn.execute("SELECT state FROM stored_snapshots WHERE originator_version = ?", (version,)).fetchone()[0]
        assert old in state
        conn.execute("UPDATE stored_snapshots SET state = ? WHERE originator_version = ?", (state.replace(old, new), version))


def verify(services: Any) -> Verification:
    services.merkle.catch_up()
    ledger = services.ledger
    return verify_log(ledger.recorder, merkle_store_for(ledger.factory.datastore), services.signer.public_key,
                      snapshots=snapshot_check(ledger))


def test_snapshots_that_match_their_events_pass(district: District, clock: Clock, services) -> None:  # type: ignore[no-untyped-def]
    snapshotting(district.ledger, EVERY)
    issue_history(district, clock)
    result = verify(services)
    assert result.intact, result.summary()


def test_a_rewritten_issue_snapshot_is_caught_though_the_log_holds(district: District, clock: Clock, services, settings) -> None:  # type: ignore[no-untyped-def]
    ledger = district.ledger
    snapshotting(ledger, EVERY)
    issue = issue_history(district, clock)
    target = snapshot_versions(ledger, issue)[-1]
    then = district.trail.history(issue)[target - 1]["recorded_at"]
    assert district.issues.issue(issue, as_of=then).status == "awaiting_closure"
    rewrite_snapshot(settings, target, b'"status":"completed"', b'"status":"open"')

    # What the forgery would show an inspector: the completed measures open again.
    assert district.issues.issue(issue, as_of=then).status == "rectifying"
    result = verify(services)
    assert not result.intact
    assert result.finding is not None and result.finding.kind == Discrepancy.SNAPSHOT_CHANGED
    assert str(issue) in result.finding.detail and f"version {target}" in result.finding.detail


def test_careledger_verify_fails_on_a_rewritten_snapshot(cli_env, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    from interfaces import bootstrap
    from interfaces.cli.main import app
    from tests.district import seed

    services = bootstrap.build(cli_env, clock=clock)
    try:
        district = seed(services)
        snapshotting(services.ledger, EVERY)
        issue = issue_history(district, clock, rounds=2)
        first = snapshot_versions(services.ledger, issue)[0]
        services.merkle.catch_up()
    finally:
        services.close()
    intact = runner.invoke(app, ["verify"])
    assert intact.exit_code == 0, intact.output

    rewrite_snapshot(cli_env, first, "加强法治宣传教育".encode(), "已全面落实到位的".encode())
    tampered = runner.invoke(app, ["verify"])
    assert tampered.exit_code == 1, tampered.output
    assert f"snapshot of aggregate {issue} at version {first}" in tampered.output


def verify_beside(services: Any) -> Verification:
    """As `careledger verify` does: on PostgreSQL the snapshots in a second process."""
    services.merkle.catch_up()
    return services.verify(processes=2)


def test_snapshots_checked_beside_the_walk_pass_when_they_match_and_catch_a_rewritten_one(  # type: ignore[no-untyped-def]
    district: District, clock: Clock, services, settings, monkeypatch,
) -> None:
    from infrastructure import snapshot_check as module

    ledger = district.ledger
    snapshotting(ledger, EVERY)
    issue = issue_history(district, clock)
    monkeypatch.setattr(module, "FORKED_FROM", 0)  # a second process for any snapshotted aggregate
    begun = snapshot_check(ledger, 2).begin()  # type: ignore[union-attr]
    assert (begun is not None) == settings.is_postgres
    if begun is not None:
        assert begun.result() is None
    result = verify_beside(services)
    assert result.intact, result.summary()

    target = snapshot_versions(ledger, issue)[-1]
    rewrite_snapshot(settings, target, b'"status":"completed"', b'"status":"open"')
    beside, alone = verify_beside(services), verify(services)
    assert beside.finding is not None and beside.finding == alone.finding
    assert beside.finding.kind == Discrepancy.SNAPSHOT_CHANGED and f"version {target}" in beside.finding.detail


def test_the_first_rewritten_snapshot_is_reported_whichever_process_checked_it(  # type: ignore[no-untyped-def]
    district: District, clock: Clock, services, settings, monkeypatch,
) -> None:
    import os
    import time

    from infrastructure import snapshot_check as module
    from infrastructure.snapshot_check import snapshotted_ids

    # An aggregate a claim: the child takes them from the first, this process from the last;
    # the child slowed, so that this process checks some (the last ones) after its walk.
    monkeypatch.setattr(module, "SHARED_CHUNK", 1)
    monkeypatch.setattr(module, "FORKED_FROM", 0)
    parent, check_chunk = os.getpid(), module._Stores.check_chunk

    def slow_in_the_child(self: Any, chunk: Any) -> Any:
        if os.getpid() != parent:
            time.sleep(0.3)
        return check_chunk(self, chunk)

    monkeypatch.setattr(module._Stores, "check_chunk", slow_in_the_child)
    ledger = district.ledger
    snapshotting(ledger, EVERY)
    issues = [issue_history(district, clock, seq=seq) for seq in (1, 2, 3)]
    target = snapshot_versions(ledger, issues[0])[-1]
    assert all(target in snapshot_versions(ledger, i) for i in issues)
    rewrite_snapshot_of_every(settings, target, b'"status":"completed"', b'"status":"open"')
    assert ledger.snapshots is not None
    first = next(i for i in snapshotted_ids(ledger.snapshots.recorder) if i in issues)
    for _ in range(3):
        result = verify_beside(services)
        assert result.finding is not None and f"aggregate {first} at version {target}" in result.finding.detail


@pytest.mark.parametrize("child", ["dies", "hangs"])
def test_a_second_process_that_dies_or_hangs_without_an_answer_leaves_the_check_to_this_one(  # type: ignore[no-untyped-def]
    district: District, clock: Clock, services, settings, monkeypatch, child: str,
) -> None:
    """A child killed, or one forked beside threads and waiting for ever on a lock one of
    them held at the fork: `careledger verify` still ends, with the finding."""
    import os
    import threading

    from infrastructure import snapshot_check as module

    if not settings.is_postgres:
        return  # SQLite checks in one process
    monkeypatch.setattr(module, "FORKED_FROM", 0)
    monkeypatch.setattr(module, "STALLED_SECONDS", 1.0)
    monkeypatch.setattr(module, "_child", (lambda *args: os._exit(9)) if child == "dies"
                        else (lambda *args: threading.Event().wait()))
    ledger = district.ledger
    snapshotting(ledger, EVERY)
    issue = issue_history(district, clock)
    target = snapshot_versions(ledger, issue)[-1]
    rewrite_snapshot(settings, target, b'"status":"completed"', b'"status":"open"')
    result = verify_beside(services)
    assert result.finding is not None and result.finding.kind == Discrepancy.SNAPSHOT_CHANGED
    assert f"aggregate {issue} at version {target}" in result.finding.detail
    assert multiprocessing.active_children() == []


def rewrite_snapshot_of_every(settings: Any, version: int, old: bytes, new: bytes) -> None:
    """``rewrite_snapshot`` of every aggregate's snapshot at ``version``."""
    if settings.is_postgres:
        table = sql.Identifier(settings.database_schema, "careledger_snapshots")
        with psycopg.connect(postgres_conninfo(settings), autocommit=True) as conn:
            rows = conn.execute(sql.SQL("SELECT originator_id, state FROM {} WHERE originator_version = %s")
                                .format(table), (version,)).fetchall()
            for originator_id, state in rows:
                assert old in bytes(state)
                conn.execute(sql.SQL("UPDATE {} SET state = %s WHERE originator_id = %s AND originator_version = %s")
                             .format(table), (bytes(state).replace(old, new), originator_id, version))
        return
    with sqlite3.connect(settings.eventsourcing_env()["SQLITE_DBNAME"]) as conn:
        rows = conn.execute("SELECT originator_id, state FROM stored_snapshots WHERE originator_version = ?",
                            (version,)).fetchall()
        for originator_id, state in rows:
            assert old in state
            conn.execute("UPDATE stored_snapshots SET state = ? WHERE originator_id = ? AND originator_version = ?",
                         (state.replace(old, new), originator_id, version))


def test_a_changed_event_is_reported_before_any_snapshot_and_the_second_process_is_ended(  # type: ignore[no-untyped-def]
    district: District, clock: Clock, services, settings, monkeypatch,
) -> None:
    from infrastructure import snapshot_check as module

    if not settings.is_postgres:
        return  # SQLite checks in one process
    monkeypatch.setattr(module, "FORKED_FROM", 0)
    ledger = district.ledger
    snapshotting(ledger, EVERY)
    issue = issue_history(district, clock)
    rewrite_snapshot(settings, snapshot_versions(ledger, issue)[-1], b'"status":"completed"', b'"status":"open"')
    services.merkle.catch_up()
    table = sql.Identifier(settings.database_schema, "careledger_events")
    with psycopg.connect(postgres_conninfo(settings), autocommit=True) as conn:
        first = conn.execute(sql.SQL("SELECT min(notification_id) FROM {}").format(table)).fetchone()[0]
        conn.execute(sql.SQL("UPDATE {} SET state = state || ' '::bytea WHERE notification_id = %s").format(table),
                     (first,))
    result = services.verify(processes=2)
    assert result.finding is not None and result.finding.kind == Discrepancy.EVENT_CHANGED
    assert result.finding.position == first
    assert multiprocessing.active_children() == []
