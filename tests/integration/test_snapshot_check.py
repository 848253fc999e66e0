"""A snapshot rewritten in the store is caught by verify, though the log itself holds."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
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
