"""/metrics on a deployment of several districts: every gauge is labelled with the store it
measures, so one district's views falling behind show as that district's (PostgreSQL only:
SQLite serves one district)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from interfaces.http.app import create_app
from tests.district import assigned_issue
from tests.integration.test_operations import metric
from tests.province import districts_deployment

pytestmark = pytest.mark.postgres


def test_each_districts_view_lag_and_tree_head_are_its_own_gauges(tmp_path: Path) -> None:
    with districts_deployment(tmp_path, {"420112": "东西湖区", "420113": "汉南区"}) as (_, deployment, districts):
        for district in districts.values():
            assigned_issue(district)
        behind, kept = deployment.districts["420112"], deployment.districts["420113"]
        # Nothing follows in this test's app: the one district's views are brought up to
        # date by hand, the other's stay behind by every event it recorded.
        kept.views.catch_up()
        recorded = behind.ledger.recorder.max_notification_id()
        with TestClient(create_app(deployment=deployment), client=("127.0.0.1", 50000)) as http:
            text = http.get("/metrics").text
    for district in ("province", "420112", "420113"):
        assert metric(text, "careledger_database_up", district=district) == 1
    assert metric(text, "careledger_view_lag_events", district="420113") == 0
    assert 0 < metric(text, "careledger_view_lag_events", district="420112") <= recorded
    # A series without its district would be summed across districts by anyone who scraped it.
    assert not [line for line in text.splitlines()
                if line.startswith("careledger_view_lag_events") and "district=" not in line]
