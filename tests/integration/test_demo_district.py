"""The demo district lives in the present: this year's plan is dated relative to the ledger's
today (a fixed one here), so the office sees work due next week and issues overdue by days;
the 2019 plan stays beside it as an example to replay, finished, with its evaluation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timezone

import pytest
from fastapi.testclient import TestClient

from interfaces import bootstrap, demo_district
from interfaces.http.app import create_app
from tests.district import Clock

# 12:00 in Beijing on 20 May 2031: a today no run of the tests meets by chance
TODAY = date(2031, 5, 20)
NOON = datetime(2031, 5, 20, 4, tzinfo=timezone.utc)


@pytest.fixture
def demo(settings) -> Iterator[tuple[bootstrap.Services, dict[str, str]]]:  # type: ignore[no-untyped-def]
    services = bootstrap.build(settings, clock=Clock(NOON))
    try:
        tokens = demo_district.load(services)
        services.views.catch_up()
        yield services, tokens
    finally:
        services.close()


def test_this_years_plan_is_due_next_week_and_overdue_by_days(
    demo: tuple[bootstrap.Services, dict[str, str]],
) -> None:
    view = demo[0].views.view("supervision")
    assert view["today"] == TODAY.isoformat()
    current = {row["seq"]: row for row in view["rows"] if row["plan"] == demo_district.current_plan_number(2031)}
    assert {seq: (row["deadline"], row["days_overdue"], row["light"]) for seq, row in current.items()} == {
        1: ("2031-05-26", 0, "黄"),   # due next week
        2: ("2031-05-17", 3, "红"),   # overdue by 3 days
        3: ("2031-05-08", 12, "红"),  # overdue by 12 days, and urged
        4: ("2031-06-09", 0, "绿"),   # extended
        5: ("2031-05-10", 0, "绿"),   # closed on time
    }
    assert current[3]["urgings"] == 1 and current[5]["status"] == "已销号"
    assert [(row["seq"], row["due"]) for row in view["due_soon"]["rows"]] == [(1, "2031-05-26")]
    # the 2019 plan stays, finished: no issue of the demo is overdue by years
    old = [row for row in view["rows"] if row["plan"] == demo_district.PLAN_NUMBER]
    assert len(old) == 4 and {row["status"] for row in old} == {"已销号"}
    assert max(row["days_overdue"] for row in view["rows"]) == 12
    flagged = [row for row in demo[0].views.view("evaluation", year=2019)["rows"] if row["flagged"]]
    assert len(flagged) == 1


def test_this_years_history_is_recorded_before_today_with_one_entry_made_ten_days_late(
    demo: tuple[bootstrap.Services, dict[str, str]],
) -> None:
    services, tokens = demo
    with TestClient(create_app(services=services)) as client:
        inspector = {"Authorization": f"Bearer {tokens['inspector']}"}
        late = client.get("/api/v1/audit/late-entries", headers=inspector).json()
        events = client.get("/api/v1/audit/events", params={"limit": 1000}, headers=inspector).json()
    this_year = [entry for entry in late if entry["recorded_at"].startswith("2031")]
    assert [(entry["occurred_at"][:10], entry["recorded_at"][:10]) for entry in this_year] == [
        ("2031-05-08", "2031-05-18")]
    assert len(events) < 1000  # all of them
    recorded = [entry["recorded_at"][:10] for entry in events if entry["aggregate_type"] != "Token"]
    assert max(recorded) < TODAY.isoformat()  # only the tokens handed out are issued today
    assert "2031-04-05" in recorded  # the plan: 45 days before today
    assert "2019-03-05" in recorded and "2020-01-15" in recorded  # the 2019 plan's history, its closures
