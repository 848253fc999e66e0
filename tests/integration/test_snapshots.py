"""Snapshots of issues and cases: "as of T" through them equals a full fold of the events
recorded by T, for every prefix of a history; the current state loads through them; and
aggregates recorded before snapshots existed still load."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from application.errors import NotFound
from application.ledger import Ledger
from domain.case import ChildCase
from domain.issue import RectificationIssue
from domain.plan import plan_id
from tests.application.test_child_cases import BIRTH, valid_id
from tests.district import Clock, District

# Small, so a short history crosses many snapshots (the Ledger's own interval is larger).
EVERY = 4


def snapshotting(ledger: Ledger, every: int | None) -> None:
    intervals = dict(type(ledger).snapshotting_intervals)
    for cls in (RectificationIssue, ChildCase):
        if every is None:
            intervals.pop(cls, None)
        else:
            intervals[cls] = every
    ledger.snapshotting_intervals = intervals  # type: ignore[misc]


def full_fold(ledger: Ledger, aggregate_id: UUID, as_of: datetime) -> Any:
    aggregate = None
    for domain_event in ledger.repository.event_store.get(aggregate_id):
        if domain_event.timestamp > as_of:
            break
        aggregate = domain_event.mutate(aggregate)
    return aggregate


def snapshot_versions(ledger: Ledger, aggregate_id: UUID) -> list[int]:
    assert ledger.snapshots is not None
    return [s.originator_version for s in ledger.snapshots.get(aggregate_id)]


def moments(ledger: Ledger, aggregate_id: UUID) -> list[datetime]:
    """Every recorded time of the history, a moment between each two, and one before all."""
    times = sorted({e.timestamp for e in ledger.repository.event_store.get(aggregate_id)})
    between = [a + (b - a) / 2 for a, b in zip(times, times[1:], strict=False)]
    return [times[0] - timedelta(seconds=1), *times, *between, times[-1] + timedelta(days=1)]


def assert_every_prefix_agrees(ledger: Ledger, aggregate_id: UUID, as_of: Callable[[datetime], Any]) -> None:
    for moment in moments(ledger, aggregate_id):
        expected = full_fold(ledger, aggregate_id, moment)
        if expected is None:
            with pytest.raises(NotFound):
                as_of(moment)
            continue
        assert vars(as_of(moment)) == vars(expected), moment


def issue_history(district: District, clock: Clock, *, seq: int = 1, rounds: int = 6) -> UUID:
    ledger, sup = district.ledger, district.cmd("supervisor")
    plan = plan_id("东政办[2019]6号")
    if not ledger.exists(plan):
        district.issues.register_plan(sup, number="东政办[2019]6号", title="实施方案", issuer_unit="bgs", year=2019)
    # Registration with measures: several events recorded at one moment.
    issue = district.issues.register_issue(sup, plan=plan, seq=seq, duty="加强法治宣传教育", problem="有待加强",
                                  units=["pf"], measures=[(None, "纳入考核", date(2019, 6, 1)), (None, "开展讲座", None)]).id
    clock.advance(minutes=1)
    district.issues.assign_issue(sup, issue, lead_unit="pf", co_units=[], contact_person="李敏",
                        deadline=date(2019, 6, 30), nodes=[date(2019, 4, 30)])
    for n in range(rounds):
        clock.advance(minutes=7)
        district.issues.urge(sup, issue, unit="pf", message=f"请报送进展{n}", reply_by=date(2019, 7, 1))
        district.issues.report_progress(district.cmd("pf-clerk"), issue, "M1", summary=f"进展{n}", evidence=[])
        clock.advance(hours=5)
        district.issues.evaluate_issue(sup, issue, year=2019 + n, grade="良好", score=80 + n, findings="")
        position = district.trail.history(issue)[-1]["position"]
        district.issues.correct_issue_entry(sup, issue, position=position, changes={"score": 90}, reason="录入错误")
        clock.advance(days=3)
        district.issues.extend_deadline(sup, issue, deadline=date(2019, 8, 1 + n), reason="汛期")
    district.issues.complete_measure(district.cmd("pf-clerk"), issue, "M1", summary="完成")
    district.issues.complete_measure(district.cmd("pf-clerk"), issue, "M2", summary="完成")
    clock.advance(days=1)
    district.issues.close_issue(sup, issue, summary="销号")
    clock.advance(days=1)
    district.issues.reopen_issue(sup, issue, reason="复查")
    return issue


def case_history(district: District, clock: Clock) -> UUID:
    case = district.cases.register_case(district.cmd("cq-clerk"), street="常青花园", community="常青一社区",
                                household_local=True, birth_date=BIRTH, person={"name": "王小明", "id_number": valid_id()}).id
    for n in range(5):
        clock.advance(hours=6)
        assess = district.cases.reassess_case if n else district.cases.classify_case
        assess(district.cmd("cq-clerk"), case, left_behind=n % 2 == 0,
                             categories=["poverty"] if n % 2 == 0 else ["disability"], evidence=[])
        district.cases.visit_case(district.cmd("cq-clerk"), case, notes=f"走访{n}")
        clock.advance(days=2)
        district.cases.file_mandatory_report(district.cmd("cq-clerk"), case, reporter="school", nature="abuse", details=None)
        referral = district.cases.refer_case(district.cmd("supervisor"), case, unit="gf", duty="法律援助").extra["referral_id"]
        district.cases.provide_service(district.cmd("gf-clerk"), case, kind="legal_aid", referral_id=referral, notes=None)
        district.cases.close_referral(district.cmd("gf-clerk"), case, referral, outcome="completed")
        clock.advance(days=30)
        district.cases.evaluate_case(district.cmd("supervisor"), case, year=2019 + n, grade="良好", score=85, findings="")
    return case


def test_issue_as_of_through_snapshots_equals_a_full_fold_at_every_prefix(district: District, clock: Clock) -> None:
    ledger = district.ledger
    snapshotting(ledger, EVERY)
    issue = issue_history(district, clock)
    assert len(snapshot_versions(ledger, issue)) >= 8
    assert_every_prefix_agrees(ledger, issue, lambda moment: district.issues.issue(issue, as_of=moment))


def test_case_as_of_through_snapshots_equals_a_full_fold_at_every_prefix(district: District, clock: Clock) -> None:
    ledger = district.ledger
    snapshotting(ledger, EVERY)
    case = case_history(district, clock)
    assert len(snapshot_versions(ledger, case)) >= 8
    assert_every_prefix_agrees(ledger, case, lambda moment: ledger.as_of(ChildCase, case, "儿童个案", moment))


def test_current_state_starts_from_the_latest_snapshot_and_equals_a_full_fold(district: District, clock: Clock) -> None:
    ledger = district.ledger
    snapshotting(ledger, EVERY)
    issue = issue_history(district, clock)
    case = case_history(district, clock)
    for aggregate_id in (issue, case):
        latest = snapshot_versions(ledger, aggregate_id)[-1]
        now = ledger.repository.get(aggregate_id)
        assert latest > now.version - EVERY
        assert vars(now) == vars(full_fold(ledger, aggregate_id, clock.now))


def test_issues_recorded_before_snapshots_existed_still_load(district: District, clock: Clock) -> None:
    ledger = district.ledger
    snapshotting(ledger, None)
    older = issue_history(district, clock, seq=1, rounds=3)
    assert snapshot_versions(ledger, older) == []
    snapshotting(ledger, EVERY)
    assert vars(district.issues.issue(older)) == vars(full_fold(ledger, older, clock.now))
    assert_every_prefix_agrees(ledger, older, lambda moment: district.issues.issue(older, as_of=moment))
    # Its next events are snapshotted from then on; the past before them still folds in full.
    for n in range(EVERY):
        clock.advance(minutes=1)
        district.issues.urge(district.cmd("supervisor"), older, unit="pf", message=f"再催{n}", reply_by=date(2019, 9, 1))
    assert snapshot_versions(ledger, older)
    assert_every_prefix_agrees(ledger, older, lambda moment: district.issues.issue(older, as_of=moment))


def test_snapshot_keeps_int_keys_and_dates_as_the_fold_has_them(district: District, clock: Clock) -> None:
    ledger = district.ledger
    snapshotting(ledger, EVERY)
    issue = issue_history(district, clock, rounds=2)
    assert ledger.snapshots is not None
    snapshot = list(ledger.snapshots.get(issue))[-1]
    restored = snapshot.mutate(None)
    assert all(isinstance(k, int) for k in restored.entries)
    assert all(isinstance(k, int) for k in restored.evaluations)
    assert isinstance(restored.deadline, date)
    # Stamped with the recorded time of its last event, not the time it was taken.
    assert snapshot.timestamp == restored.modified_on


def test_a_snapshot_already_stored_at_that_version_does_not_fail_the_save(district: District, clock: Clock) -> None:
    ledger = district.ledger
    snapshotting(ledger, EVERY)
    issue = issue_history(district, clock, rounds=1)
    version = snapshot_versions(ledger, issue)[-1]
    before = snapshot_versions(ledger, issue)
    ledger.take_snapshot(issue, version=version)
    assert snapshot_versions(ledger, issue) == before
