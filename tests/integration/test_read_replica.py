"""Reads from a streaming standby (CARELEDGER_READ_DATABASE_URL), with read-your-writes:
a real standby made by ``pg_basebackup -R`` from a primary the test starts (tests/standby.py),
its replay paused to make it lag, and stopped."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infrastructure.settings import Settings
from interfaces import bootstrap
from interfaces.http.app import create_app
from tests.backends import scratch_schema
from tests.district import START, Clock, District, seed
from tests.standby import Pair, primary_and_standby, unavailable

WAIT = 0.5  # CARELEDGER_READ_REPLICA_WAIT_SECONDS here: ample for a standby on the same host to keep up


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    reason = unavailable()
    if reason is not None:
        pytest.skip(f"no streaming standby: {reason}")
    with primary_and_standby() as started:
        yield started


@pytest.fixture
def replicated(pair: Pair, tmp_path: Path) -> Iterator[tuple[TestClient, District, Pair]]:
    primary_url = pair.primary.url(pair.database)
    with scratch_schema(primary_url) as schema:  # made on the primary, streamed to the standby
        settings = Settings(
            database_url=primary_url, read_database_url=pair.standby.url(pair.database), database_schema=schema,
            read_replica_wait_seconds=WAIT, signing_key_file=tmp_path / "signing-key.pem",
            data_key_file=tmp_path / "data-key", idempotency_key_file=tmp_path / "idempotency-key",
            evidence_dir=tmp_path / "evidence", token_days=3650,
        )
        services = bootstrap.build(settings, clock=Clock(START))
        try:
            district = seed(services)
            with TestClient(create_app(services=services), raise_server_exceptions=False,
                            client=("127.0.0.1", 50000)) as client:  # /metrics answers loopback
                yield client, district, pair
        finally:
            services.close()


def bearer(district: District, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {district.tokens[who]}"}


def register_issue(client: TestClient, district: District, seq: int) -> tuple[str, int]:
    """A plan's issue, registered: its id and the position of the write."""
    sup = bearer(district, "supervisor")
    plan = client.post("/api/v1/plans", headers=sup, json={
        "number": f"东政办[2019]{seq}号", "title": "实施方案", "issuer_unit": "bgs", "year": 2019})
    assert plan.status_code == 201, plan.text
    issue = client.post("/api/v1/issues", headers=sup, json={
        "plan_id": plan.json()["id"], "seq": seq, "duty": "法治宣传教育", "problem": f"第{seq}项有待加强",
        "units": ["pf"], "measures": ["纳入考核标准"], "remarks": ""})
    assert issue.status_code == 201, issue.text
    return issue.json()["id"], issue.json()["position"]


def issue_ids(answer: Any) -> set[str]:
    assert answer.status_code == 200, answer.text
    return {row["id"] for row in answer.json()["rows"]}


def reads(client: TestClient) -> dict[str, int]:
    services: bootstrap.Services = client.app.state.services  # type: ignore[attr-defined]
    assert services.read_replica is not None
    return dict(services.read_replica.reads)


def test_views_audit_and_proofs_are_read_from_the_standby_once_it_holds_the_position_asked(replicated) -> None:  # type: ignore[no-untyped-def]
    client, district, _ = replicated
    issue, position = register_issue(client, district, 1)
    before = reads(client)

    view = client.get(f"/api/v1/views/supervision?min_position={position}", headers=bearer(district, "supervisor"))
    assert issue in issue_ids(view) and view.json()["position"] >= position
    listed = client.get("/api/v1/issues", headers=bearer(district, "supervisor"))
    assert listed.status_code == 200 and issue in {i["id"] for i in listed.json()}
    page = client.get("/issues", headers=bearer(district, "supervisor"))
    assert page.status_code == 200 and "第1项有待加强" in page.text
    # As of a past moment: the standby's checkpoints, the events after them from the primary.
    assert issue in issue_ids(client.get("/api/v1/views/supervision?as_of=2019-03-02T00:00:00%2B08:00",
                                         headers=bearer(district, "supervisor")))
    audit = client.get("/api/v1/audit/events?limit=1000", headers=bearer(district, "inspector"))
    assert audit.status_code == 200 and audit.json()[-1]["position"] == position
    proof = client.get(f"/api/v1/audit/proofs/inclusion?position={position}", headers=bearer(district, "inspector"))
    assert proof.status_code == 200, proof.text

    after = reads(client)
    # The views, the list, the page, the audit index, its leaves and the proof's reads: all on the standby.
    assert after["replica"] - before["replica"] >= 7
    assert after["behind"] == before["behind"] and after["down"] == before["down"]
    ready = client.get("/readyz").json()
    assert ready["replica"]["state"] == "up" and ready["replica"]["standby"] is True
    assert "careledger_read_replica_up 1.0" in client.get("/metrics").text


def test_a_read_asking_for_a_position_the_lagging_standby_lacks_waits_then_answers_from_the_primary(replicated) -> None:  # type: ignore[no-untyped-def]
    client, district, pair = replicated
    sup = bearer(district, "supervisor")
    register_issue(client, district, 1)
    pair.replayed()
    pair.standby_sql("SELECT pg_wal_replay_pause()")
    try:
        issue, position = register_issue(client, district, 2)
        before = reads(client)
        started = time.monotonic()
        view = client.get(f"/api/v1/views/supervision?min_position={position}", headers=sup)
        waited = time.monotonic() - started
        assert issue in issue_ids(view)  # the writer sees their write
        assert waited >= WAIT  # the standby was given its chance first
        assert reads(client)["behind"] > before["behind"]
        # The list API reads what is logged now (its own read-your-writes): the primary too.
        listed = client.get("/api/v1/issues", headers=sup)
        assert issue in {i["id"] for i in listed.json()}
        # So do the dashboard's pages.
        page = client.get("/issues", headers=sup)
        assert page.status_code == 200 and "第2项有待加强" in page.text

        # A read that asks for no position is the standby's, as far as it has replayed.
        replica_reads = reads(client)["replica"]
        stale = client.get("/api/v1/views/supervision", headers=sup)
        assert issue not in issue_ids(stale) and stale.json()["position"] < position
        assert reads(client)["replica"] == replica_reads + 1
        assert client.get("/readyz").json()["replica"]["views_behind"] > 0
    finally:
        pair.standby_sql("SELECT pg_wal_replay_resume()")
    pair.replayed()
    assert issue in issue_ids(client.get("/api/v1/views/supervision", headers=sup))


def test_with_the_standby_stopped_every_read_answers_from_the_primary_and_the_process_stays_ready(replicated) -> None:  # type: ignore[no-untyped-def]
    client, district, pair = replicated
    sup = bearer(district, "supervisor")
    pair.replayed()
    pair.standby.stop()
    try:
        issue, position = register_issue(client, district, 3)
        view = client.get(f"/api/v1/views/supervision?min_position={position}", headers=sup)
        assert issue in issue_ids(view)
        assert issue in issue_ids(client.get("/api/v1/views/supervision", headers=sup))
        audit = client.get("/api/v1/audit/events?limit=1000", headers=bearer(district, "inspector"))
        assert audit.status_code == 200 and audit.json()[-1]["position"] == position
        assert reads(client)["down"] > 0

        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready" and ready.json()["replica"]["state"] == "down"
        assert "careledger_read_replica_up 0.0" in client.get("/metrics").text
    finally:
        pair.standby.start()
