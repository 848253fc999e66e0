"""The one read rule, applied to the views' briefs, agrees with the rule applied to the aggregates;
an agency's views are the district's rows it may read, and its unit rows the district's own."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import pytest

from application.access import Actor
from application.errors import Forbidden, NotFound
from application.read_policy import POLICY, ReadScope
from domain.case import ChildCase
from domain.issue import RectificationIssue
from domain.plan import plan_id
from infrastructure.view_runner import Views, build_views
from interfaces.district_generator import DistrictGenerator
from tests.district import District


def agency(unit: str) -> Actor:
    return Actor(user_id=UUID(int=0), name=f"{unit}-reader", unit=unit, role="agency")


def test_an_issue_reads_for_its_lead_co_units_and_urged_units_and_as_missing_for_others(district: District) -> None:
    cmd = district.cmd
    district.issues.register_plan(cmd("supervisor"), number="P", title="t", issuer_unit="bgs", year=2019)
    issue = district.issues.register_issue(cmd("supervisor"), plan=plan_id("P"), seq=1, duty="d", problem="p",
                                  units=["pf", "gf", "sfs-cq"], measures=[("pf", "m", None)]).id
    district.issues.urge(cmd("supervisor"), issue, unit="gf", message="请配合", reply_by=date(2019, 3, 31))
    # Reassigned: gf (urged) and sfs-cq (neither urged nor owning a measure) are no longer responsible.
    district.issues.assign_issue(cmd("supervisor"), issue, lead_unit="pf", co_units=["sfs-zml"], contact_person="陈",
                        deadline=date(2019, 12, 31), nodes=[])
    for who in ("supervisor", "inspector", "pf-clerk", "zml-clerk", "gf-clerk"):
        assert district.issues.read_issue(district.actors[who], issue).id == issue
        assert district.issues.issue_history(district.actors[who], issue)
    with pytest.raises(NotFound):
        district.issues.read_issue(district.actors["cq-clerk"], issue)
    with pytest.raises(NotFound):
        district.issues.issue_as_of(district.actors["cq-clerk"], issue)
    with pytest.raises(Forbidden):
        district.issues.read_issue(district.actors["admin"], issue)


def generated(services: Any) -> tuple[DistrictGenerator, Views]:
    generator = DistrictGenerator(services, seed=5, batch=20, active=60)
    generator.extend(1500)
    views = build_views(services.ledger, services.settings)
    views.catch_up()
    return generator, views


def test_an_agencys_views_hold_exactly_the_rows_the_aggregates_let_it_read(services: Any) -> None:
    generator, views = generated(services)
    ledger = services.ledger
    issues = [services.issues.issue(i) for i in generator.issue_ids]
    cases = [ledger.repository.get(c) for c in generator.case_ids]
    assert all(isinstance(c, ChildCase) for c in cases) and all(isinstance(i, RectificationIssue) for i in issues)
    uncached = Views(ledger, views.store, views.thresholds)  # the path of views as of a moment, and without the cache
    year = ledger.clock().year
    full = {name: views.view(name, year=year if name == "evaluation" else None)
            for name in ("supervision", "units", "evaluation", "ledger")}
    units = sorted({u for i in issues for u in i.units} | {c.registering_unit for c in cases})
    assert len(units) > 3
    for unit in units:
        reader, scope = agency(unit), ReadScope(unit)
        readable_issues = {str(i.id) for i in issues if POLICY.may_read_issue(reader, i)}
        readable_cases = {c.case_number for c in cases if POLICY.may_read_case(reader, c)}
        for source in (views, uncached):
            mine = {name: source.view(name, year=year if name == "evaluation" else None, scope=scope)
                    for name in full}
            assert [r["id"] for r in mine["supervision"]["rows"]] == [
                r["id"] for r in full["supervision"]["rows"] if r["id"] in readable_issues]
            assert mine["supervision"]["due_soon"]["rows"] == [
                r for r in full["supervision"]["due_soon"]["rows"] if r["id"] in readable_issues]
            for name in ("units", "evaluation"):
                assert mine[name]["rows"] == [r for r in full[name]["rows"] if r["unit"] == unit], (name, unit)
            sections = mine["ledger"]["sections"]
            shown = {r["case_number"] for part in ("转介与响应", "台账完整性") for r in sections[part]["rows"]}
            assert shown <= readable_cases
            assert {r["case_number"] for r in full["ledger"]["sections"]["转介与响应"]["rows"]
                    if r["case_number"] in readable_cases} == {
                r["case_number"] for r in sections["转介与响应"]["rows"]}
            counted = sum(r["total"] for r in mine["ledger"]["rows"])
            assert counted >= len(readable_cases)  # a case counts once per category it is in
            if not readable_cases:
                assert counted == 0


def test_an_agencys_kept_view_takes_in_a_new_issue_of_its_unit_and_not_another_units(
    services: Any, district: District
) -> None:
    ledger, cmd = district.ledger, district.cmd
    views = build_views(ledger, services.settings)
    district.issues.register_plan(cmd("supervisor"), number="P", title="t", issuer_unit="bgs", year=2019)

    def listed() -> list[str]:
        views.wait_for(ledger.recorder.max_notification_id())
        return [r["id"] for r in views.view("supervision", scope=ReadScope("gf"))["rows"]]

    assert listed() == []
    own = district.issues.register_issue(cmd("supervisor"), plan=plan_id("P"), seq=1, duty="d", problem="p", units=["gf"]).id
    assert listed() == [str(own)]
    other = district.issues.register_issue(cmd("supervisor"), plan=plan_id("P"), seq=2, duty="d", problem="p", units=["pf"]).id
    assert listed() == [str(own)]
    district.issues.urge(cmd("supervisor"), other, unit="pf", message="m", reply_by=date(2019, 3, 31))
    district.issues.assign_issue(cmd("supervisor"), other, lead_unit="pf", co_units=["gf"], contact_person="陈",
                        deadline=date(2019, 12, 31), nodes=[])
    assert sorted(listed()) == sorted([str(own), str(other)])
