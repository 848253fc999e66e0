"""The provincial roll-up's table from hand-made briefs: kinds of unit, totals, response
times apart, the year's on-time rate. (The agreement with the districts' own views, over
three districts on PostgreSQL, is tests/integration/test_rollup.py.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from projections import rollup

NOW = datetime(2019, 7, 10, 4, tzinfo=UTC)  # 12:00 in Shanghai


def unit(code: str, name: str, *groups: str) -> dict[str, Any]:
    return {"kind": "unit", "id": f"u-{code}", "code": code, "name": name, "groups": list(groups)}


def issue(key: str, units: list[str], *, deadline: str | None, measures: dict[str, Any],
          urgings: list[dict[str, Any]] = (), closed: bool = False) -> dict[str, Any]:  # type: ignore[assignment]
    return {"kind": "issue", "id": key, "units": units, "lead_unit": units[0], "deadline": deadline,
            "closed": closed, "measures": measures, "urgings": list(urgings)}


def measure(unit: str, due: str | None, completed_at: str | None = None) -> dict[str, Any]:
    return {"unit": unit, "due": due, "status": "completed" if completed_at else "open", "completed_at": completed_at}


DISTRICT = [
    unit("edu", "区教育局"),
    unit("sfs-a", "甲司法所", "司法所"),
    unit("sfs-b", "乙司法所", "司法所", "其他组"),
    issue("i1", ["edu"], deadline="2019-06-30", measures={
        "m1": measure("edu", "2019-05-31", "2019-05-20T02:00:00+00:00"),  # on time
        "m2": measure("sfs-a", None),  # due with the deadline: 10 days overdue
    }, urgings=[{"unit": "sfs-a", "occurred_at": "2019-07-01T02:00:00+00:00", "replied_at": None, "reply_late": None}]),
    issue("i2", ["sfs-b", "edu"], deadline="2019-12-31", measures={
        "m3": measure("sfs-b", "2019-06-01", "2019-06-03T02:00:00+00:00"),  # late
    }, closed=True),
    {"kind": "case", "id": "c1",
     "reports": {"r1": {"reported_at": "2019-05-01T00:00:00+00:00", "accepted_at": "2019-05-01T02:00:00+00:00",
                        "accepted_by": "edu", "dispatched_at": "2019-05-01T01:00:00+00:00", "dispatched_by": "sfs-a"}},
     "referrals": {"f1": {"unit": "sfs-b", "referred_at": "2019-05-02T00:00:00+00:00",
                          "first_service_at": "2019-05-02T06:00:00+00:00"},
                   "f2": {"unit": "edu", "referred_at": "2018-12-02T00:00:00+00:00", "first_service_at": None}}},
]


def rows(answer: dict[str, Any]) -> dict[tuple[str | None, str | None], dict[str, Any]]:
    return {(r["district"], r["kind"]): r for r in answer["rows"]}


def test_units_fall_in_the_kind_of_their_first_group_or_are_a_kind_of_their_own() -> None:
    assert rollup.kinds_of(DISTRICT) == {"edu": "区教育局", "sfs-a": "司法所", "sfs-b": "司法所"}
    found = rows(rollup.table({"420112": DISTRICT}, NOW, names={"420112": "东西湖区"}))
    assert set(found) == {("420112", "区教育局"), ("420112", "司法所"), ("420112", None), (None, None)}
    assert found[("420112", "司法所")]["units"] == 2 and found[("420112", None)]["district_name"] == "东西湖区"


def test_figures_by_kind_and_their_totals() -> None:
    found = rows(rollup.table({"a": DISTRICT, "b": DISTRICT[:4]}, NOW))
    edu, sfs, total = found[("a", "区教育局")], found[("a", "司法所")], found[("a", None)]
    # i1 is led by edu and overdue; i2 (closed) by a 司法所.
    assert (edu["issues_open"], edu["issues_overdue"], sfs["issues_open"]) == (1, 1, 0)
    assert (sfs["measures_open"], sfs["measures_overdue"], sfs["done_late"], edu["done_on_time"]) == (1, 1, 1, 1)
    assert (sfs["urgings"], sfs["urgings_awaiting_reply"], edu["urgings"]) == (1, 1, 0)
    # Due in 2019: m1 (on time), m2 (with the deadline, open), m3 (late): one on time of three.
    assert (total["measures_due_in_year"], total["done_on_time_in_year"], total["on_time_rate"]) == (3, 1, 0.3333)
    assert (edu["on_time_rate"], sfs["on_time_rate"]) == (1.0, 0.0)
    province = found[(None, None)]
    assert province["issues_open"] == total["issues_open"] + found[("b", None)]["issues_open"] == 2


def test_response_times_are_shown_apart_and_together_for_the_year() -> None:
    found = rows(rollup.table({"a": DISTRICT}, NOW))
    edu, sfs, total = found[("a", "区教育局")], found[("a", "司法所")], found[("a", None)]
    assert (edu["report_acceptance_hours"], sfs["police_dispatch_hours"], sfs["referral_service_hours"]) == (2.0, 1.0, 6.0)
    assert (sfs["case_responses"], sfs["case_response_hours"]) == (2, 3.5)
    # The referral of 2018 belongs to that year's figures.
    assert edu["case_responses"] == 1 and total["case_responses"] == 3
    last_year = rows(rollup.table({"a": DISTRICT}, NOW, year=2018))[("a", "区教育局")]
    assert (last_year["case_responses"], last_year["referral_service_hours"]) == (1, None)
