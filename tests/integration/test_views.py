"""The views on both backends: exactly once, resumable, as of a past moment, right figures."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from eventsourcing.persistence import Tracking
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from openpyxl import load_workbook

from application.commands import Command
from application.errors import Forbidden, NotFound
from domain.base import DomainError
from domain.plan import plan_id
from infrastructure.view_runner import (
    Views,
    ViewsNotReady,
    briefs_as_of,
    build_views,
    pull,
    rebuild,
)
from infrastructure.view_store import view_store_for
from interfaces.deployment import Deployment
from interfaces.http import problems, views as views_http
from projections import cases, folds, queries
from projections.indicators import Thresholds
from projections.issues import state_of_aggregate, state_of_summary
from projections.views import LedgerViews, replay
from tests.district import UNITS, District

NAMES = {code: name for code, name, _ in UNITS}
PF, GF = NAMES["pf"], NAMES["gf"]

GRADES = ["优秀", "良好", "合格", "不合格"]


@pytest.fixture
def views(services, district: District) -> Views:  # type: ignore[no-untyped-def]
    built = build_views(services.ledger, services.settings)
    services.views = built
    return built


def topic_notifications(ledger) -> list[Any]:  # type: ignore[no-untyped-def]
    found, start = [], 1
    while page := ledger.recorder.select_notifications(start, 500, topics=LedgerViews.topics):
        found.extend(page)
        start = page[-1].id + 1
    return found


def fresh_store(ledger, label: str):  # type: ignore[no-untyped-def]
    store = view_store_for(ledger, generation=f"{label}-{uuid.uuid4().hex[:8]}")
    store.clear()
    return store


def every_view(summaries: list[dict[str, Any]], now: datetime, t: Thresholds = Thresholds()) -> dict[str, Any]:
    return {
        "ledger": queries.child_ledger(summaries, now, t),
        "supervision": queries.supervision(summaries, now, t),
        "units": queries.units(summaries, now),
        "evaluation": [queries.evaluation(summaries, y, t) for y in (2019, 2020)],
    }


def by_id(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    return {s["id"]: s for s in summaries}


# ---- random histories ----------------------------------------------------------------

OPS = st.lists(
    st.tuples(
        st.sampled_from(["adopt", "progress", "complete", "urge", "extend", "evaluate", "close",
                         "reopen", "correct", "advance", "assign"]),
        st.integers(0, 40),
        st.integers(0, 12),
    ),
    min_size=4, max_size=22,
)


def play(district: District, issue: Any, ops: list[tuple[str, int, int]], rng: random.Random) -> None:
    ledger, clock = district.ledger, district.ledger.clock
    owners = {"pf": "pf-clerk", "sfs-cq": "cq-clerk", "sfs-zml": "zml-clerk"}
    for op, a, b in ops:
        now = clock()
        def back(who: str, now: datetime = now, b: int = b) -> Command:
            return district.cmd(who, occurred_at=now - timedelta(days=b))

        try:
            current = district.issues.issue(issue)
            measures = list(current.measures)
            pick = measures[a % len(measures)] if measures else "M1"
            if op == "advance":
                clock.advance(days=a + 1)  # type: ignore[attr-defined]
            elif op == "assign":
                district.issues.assign_issue(district.cmd("supervisor"), issue, lead_unit="pf", co_units=["司法所"],
                                    contact_person="张", deadline=now.date() + timedelta(days=a), nodes=[now.date() + timedelta(days=a // 2)])
            elif op == "adopt":
                unit = list(owners)[a % 3]
                district.issues.adopt_measure(back(owners[unit]), issue, unit=unit, text=f"措施{a}",
                                     due=(now.date() + timedelta(days=a - 10)) if b % 2 else None)
            elif op == "progress":
                unit = current.measures[pick]["unit"] if measures else "pf"
                district.issues.report_progress(back(owners[unit]), issue, pick, summary=f"进展{a}", evidence=[])
            elif op == "complete":
                unit = current.measures[pick]["unit"] if measures else "pf"
                district.issues.complete_measure(back(owners[unit]), issue, pick, summary="完成")
            elif op == "urge":
                district.issues.urge(back("supervisor"), issue, unit=list(owners)[a % 3], message="请加快",
                            reply_by=now.date() + timedelta(days=5))
            elif op == "extend":
                base = current.deadline or now.date()
                district.issues.extend_deadline(district.cmd("supervisor"), issue, deadline=base + timedelta(days=a + 1), reason="延期")
            elif op == "evaluate":
                district.issues.evaluate_issue(district.cmd("supervisor"), issue, year=2019 + b % 2, grade=GRADES[a % 4],
                                      score=float(a), findings="")
            elif op == "close":
                district.issues.close_issue(district.cmd("supervisor"), issue, summary="销号")
            elif op == "reopen":
                district.issues.reopen_issue(district.cmd("supervisor"), issue, reason="复查")
            elif op == "correct":
                positions = ledger.index.positions(issue)
                version = rng.choice(sorted(positions))
                entry = current.recorder_of(version) or {}
                changes = {
                    "Registered": {"problem": f"更正{a}"}, "MeasureAdopted": {"text": f"更正{a}", "due": "2019-12-01"},
                    "Assigned": {"deadline": "2019-09-30"}, "Urged": {"reply_by": "2019-12-31"},
                    "ProgressReported": {"summary": f"更正{a}"}, "EvaluatedAtYearEnd": {"grade": GRADES[b % 4]},
                }.get(entry.get("type", ""), {"occurred_at": (now - timedelta(days=1)).isoformat()})
                district.issues.correct_issue_entry(district.cmd("supervisor"), issue, position=positions[version],
                                           changes=changes, reason="笔误")
        except (DomainError, Forbidden, NotFound):
            pass


NAME, ID_BODY = "王小明", "11010520120515341"
CASE_OPS = st.lists(
    st.tuples(st.sampled_from(["classify", "reassess", "guardian", "report", "accept", "dispatch", "refer",
                               "service", "visit", "close", "reopen", "advance"]), st.integers(0, 6)),
    max_size=14,
)


def play_case(district: District, ops: list[tuple[str, int]]) -> Any:
    from stdnum.cn import ric

    from domain.assessment import CATEGORIES

    ledger = district.ledger
    case = district.cases.register_case(
        district.cmd("cq-clerk"), street=["常青花园", "走马岭"][len(ops) % 2], community="一社区", household_local=True,
        birth_date=date(2012, 5, 15),
        person={"name": NAME, "id_number": ID_BODY + ric.calc_check_digit(ID_BODY + "0"), "address": "某路1号"},
    ).id
    for op, a in ops:
        try:
            current = district.cases.case(case)
            reports, referrals = sorted(current.reports), sorted(current.referrals)
            if op == "advance":
                ledger.clock.advance(hours=a * 7 + 1)  # type: ignore[attr-defined]
            elif op in ("classify", "reassess"):
                call = district.cases.classify_case if op == "classify" else district.cases.reassess_case
                call(district.cmd("supervisor"), case, left_behind=bool(a % 2), categories=[CATEGORIES[a % 3]], evidence=[])
            elif op == "guardian":
                district.cases.record_guardianship(district.cmd("supervisor"), case, arrangement="statutory", guardian={"name": "王大"})
            elif op == "report":
                district.cases.file_mandatory_report(district.cmd("supervisor"), case, reporter="school", nature="unattended", details=None)
            elif op == "accept" and reports:
                district.cases.accept_report(district.cmd("supervisor"), case, reports[a % len(reports)])
            elif op == "dispatch" and reports:
                district.cases.dispatch_police(district.cmd("supervisor"), case, reports[a % len(reports)])
            elif op == "refer":
                district.cases.refer_case(district.cmd("supervisor"), case, unit=["gf", "pf"][a % 2], duty=f"职责{a}")
            elif op == "service":
                rid = referrals[a % len(referrals)] if referrals and a % 3 else None
                who = {"gf": "gf-clerk", "pf": "pf-clerk"}[current.referrals[rid]["unit"]] if rid else "cq-clerk"
                district.cases.provide_service(district.cmd(who), case, kind="legal_aid", referral_id=rid, notes=None)
            elif op == "visit":
                district.cases.visit_case(district.cmd("cq-clerk"), case, notes=None)
            elif op == "close":
                district.cases.close_case(district.cmd("supervisor"), case, reason="hardship_resolved")
            elif op == "reopen":
                district.cases.reopen_case(district.cmd("supervisor"), case, reason="复查")
        except (DomainError, Forbidden, NotFound):
            pass
    return case


def new_issue(district: District) -> Any:
    number = f"东政办[2019]{uuid.uuid4().hex[:6]}号"
    district.issues.register_plan(district.cmd("supervisor"), number=number, title="方案", issuer_unit="bgs", year=2019)
    return district.issues.register_issue(
        district.cmd("supervisor"), plan=plan_id(number), seq=1, duty="职责", problem="问题", units=["pf", "司法所"],
    ).id


@hsettings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=OPS, case_ops=CASE_OPS, seed=st.integers(0, 2**16))
def test_views_built_in_random_chunks_equal_one_pass_and_the_aggregates(
    district: District, views: Views, ops: list[tuple[str, int, int]], case_ops: list[tuple[str, int]], seed: int
) -> None:
    rng = random.Random(seed)
    ledger = district.ledger
    issue = new_issue(district)
    play(district, issue, ops, rng)
    play_case(district, case_ops)
    notifications = topic_notifications(ledger)

    chunked = LedgerViews(view=fresh_store(ledger, "chunks"))
    i = 0
    while i < len(notifications):
        size = rng.randint(1, 7)
        chunk = notifications[i:i + size]
        chunked.process_batch([(ledger.mapper.to_domain_event(n), Tracking(ledger.name, n.id)) for n in chunk])
        if rng.random() < 0.3:  # a batch delivered twice is applied once
            chunked.process_batch([(ledger.mapper.to_domain_event(n), Tracking(ledger.name, n.id)) for n in chunk])
        i += size
    one_pass = LedgerViews(view=fresh_store(ledger, "one"))
    one_pass.process_batch([(ledger.mapper.to_domain_event(n), Tracking(ledger.name, n.id)) for n in notifications])
    views.catch_up()

    a, b, live = chunked.view.all_summaries(), one_pass.view.all_summaries(), views.summaries()
    assert a == b == live
    now = ledger.clock()
    assert every_view(a, now) == every_view(b, now)
    # The views read briefs: they answer what the whole summaries answer, whatever the
    # thresholds and the day; the fold's lateness counts are those of the entries.
    briefs = chunked.view.all_briefs()
    assert briefs == one_pass.view.all_briefs() == [folds.brief(x) for x in a]
    assert [folds.brief({k: v for k, v in x.items() if k != "lateness"}) for x in a] == briefs
    for days in (0, 1, 3, 7):
        t = Thresholds(due_soon_days=days * 2, late_entry_days=days, revisit_days=days + 1)
        for moment in (now, now - timedelta(days=days * 5), now + timedelta(days=days * 11)):
            assert every_view(briefs, moment, t) == every_view(a, moment, t)
    for summary in queries.of_kind(a, "issue"):
        assert state_of_summary(summary) == state_of_aggregate(district.issues.issue(uuid.UUID(summary["id"])))
    for summary in queries.of_kind(a, "case"):
        assert cases.state_of_summary(summary) == cases.state_of_aggregate(district.cases.case(uuid.UUID(summary["id"])))
    shown = json.dumps([a, every_view(a, now), queries.child_ledger(a, now, Thresholds())], ensure_ascii=False, default=str)
    assert NAME not in shown and ID_BODY not in shown and "sealed" not in shown
    for store in (chunked.view, one_pass.view):
        store.clear()


def test_a_stopped_puller_resumes_without_counting_twice(services, district: District, views: Views) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    for _ in range(3):
        play(district, new_issue(district), [(rng.choice(["adopt", "progress", "complete", "urge", "advance"]),
                                              rng.randint(0, 30), rng.randint(0, 9)) for _ in range(15)], rng)
    ids = [n.id for n in topic_notifications(district.ledger)]
    stop_at = ids[len(ids) // 2]
    pull(district.ledger, views.projection, until=stop_at)
    assert views.position() == stop_at
    # a new process: new objects on the same database
    again = build_views(district.ledger, services.settings)
    again.catch_up()
    clean = fresh_store(district.ledger, "clean")
    pull(district.ledger, LedgerViews(view=clean))
    assert again.summaries() == clean.all_summaries()
    assert again.position() == ids[-1]


def test_a_batch_whose_write_loses_to_another_processor_is_dropped_with_the_batch_folded_on_it(
    services, district: District, views: Views,  # type: ignore[no-untyped-def]
) -> None:
    rng = random.Random(11)
    for _ in range(3):
        play(district, new_issue(district), [(rng.choice(["adopt", "progress", "complete", "urge"]),
                                              rng.randint(0, 30), 0) for _ in range(20)], rng)
    ledger = district.ledger
    ids = [n.id for n in topic_notifications(ledger)]
    raced = fresh_store(ledger, "raced")
    other = view_store_for(ledger, generation=raced.generation)  # a second processor, same view
    put, calls = raced.put, []

    def put_after_the_other_moved_on(*args: Any, **kwargs: Any) -> None:
        calls.append(args[1].notification_id)
        if len(calls) == 2:  # the second batch's write: the other processor commits first
            pull(ledger, LedgerViews(view=other), until=ids[len(ids) * 2 // 3], batch=7)
        put(*args, **kwargs)

    raced.put = put_after_the_other_moved_on  # type: ignore[method-assign]
    pull(ledger, LedgerViews(view=raced), batch=5)
    # That write was refused, so on PostgreSQL the third batch (folded onto it while it was
    # being written) was never written: the fold went on from where the other stopped.
    assert calls[2] > ids[len(ids) * 2 // 3]
    clean = fresh_store(ledger, "clean")
    pull(ledger, LedgerViews(view=clean))
    assert raced.all_summaries() == clean.all_summaries()
    assert raced.max_tracking_id(ledger.name) == ids[-1]


def test_pulls_in_ranges_of_a_few_positions_skip_other_events_and_equal_one_pass(
    district: District, views: Views,
) -> None:
    rng = random.Random(5)
    play(district, new_issue(district), [(rng.choice(["adopt", "progress", "urge"]), rng.randint(0, 30), 0)
                                         for _ in range(12)], rng)
    ledger = district.ledger
    ids = [n.id for n in topic_notifications(ledger)]
    end = ledger.recorder.max_notification_id()
    assert len(ids) < end  # the district's units, users and keys are events of other topics
    views.catch_up()
    for batch in (1, 2, 3):
        ranged = fresh_store(ledger, f"ranged{batch}")
        # Stopped halfway, then on to the end: each read covers ``batch`` positions, some none of the views'.
        half = (ids[0] + ids[-1]) // 2
        pull(ledger, LedgerViews(view=ranged), until=half, batch=batch)
        assert ranged.max_tracking_id(ledger.name) == max(i for i in ids if i <= half)
        pull(ledger, LedgerViews(view=ranged), batch=batch)
        assert ranged.max_tracking_id(ledger.name) == ids[-1]
        assert ranged.all_summaries() == views.summaries()
        assert ranged.all_briefs() == views.store.all_briefs()
        ranged.clear()


RUNNER = """
import threading
from infrastructure.settings import Settings
from interfaces import bootstrap
bootstrap.run_followers(Settings(), threading.Event())
"""


def test_killing_the_follower_process_and_starting_it_again_matches_a_rebuild(
    backend: str, services, district: District, views: Views, tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    if backend != "postgres":
        pytest.skip("a separate follower process is for PostgreSQL; SQLite serves its views in-process")
    ledger, settings = district.ledger, services.settings
    rng = random.Random(3)
    issues = [new_issue(district) for _ in range(4)]
    for issue in issues:
        play(district, issue, [(rng.choice(["adopt", "progress", "complete", "urge"]), rng.randint(0, 30), 0) for _ in range(30)], rng)
    last = ledger.recorder.max_notification_id()
    env = {**os.environ, "CARELEDGER_DATABASE_URL": settings.database_url,
           "CARELEDGER_DATABASE_SCHEMA": settings.database_schema, "CARELEDGER_FOLLOWERS": "external",
           "CARELEDGER_SIGNING_KEY_FILE": str(settings.signing_key_file),
           "CARELEDGER_DATA_KEY_FILE": str(settings.data_key_file),
           "CARELEDGER_IDEMPOTENCY_KEY_FILE": str(settings.idempotency_key_file), "PYTHONPATH": os.getcwd()}

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-c", RUNNER], env=env, stdout=subprocess.PIPE)

    first = start()
    deadline = time.monotonic() + 30
    while views.position() == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    first.kill()
    first.wait()
    reached = views.position()
    assert reached > 0
    second = start()
    try:
        views.pulls = False  # only the runner writes now
        views.wait_for(last, timeout=30)
    finally:
        second.kill()
        second.wait()
    clean = fresh_store(ledger, "clean")
    pull(ledger, LedgerViews(view=clean))
    assert views.summaries() == clean.all_summaries()


# ---- a hand-built year ---------------------------------------------------------------


def at(clock, y: int, m: int, d: int, hour: int = 2) -> datetime:  # type: ignore[no-untyped-def]
    clock.now = datetime(y, m, d, hour, 0, tzinfo=UTC)  # 10:00 in Shanghai
    return clock.now


@pytest.fixture
def year_2019(district: District, clock) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    sup = district.cmd("supervisor")
    at(clock, 2019, 3, 1)
    district.issues.register_plan(sup, number="P", title="方案", issuer_unit="bgs", year=2019)
    one = district.issues.register_issue(sup, plan=plan_id("P"), seq=1, duty="职责一", problem="问题一", units=["pf"]).id
    two = district.issues.register_issue(sup, plan=plan_id("P"), seq=2, duty="职责二", problem="问题二", units=["gf"]).id
    district.issues.assign_issue(sup, one, lead_unit="pf", co_units=[], contact_person="甲", deadline=date(2019, 6, 30), nodes=[date(2019, 4, 30)])
    district.issues.assign_issue(sup, two, lead_unit="gf", co_units=[], contact_person="乙", deadline=date(2019, 11, 30), nodes=[])
    m1 = district.issues.adopt_measure(district.cmd("pf-clerk"), one, unit="pf", text="措施一", due=date(2019, 5, 31)).extra["measure_id"]
    m2 = district.issues.adopt_measure(district.cmd("pf-clerk"), one, unit="pf", text="措施二", due=None).extra["measure_id"]
    g1 = district.issues.adopt_measure(district.cmd("gf-clerk"), two, unit="gf", text="措施三", due=date(2019, 10, 31)).extra["measure_id"]
    at(clock, 2019, 5, 20)
    district.issues.complete_measure(district.cmd("pf-clerk"), one, m1, summary="按期完成")
    at(clock, 2019, 7, 10)
    district.issues.urge(sup, one, unit="pf", message="措施二已逾期", reply_by=date(2019, 7, 20))
    at(clock, 2019, 7, 25)
    district.issues.complete_measure(district.cmd("pf-clerk", occurred_at=datetime(2019, 7, 5, 2, tzinfo=UTC)), one, m2, summary="补录")
    at(clock, 2019, 8, 1)
    district.issues.close_issue(sup, one, summary="核验销号")
    at(clock, 2020, 1, 10)
    district.issues.evaluate_issue(sup, one, year=2019, grade="优秀", score=95, findings="")
    last = district.issues.evaluate_issue(sup, two, year=2019, grade="合格", score=70, findings="")
    return {"one": str(one), "two": str(two), "g1": g1, "position": last.position}


def test_overdue_figures_for_a_hand_built_year(views: Views, year_2019: dict[str, Any]) -> None:
    views.wait_for(year_2019["position"])
    july_10 = views.view("supervision", as_of=datetime(2019, 7, 10, 12, tzinfo=UTC))
    rows = {r["seq"]: r for r in july_10["rows"]}
    # 问题一: 措施二 falls due with the deadline, 30 June; on 10 July it is 10 days late.
    assert (rows[1]["days_overdue"], rows[1]["light"], rows[1]["urgings"], rows[1]["status"]) == (10, "红", 1, "整改中")
    assert (rows[1]["measures_adopted"], rows[1]["measures_done"]) == (2, 1)
    # 问题二: due 31 October, not yet due, no nodes: green.
    assert (rows[2]["days_overdue"], rows[2]["light"]) == (0, "绿")
    units = {r["unit"]: r for r in views.view("units", as_of=datetime(2019, 7, 10, 12, tzinfo=UTC))["rows"]}
    assert units["pf"] == {"unit": "pf", "unit_name": PF, "open": 1, "overdue": 1, "done_on_time": 1, "done_late": 0, "urgings": 1}
    assert units["gf"] == {"unit": "gf", "unit_name": GF, "open": 1, "overdue": 0, "done_on_time": 0, "done_late": 0, "urgings": 0}

    october_20 = views.view("supervision", as_of=datetime(2019, 10, 20, 12, tzinfo=UTC))
    rows = {r["seq"]: r for r in october_20["rows"]}
    assert (rows[1]["light"], rows[1]["days_overdue"], rows[1]["status"]) == ("绿", 0, "已销号")
    assert rows[2]["light"] == "黄"  # 措施三 falls due in 11 days (≤ 14)
    assert october_20["due_soon"]["rows"] == [
        {"plan": "P", "seq": 2, "measure_id": year_2019["g1"], "unit": "gf", "unit_name": GF, "due": "2019-10-31",
         "days_left": 11, "id": year_2019["two"]}
    ]
    december_31 = views.view("supervision", as_of=datetime(2019, 12, 31, 12, tzinfo=UTC))
    assert {r["seq"]: (r["days_overdue"], r["light"]) for r in december_31["rows"]} == {1: (0, "绿"), 2: (61, "红")}
    now_units = {r["unit"]: r for r in views.view("units")["rows"]}
    assert now_units["pf"] == {"unit": "pf", "unit_name": PF, "open": 0, "overdue": 0, "done_on_time": 1, "done_late": 1, "urgings": 1}


def test_a_view_recomputed_after_one_write_reuses_the_named_rows_of_the_issues_it_left(
    views: Views, year_2019: dict[str, Any], district: District
) -> None:
    views.wait_for(year_2019["position"])
    views.view("supervision")  # the first answer loads the cache's briefs; parts are kept from the next
    before = {r["id"]: r for r in views.view("supervision")["rows"]}
    assert before[year_2019["one"]]["lead_unit_name"] == PF
    last = district.issues.urge(district.cmd("supervisor"), uuid.UUID(year_2019["two"]), unit="gf",
                                message="请加快", reply_by=date(2020, 2, 1))
    views.wait_for(last.position)
    after = {r["id"]: r for r in views.view("supervision")["rows"]}
    assert after[year_2019["one"]] is before[year_2019["one"]]  # named once, not copied again
    assert after[year_2019["two"]]["urgings"] == before[year_2019["two"]]["urgings"] + 1
    assert after[year_2019["two"]]["lead_unit_name"] == GF


def test_evaluation_figures_for_a_hand_built_year(views: Views, year_2019: dict[str, Any]) -> None:
    views.wait_for(year_2019["position"])
    rows = {r["unit"]: r for r in views.view("evaluation", year=2019)["rows"]}
    assert set(rows) == {"pf", "gf"}
    assert rows["pf"] == {
        "unit": "pf", "unit_name": PF, "measures_due": 2, "done_on_time": 1, "on_time_rate": 0.5, "overdue_at_year_end": 0,
        "urgings": 1, "late_entries": 1, "case_responses": 0, "case_response_hours": None,
        "grades": "P第1项：优秀", "flagged": True,
        "flags": "P第1项评为优秀，但当年被催办（依据记录最高为良好）",
    }
    assert rows["gf"] == {
        "unit": "gf", "unit_name": GF, "measures_due": 1, "done_on_time": 0, "on_time_rate": 0.0, "overdue_at_year_end": 1,
        "urgings": 0, "late_entries": 0, "case_responses": 0, "case_response_hours": None,
        "grades": "P第2项：合格", "flagged": False, "flags": None,
    }
    assert views.view("evaluation", year=2020)["rows"] == [
        {"unit": "gf", "unit_name": GF, "measures_due": 0, "done_on_time": 0, "on_time_rate": None, "overdue_at_year_end": 1,
         "urgings": 0, "late_entries": 0, "case_responses": 0, "case_response_hours": None,
         "grades": None, "flagged": False, "flags": None},
    ]


def checkpointing(monkeypatch: pytest.MonkeyPatch, *, every: int, rebuild_batch: int, batch: int | None = None) -> None:
    """A checkpoint every ``every`` positions and rebuilds of ``rebuild_batch`` events (and
    live batches of ``batch``), so that a small history holds several checkpoints."""
    import infrastructure.view_runner as runner
    import projections.views as pv

    monkeypatch.setattr(pv, "CHECKPOINT_EVERY", every)
    monkeypatch.setattr(runner, "REBUILD_BATCH", rebuild_batch)
    if batch is not None:
        monkeypatch.setattr(runner, "BATCH", batch)


def test_as_of_replays_from_a_checkpoint_without_touching_the_live_view(
    views: Views, year_2019: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = views.ledger
    checkpointing(monkeypatch, every=3, rebuild_batch=2, batch=2)
    import infrastructure.past_briefs as past_briefs

    monkeypatch.setattr(past_briefs, "PAGE", 2)  # the replay after the checkpoint reads several pages
    rebuild(ledger)  # live view again, now with a checkpoint every 3 positions
    before = views.summaries()
    moment = datetime(2019, 7, 10, 12, tzinfo=UTC)
    assert views.store.checkpoint_before(moment.timestamp()) is not None
    from_checkpoint = briefs_as_of(ledger, views.store, moment)
    empty = fresh_store(ledger, "none")
    assert by_id(from_checkpoint) == by_id(briefs_as_of(ledger, empty, moment))
    assert views.summaries() == before


def test_min_position_waits_for_the_view_and_rebuild_keeps_answers(views: Views, district: District, year_2019: dict[str, Any]) -> None:
    assert views.position() < year_2019["position"]
    views.wait_for(year_2019["position"])
    assert views.position() >= year_2019["position"]
    views.pulls = False
    new_issue(district)
    newest = views.ledger.recorder.max_notification_id()
    with pytest.raises(ViewsNotReady):
        views.wait_for(newest, timeout=0.05)
    views.pulls = True
    views.wait_for(newest)
    seen: list[tuple[int, int]] = []
    before = views.summaries()
    rebuild(views.ledger, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1]
    assert views.summaries() == before


# ---- HTTP and spreadsheets -----------------------------------------------------------


@pytest.fixture
def http(services, views: Views) -> TestClient:  # type: ignore[no-untyped-def]
    app = FastAPI()
    app.state.services = services
    app.state.deployment = Deployment(services)  # whose district a credential names (interfaces.http.deps)
    problems.install(app)
    app.include_router(views_http.router)
    return TestClient(app, raise_server_exceptions=False)


def cells(content: bytes, sheet: int = 0) -> list[list[Any]]:
    book = load_workbook(BytesIO(content))
    ws = book.worksheets[sheet]
    assert ws.freeze_panes == "A2"
    assert ws.page_setup.orientation == "landscape" and str(ws.page_setup.paperSize) == "9"
    assert ws.print_title_rows == "$1:$1"
    return [list(row) for row in ws.iter_rows(values_only=True)]


def as_table(view: dict[str, Any]) -> list[list[Any]]:
    """The table as a spreadsheet shows it: the JSON's values, a yes/no read 是/否."""
    shown = lambda v: ("是" if v else "否") if isinstance(v, bool) else v  # noqa: E731
    return [[c["label"] for c in view["columns"]]] + [[shown(r[c["key"]]) for c in view["columns"]] for r in view["rows"]]


@pytest.mark.parametrize("path", ["/api/v1/views/supervision", "/api/v1/views/supervision/units",
                                  "/api/v1/views/evaluation/2019", "/api/v1/views/ledger"])
def test_each_xlsx_twin_holds_the_rows_of_its_json(http: TestClient, district: District, year_2019: dict[str, Any], path: str) -> None:
    auth = {"Authorization": f"Bearer {district.tokens['supervisor']}"}
    query = f"?min_position={year_2019['position']}&as_of=2019-12-31"
    answer = http.get(path + query, headers=auth)
    assert answer.status_code == 200, answer.text
    sheet = http.get(path + ".xlsx" + query, headers=auth)
    assert sheet.status_code == 200
    disposition = sheet.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="') and "filename*=UTF-8''" in disposition
    assert as_table(answer.json()) == cells(sheet.content)
    if path.endswith("supervision"):
        assert as_table(answer.json()["due_soon"]) == cells(sheet.content, 1)
    if path.endswith("ledger"):
        for index, table in enumerate(answer.json()["sections"].values(), start=1):
            assert as_table(table) == cells(sheet.content, index)
    if path.endswith("2019"):
        assert disposition == ("attachment; filename=\"evaluation_2019_2019-12-31.xlsx\"; "
                               f"filename*=UTF-8''{quote('年终考核_2019_2019-12-31.xlsx', safe='')}")


def test_views_over_http_refuse_strangers_and_answer_503_when_the_view_lags(
    http: TestClient, district: District, views: Views
) -> None:
    assert http.get("/api/v1/views/supervision").status_code == 401
    auth = {"Authorization": f"Bearer {district.tokens['pf-clerk']}"}
    assert http.get("/api/v1/views/ledger", headers={"Authorization": f"Bearer {district.tokens['admin']}"}).status_code == 403
    views.pulls = False
    views.wait_seconds = 0.05
    lagging = http.get("/api/v1/views/supervision?min_position=999999", headers=auth)
    assert lagging.status_code == 422 and lagging.json()["rule"] == "min_position_is_logged"
    new_issue(district)
    last = district.ledger.recorder.max_notification_id()
    assert http.get(f"/api/v1/views/supervision?min_position={last}", headers=auth).status_code == 503


def test_child_ledger_and_case_response_times_for_a_hand_built_case(views: Views, district: District, clock) -> None:  # type: ignore[no-untyped-def]
    at(clock, 2019, 3, 1)
    case = play_case(district, [("classify", 1)])  # left-behind and registered_poor, in 走马岭
    rid = district.cases.refer_case(district.cmd("supervisor"), case, unit="gf", duty="法律援助").extra["referral_id"]
    report = district.cases.file_mandatory_report(district.cmd("supervisor"), case, reporter="school", nature="unattended", details=None).extra["report_id"]
    at(clock, 2019, 3, 1, hour=4)
    district.cases.accept_report(district.cmd("supervisor"), case, report)
    at(clock, 2019, 3, 2, hour=8)
    last = district.cases.provide_service(district.cmd("gf-clerk"), case, kind="legal_aid", referral_id=rid, notes="面谈")
    views.wait_for(last.position)
    rows = {r["unit"]: r for r in views.view("evaluation", year=2019)["rows"]}
    assert (rows["gf"]["case_responses"], rows["gf"]["case_response_hours"]) == (1, 30.0)
    assert (rows["bgs"]["case_responses"], rows["bgs"]["case_response_hours"]) == (1, 2.0)
    at(clock, 2019, 7, 1)
    ledger = views.view("ledger")
    assert ledger["rows"] == [
        {"street": "走马岭", "category": "留守儿童", "open": 1, "closed": 0, "total": 1},
        {"street": "走马岭", "category": "建档立卡贫困家庭", "open": 1, "closed": 0, "total": 1},
    ]
    referral = ledger["sections"]["转介与响应"]["rows"][0]
    assert (referral["unit"], referral["hours_to_first_service"], referral["days_waiting"]) == ("gf", 30.0, None)
    assert ledger["sections"]["关爱服务"]["rows"] == [{"unit": "gf", "unit_name": GF, "kind": "法律援助", "count": 1}]
    assert ledger["sections"]["台账完整性"]["rows"][0]["problems"] == "未记录监护情况；超过90天未走访；超过90天未重新评估"
    assert NAME not in json.dumps(ledger, ensure_ascii=False)


def test_rebuild_as_of_answers_past_views_and_changes_nothing_stored(views: Views, year_2019: dict[str, Any]) -> None:
    views.wait_for(year_2019["position"])
    before, position = views.summaries(), views.position()
    moment = datetime(2019, 7, 10, 12, tzinfo=UTC)
    answered = rebuild(views.ledger, view="supervision", as_of=moment)
    assert answered is not None and list(answered) == ["supervision"]
    assert answered["supervision"]["rows"] == views.view("supervision", as_of=moment)["rows"]
    everything = rebuild(views.ledger, as_of=datetime(2019, 12, 31, 15, 59, tzinfo=UTC))
    assert everything is not None and {r["unit"] for r in everything["evaluation"]["rows"]} == {"pf", "gf"}
    assert (views.summaries(), views.position()) == (before, position)
    with pytest.raises(KeyError):
        rebuild(views.ledger, view="nonsense")


# ---- checkpoints that keep only what changed; views that read only their kinds ---------


def _marks_and_versions(store) -> tuple[list[int], dict[int, set[str]]]:  # type: ignore[no-untyped-def]
    """The store's checkpoint positions and, per checkpoint, the ids it holds a version of."""
    sqlite = type(store).__name__.startswith("SQLite")
    mark, schema = ("?", "") if sqlite else ("%s", f'"{store.datastore.schema}".')
    with store.datastore.transaction(commit=False) as c:
        c.execute(f"SELECT position FROM {schema}view_marks WHERE generation={mark} ORDER BY position",
                  (store.generation,))
        marks = [int(r[0] if isinstance(r, tuple) else r["position"]) for r in c.fetchall()]
        c.execute(f"SELECT position, id FROM {schema}view_versions WHERE generation={mark}", (store.generation,))
        versions: dict[int, set[str]] = {}
        for r in c.fetchall():
            position, key = (r[0], r[1]) if isinstance(r, tuple) else (r["position"], r["id"])
            versions.setdefault(int(position), set()).add(key)
    return marks, versions


def _history_recorded_out_of_order(district: District, clock) -> None:  # type: ignore[no-untyped-def]
    """Issues registered on ten March days of 2019, the third of them recorded in 2021."""
    sup = district.cmd("supervisor")
    at(clock, 2019, 3, 1)
    district.issues.register_plan(sup, number="Q", title="方案", issuer_unit="bgs", year=2019)
    for day in range(1, 11):
        if day == 3:
            at(clock, 2021, 6, 1)
        else:
            at(clock, 2019, 3, day)
        district.issues.register_issue(sup, plan=plan_id("Q"), seq=day, duty="职责", problem=f"问题{day}", units=["pf"])


def test_a_checkpoint_versions_exactly_the_summaries_changed_since_the_previous_one(
    views: Views, year_2019: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = views.ledger
    checkpointing(monkeypatch, every=3, rebuild_batch=2)
    rebuild(ledger)
    marks, versions = _marks_and_versions(views.store)
    assert len(marks) >= 3
    notifications = topic_notifications(ledger)
    previous = 0
    for position in marks:
        changed = {str(n.originator_id) for n in notifications if previous < n.id <= position}
        assert versions.get(position, set()) == changed
        previous = position
    # Each summary as of the last checkpoint is its latest version there: the live summary
    # when nothing of it was folded after that checkpoint.
    last = marks[-1]
    untouched_since = {str(n.originator_id) for n in notifications if n.id > last}
    stored = by_id(views.store.checkpoint_before(float("inf"))[1])  # type: ignore[index]
    for key, summary in by_id(views.summaries()).items():
        if key not in untouched_since:
            assert stored[key] == folds.brief(summary)


def test_as_of_counts_every_recorded_time_since_the_previous_checkpoint(
    views: Views, district: District, clock, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    _history_recorded_out_of_order(district, clock)
    checkpointing(monkeypatch, every=4, rebuild_batch=1)
    rebuild(views.ledger)  # one event a batch: most batches between checkpoints lie before 2021
    late = datetime(2021, 6, 1, 2, tzinfo=UTC).timestamp()
    assert views.store.last_checkpoint()[1] >= late  # type: ignore[index]
    empty = fresh_store(views.ledger, "none")
    for day in range(1, 12):
        moment = datetime(2019, 3, day, 12, tzinfo=UTC)
        from_checkpoints = by_id(briefs_as_of(views.ledger, views.store, moment))
        assert from_checkpoints == by_id(briefs_as_of(views.ledger, empty, moment))
        # The 2021 registration stops the replay: nothing registered after it in the log counts.
        assert sorted(s["seq"] for s in from_checkpoints.values() if s["kind"] == "issue") == list(range(1, min(day, 2) + 1))


def test_a_view_reads_only_its_kinds_and_answers_as_from_every_summary(
    views: Views, year_2019: dict[str, Any], district: District
) -> None:
    views.catch_up()
    everything = views.summaries()
    assert {s["kind"] for s in views.briefs(kinds=("issue",))} == {"issue"}
    assert by_id(views.briefs(kinds=("plan", "issue"))) == by_id(
        [folds.brief(s) for s in everything if s["kind"] in ("plan", "issue")])
    for moment in (None, datetime(2019, 7, 10, 12, tzinfo=UTC)):
        # Whole summaries folded from the start of the log up to the moment, as the oracle.
        summaries = everything if moment is None else replay([], [
            e for e in map(views.ledger.mapper.to_domain_event, topic_notifications(views.ledger))
            if e.timestamp <= moment])
        now = moment or views.ledger.clock()
        named = views.ledger.unit_names.view
        assert views.view("supervision", as_of=moment)["rows"] == named(
            queries.supervision(summaries, now, views.thresholds))["rows"]
        assert views.view("units", as_of=moment)["rows"] == named(queries.units(summaries, now))["rows"]
        assert views.view("evaluation", as_of=moment, year=2019)["rows"] == named(queries.evaluation(
            summaries, 2019, views.thresholds))["rows"]


def test_folding_in_place_answers_what_the_pure_fold_answers_and_the_pure_fold_copies(
    views: Views, year_2019: dict[str, Any]
) -> None:
    from projections import folds

    ledger = views.ledger
    pure: dict[str, Any] = {}
    in_place: dict[str, Any] = {}
    for n in topic_notifications(ledger):
        event = ledger.mapper.to_domain_event(n)
        key = str(event.originator_id)
        before = json.dumps(pure.get(key), sort_keys=True)
        folded = folds.apply(pure.get(key), event)
        assert json.dumps(pure.get(key), sort_keys=True) == before  # the argument is untouched
        pure[key] = folded
        in_place[key] = folds.apply(in_place.get(key), event, in_place=True)
    assert in_place == pure


def test_creating_the_tables_drops_the_old_full_checkpoints(views: Views, year_2019: dict[str, Any]) -> None:
    store = views.store
    sqlite = type(store).__name__.startswith("SQLite")
    schema = "" if sqlite else f'"{store.datastore.schema}".'
    with store.datastore.transaction(commit=True) as c:
        c.execute(f"CREATE TABLE {schema}view_checkpoints (generation TEXT, position INTEGER, max_recorded REAL, data TEXT)")
    again = view_store_for(views.ledger)
    with again.datastore.transaction(commit=False) as c:
        if type(again).__name__.startswith("SQLite"):
            c.execute("SELECT count(*) FROM sqlite_master WHERE name='view_checkpoints'")
            left = c.fetchone()[0]
        else:
            c.execute("SELECT count(*) AS n FROM pg_tables WHERE tablename='view_checkpoints' "
                      "AND schemaname=%s", (again.datastore.schema,))
            left = c.fetchone()["n"]
    assert left == 0
    moment = datetime(2019, 7, 10, 12, tzinfo=UTC)
    assert by_id(briefs_as_of(views.ledger, again, moment)) == by_id(
        briefs_as_of(views.ledger, fresh_store(views.ledger, "none"), moment))
