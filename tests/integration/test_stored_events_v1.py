"""Events are a contract with everything stored before: a ledger written by earlier code
(tests/fixtures/events_v1, on both backends) still loads, replays, projects and verifies."""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from infrastructure.settings import Settings
from interfaces import bootstrap
from interfaces.cli.main import app as cli
from interfaces.http.app import create_app
from tests.events import stored_event_topics
from tests.fixtures.make_events_v1 import HERE, SCHEMA, key_files, postgres_settings, sqlite_settings

MANIFEST = json.loads((HERE / "manifest.json").read_text())
runner = CliRunner()


def restore_dump(db_url: str, schema: str) -> None:
    """Plays the plain-SQL dump into ``schema``: psql's meta-commands left out, the schema renamed."""
    text = (HERE / "ledger.postgres.sql").read_text()
    statements = "\n".join(line for line in text.splitlines() if not line.startswith("\\"))
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(statements.replace(SCHEMA, schema).encode())


@pytest.fixture
def stored(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """A copy of the fixture: the key files (0600, as the server keeps them) and the database."""
    for path in key_files(HERE).values():
        shutil.copyfile(path, tmp_path / path.name)
        (tmp_path / path.name).chmod(0o600)
    if backend == "sqlite":
        shutil.copyfile(HERE / "ledger.sqlite", tmp_path / "ledger.sqlite")
        yield sqlite_settings(tmp_path)
        return
    db_url = request.getfixturevalue("postgres_database")
    schema = f"v1_{secrets.token_hex(6)}"
    restore_dump(db_url, schema)
    try:
        yield postgres_settings(tmp_path, db_url, schema)
    finally:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def cli_env(stored: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("CARELEDGER_DATABASE_URL", stored.database_url)
    monkeypatch.setenv("CARELEDGER_DATABASE_SCHEMA", stored.database_schema)
    monkeypatch.setenv("CARELEDGER_TOKEN_DAYS", "3650")
    monkeypatch.setenv("CARELEDGER_EVIDENCE_DIR", str(stored.evidence_dir))
    for name, path in key_files(stored.signing_key_file.parent).items():
        monkeypatch.setenv(f"CARELEDGER_{name.upper()}", str(path))
    return stored


# Event classes added after the fixture was made: no ledger stored them before, so there is
# nothing older of theirs to read. Named here, so a new class is added on purpose (a later
# fixture, events_v2, would hold them).
NEWER_THAN_V1 = {
    "domain.issue:RectificationIssue.UrgingReplied",
    "domain.issue:RectificationIssue.ExtensionRequested",
    "domain.issue:RectificationIssue.ExtensionDecided",
    "domain.case:ChildCase.ReferralAccepted",
}


def test_the_fixture_holds_every_stored_event_class_but_those_added_after_it(backend: str) -> None:
    assert set(MANIFEST[backend]["topics"]) == stored_event_topics() - NEWER_THAN_V1
    assert stored_event_topics() >= NEWER_THAN_V1


def test_every_aggregate_of_the_old_ledger_replays(stored: Settings) -> None:
    services = bootstrap.build(stored)
    try:
        notifications = services.ledger.recorder.select_notifications(1, 10**6)
        assert len(notifications) == MANIFEST["sqlite" if not stored.is_postgres else "postgres"]["events"]
        last: dict[Any, int] = {}
        for n in notifications:
            services.ledger.mapper.to_domain_event(n)  # each one decodes (and is upcast)
            last[n.originator_id] = max(last.get(n.originator_id, 0), n.originator_version)
        for originator, version in last.items():
            assert services.ledger.repository.get(originator).version == version
    finally:
        services.close()


def test_the_old_ledger_rebuilds_its_views_verifies_and_serves(cli_env: Settings) -> None:
    backend = "postgres" if cli_env.is_postgres else "sqlite"
    rebuilt = runner.invoke(cli, ["rebuild", "--json"])
    assert rebuilt.exit_code == 0, rebuilt.output
    verified = runner.invoke(cli, ["verify", "--json"])
    assert verified.exit_code == 0, verified.output
    document = json.loads(verified.stdout)
    assert document["intact"] and document["events_checked"] == MANIFEST[backend]["tree_size"]
    assert document["heads_checked"] >= 1

    enrolled = runner.invoke(cli, ["users", "add", "抽查员", "--unit", "dxh-bgs", "--role", "supervisor"])
    assert enrolled.exit_code == 0, enrolled.output
    token = enrolled.stdout.strip().splitlines()[-1]
    services = bootstrap.build(Settings())
    try:
        cases = sorted({n.originator_id for n in services.ledger.recorder.select_notifications(1, 10**6)
                        if n.topic == "domain.case:ChildCase.Registered"}, key=str)
        with TestClient(create_app(services=services)) as client:
            client.headers["Authorization"] = f"Bearer {token}"
            issues = client.get("/api/v1/issues").json()
            assert sorted(i["seq"] for i in issues) == [1, 2, 3, 4]
            assert {i["seq"]: i["status"] for i in issues}[3] == "closed"
            assert client.get("/api/v1/views/supervision").status_code == 200
            read = {case["id"]: case for case in (client.get(f"/api/v1/cases/{c}").json() for c in cases)}
            # The sealed personal data opens with the fixture's keys; the erased child's does not exist.
            opened = {c["erased"]: c["personal"] for c in read.values()}
            assert opened[False]["person"]["name"] == "测试儿童甲"
            assert opened[False]["visits"][-1]["notes"] == "回访，监护人在家。"  # as corrected
            assert opened[True] == {"erased": True}
    finally:
        services.close()


def test_reads_of_personal_fields_stored_before_reasons_were_kept_read_as_version_2_without_one(
        stored: Settings) -> None:
    services = bootstrap.build(stored)
    try:
        reads = [n for n in services.ledger.recorder.select_notifications(1, 10**6)
                 if n.topic == "domain.case_access:CaseAccessLog.PersonalDataRead"]
        assert reads and not any(b"class_version" in n.state for n in reads)  # stored as version 1
        for stored_read in reads:
            read = services.ledger.mapper.to_domain_event(stored_read)
            assert read.reason is None and read.endpoint  # type: ignore[attr-defined]
            log = services.ledger.repository.get(stored_read.originator_id)
            assert log.read_count >= 1
    finally:
        services.close()


def test_completions_and_services_stored_before_they_named_evidence_read_as_version_2(stored: Settings) -> None:
    services = bootstrap.build(stored)
    try:
        notifications = services.ledger.recorder.select_notifications(1, 10**6)
        completions = [n for n in notifications if n.topic == "domain.issue:RectificationIssue.MeasureCompleted"]
        given = [n for n in notifications if n.topic == "domain.case:ChildCase.ServiceProvided"]
        assert (len(completions), len(given)) == (4, 1)
        assert not any(b"class_version" in n.state for n in completions + given)  # stored as version 1
        for stored_event in completions:
            completed = services.ledger.mapper.to_domain_event(stored_event)
            assert completed.evidence == [] and completed.summary  # type: ignore[attr-defined]
            issue = services.ledger.repository.get(stored_event.originator_id)
            measure = issue.measures[completed.measure_id]  # type: ignore[attr-defined]
            assert measure["status"] == "completed" and measure["completion_evidence"] == []
        service = services.ledger.mapper.to_domain_event(given[0])
        assert service.evidence == [] and service.kind == "legal_aid"  # type: ignore[attr-defined]
        case = services.ledger.repository.get(given[0].originator_id)
        assert [s["evidence"] for s in case.services] == [[]]
    finally:
        services.close()


def test_urgings_stored_before_replies_existed_are_named_by_their_version_and_take_a_reply(stored: Settings) -> None:
    from domain.base import Stamp, recording_at
    from domain.urging import AWAITING_REPLY, REPLIED_LATE, reply_status, shown

    services = bootstrap.build(stored)
    try:
        urged = [n for n in services.ledger.recorder.select_notifications(1, 10**6)
                 if n.topic == "domain.issue:RectificationIssue.Urged"]
        assert len(urged) == 2
        replied = 0
        for stored_event in urged:
            issue = services.ledger.repository.get(stored_event.originator_id)
            urging = issue.urging(str(stored_event.originator_version))
            assert shown([urging])[0]["urging_id"] == str(stored_event.originator_version)
            assert reply_status(urging) == AWAITING_REPLY
            if issue.closed:
                continue
            now = services.ledger.clock()
            with recording_at(now):
                stamp = Stamp.make(user="fixture-clerk", unit=urging["unit"], recorded_at=now)
                assert issue.reply_to_urging(stamp, urging_id=str(stored_event.originator_version), message="已办理")
            assert reply_status(issue.urging(str(stored_event.originator_version))) == REPLIED_LATE
            replied += 1
        assert replied
    finally:
        services.close()
