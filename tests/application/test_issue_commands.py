"""The rectification-issue rules, through the application, on both backends."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from application.commands import Command
from application.errors import Forbidden, IdempotencyKeyReused, NotFound, VersionMismatch
from domain.base import InvalidCommand, RuleViolated
from domain.plan import plan_id
from tests.district import District


def log_size(district: District) -> int:
    return district.ledger.recorder.max_notification_id() or 0


@pytest.fixture
def plan(district: District):  # type: ignore[no-untyped-def]
    district.issues.register_plan(
        district.cmd("supervisor"), number="东政办[2019]6号", title="实施方案", issuer_unit="bgs", year=2019
    )
    return plan_id("东政办[2019]6号")


@pytest.fixture
def issue(district: District, plan):  # type: ignore[no-untyped-def]
    accepted = district.issues.register_issue(
        district.cmd("supervisor"), plan=plan, seq=1, duty="加强法治宣传教育", problem="有待加强具体化进行落实",
        units=["pf", "司法所"],
    )
    return accepted.id


def refused(district: District, exc: type[Exception], call) -> Exception:  # type: ignore[no-untyped-def]
    before = log_size(district)
    with pytest.raises(exc) as info:
        call()
    assert log_size(district) == before, "a refused command must store nothing"
    return info.value


def test_group_code_stands_for_every_member_unit(district: District, issue) -> None:  # type: ignore[no-untyped-def]
    assert district.issues.issue(issue).units == ["pf", "sfs-cq", "sfs-zml"]


def test_the_first_responsible_unit_leads_until_an_assignment_names_another(district: District, issue) -> None:  # type: ignore[no-untyped-def]
    from projections.issues import fold, state_of_aggregate, state_of_summary

    def summary_of(ledger, issue_id):  # type: ignore[no-untyped-def]
        summary = None
        for event in ledger.repository.event_store.get(issue_id):
            summary = fold(summary, event)
        return summary

    registered = district.issues.issue(issue)
    assert (registered.lead_unit, registered.co_units, registered.status) == ("pf", ["sfs-cq", "sfs-zml"], "registered")
    assert state_of_summary(summary_of(district.ledger, issue)) == state_of_aggregate(registered)
    district.issues.assign_issue(district.cmd("supervisor"), issue, lead_unit="sfs-cq", co_units=["pf"],
                                 contact_person="陈静", deadline=date(2019, 6, 30), nodes=[])
    assigned = district.issues.issue(issue)
    assert (assigned.lead_unit, assigned.co_units, assigned.status) == ("sfs-cq", ["pf"], "assigned")
    assert state_of_summary(summary_of(district.ledger, issue)) == state_of_aggregate(assigned)


def test_agency_of_a_responsible_unit_adopts_its_own_measure(district: District, issue) -> None:  # type: ignore[no-untyped-def]
    accepted = district.issues.adopt_measure(district.cmd("pf-clerk"), issue, unit="pf", text="纳入考核标准", due=None)
    assert accepted.extra == {"measure_id": "M1"}
    assert accepted.version == 2
    assert district.ledger.index.locate(accepted.position) == (issue, 2)


def test_agency_of_another_unit_cannot_adopt_a_measure_and_is_told_no_such_issue(district: District, issue) -> None:  # type: ignore[no-untyped-def]
    refused(district, NotFound, lambda: district.issues.adopt_measure(
        district.cmd("gf-clerk"), issue, unit="gf", text="x", due=None))


def test_agency_cannot_adopt_a_measure_for_another_unit(district: District, issue) -> None:  # type: ignore[no-untyped-def]
    refused(district, Forbidden, lambda: district.issues.adopt_measure(
        district.cmd("pf-clerk"), issue, unit="sfs-cq", text="x", due=None))


def test_measure_owner_must_be_a_responsible_unit(district: District, issue) -> None:  # type: ignore[no-untyped-def]
    refused(district, RuleViolated, lambda: district.issues.issue(issue).adopt_measure(
        _stamp(district, "pf-clerk"), owner="gf", text="x", due=None))


def _stamp(district: District, who: str):  # type: ignore[no-untyped-def]
    from domain.base import Stamp

    actor = district.actors[who]
    return Stamp.make(user=actor.name, unit=actor.unit, recorded_at=district.ledger.clock())


def _measure(district: District, issue, who: str = "pf-clerk", unit: str = "pf") -> str:  # type: ignore[no-untyped-def]
    return district.issues.adopt_measure(district.cmd(who), issue, unit=unit, text="措施", due=None).extra["measure_id"]


def test_progress_only_by_the_measure_unit(district: District, issue) -> None:  # type: ignore[no-untyped-def]
    measure = _measure(district, issue)
    refused(district, Forbidden, lambda: district.issues.report_progress(
        district.cmd("cq-clerk"), issue, measure, summary="s", evidence=[]))
    refused(district, Forbidden, lambda: district.issues.report_progress(
        district.cmd("supervisor"), issue, measure, summary="s", evidence=[]))


def test_progress_only_on_an_open_measure(district: District, issue) -> None:  # type: ignore[no-untyped-def]
    measure = _measure(district, issue)
    district.issues.complete_measure(district.cmd("pf-clerk"), issue, measure, summary="完成")
    error = refused(district, RuleViolated, lambda: district.issues.report_progress(
        district.cmd("pf-clerk"), issue, measure, summary="s", evidence=[]))
    assert error.rule == "progress_only_on_open_measure"  # type: ignore[attr-defined]


def test_unknown_measure_is_not_found(district: District, issue) -> None:  # type: ignore[no-untyped-def]
    refused(district, NotFound, lambda: district.issues.report_progress(
        district.cmd("pf-clerk"), issue, "M9", summary="s", evidence=[]))


def test_no_closure_while_a_measure_is_open(district: District, issue) -> None:  # type: ignore[no-untyped-def]
    _measure(district, issue)
    error = refused(district, RuleViolated, lambda: district.issues.close_issue(
        district.cmd("supervisor"), issue, summary="销号"))
    assert error.rule == "no_closure_while_measure_open"  # type: ignore[attr-defined]


def _closed(district: District, issue) -> None:  # type: ignore[no-untyped-def]
    measure = _measure(district, issue)
    district.issues.complete_measure(district.cmd("pf-clerk"), issue, measure, summary="完成")
    district.issues.close_issue(district.cmd("supervisor"), issue, summary="核查属实，予以销号")


def test_a_closed_issue_takes_only_reopening_evaluation_and_corrections(district: District, issue) -> None:  # type: ignore[no-untyped-def]
    _closed(district, issue)
    assert district.issues.issue(issue).status == "closed"
    for attempt in (
        lambda: district.issues.adopt_measure(district.cmd("pf-clerk"), issue, unit="pf", text="x", due=None),
        lambda: district.issues.urge(district.cmd("supervisor"), issue, unit="pf", message="m", reply_by=date(2019, 4, 1)),
        lambda: district.issues.close_issue(district.cmd("supervisor"), issue, summary="again"),
    ):
        error = refused(district, RuleViolated, attempt)
        assert error.rule == "closed_issue_takes_only_reopening_evaluation_correction"  # type: ignore[attr-defined]
    district.issues.evaluate_issue(district.cmd("supervisor"), issue, year=2019, grade="良好", score=85, findings="")
    history = district.trail.history(issue)
    district.issues.correct_issue_entry(district.cmd("supervisor"), issue, position=history[-1]["position"],
                               changes={"score": 88}, reason="录入错误")
    district.issues.reopen_issue(district.cmd("supervisor"), issue, reason="复查发现反弹")
    assert district.issues.issue(issue).status == "awaiting_closure"
    assert district.issues.issue(issue).evaluations[2019]["score"] == 88


def test_one_evaluation_per_issue_and_year(district: District, issue) -> None:  # type: ignore[no-untyped-def]
    district.issues.evaluate_issue(district.cmd("supervisor"), issue, year=2019, grade="合格", score=70, findings="")
    error = refused(district, RuleViolated, lambda: district.issues.evaluate_issue(
        district.cmd("supervisor"), issue, year=2019, grade="优秀", score=95, findings=""))
    assert error.rule == "one_evaluation_per_year"  # type: ignore[attr-defined]
    district.issues.evaluate_issue(district.cmd("supervisor"), issue, year=2020, grade="优秀", score=95, findings="")


def test_a_correction_names_an_earlier_event_of_the_same_issue(district: District, issue, plan) -> None:  # type: ignore[no-untyped-def]
    other = district.issues.register_issue(district.cmd("supervisor"), plan=plan, seq=2, duty="d", problem="p", units=["gf"])
    error = refused(district, RuleViolated, lambda: district.issues.correct_issue_entry(
        district.cmd("supervisor"), issue, position=other.position, changes={"duty": "x"}, reason="r"))
    assert error.rule == "correction_names_earlier_event"  # type: ignore[attr-defined]
    refused(district, RuleViolated, lambda: district.issues.correct_issue_entry(
        district.cmd("supervisor"), issue, position=10_000, changes={"duty": "x"}, reason="r"))


def test_a_correction_by_its_author_changes_what_the_issue_shows(district: District, issue) -> None:  # type: ignore[no-untyped-def]
    accepted = district.issues.adopt_measure(district.cmd("pf-clerk"), issue, unit="pf", text="错字措施", due=None)
    district.issues.correct_issue_entry(district.cmd("pf-clerk"), issue, position=accepted.position,
                               changes={"text": "正确的措施"}, reason="错别字")
    assert district.issues.issue(issue).measures["M1"]["text"] == "正确的措施"
    refused(district, Forbidden, lambda: district.issues.correct_issue_entry(
        district.cmd("cq-clerk"), issue, position=accepted.position, changes={"text": "x"}, reason="r"))
    refused(district, InvalidCommand, lambda: district.issues.correct_issue_entry(
        district.cmd("pf-clerk"), issue, position=accepted.position, changes={"owner": "gf"}, reason="r"))


def test_occurred_at_may_not_be_in_the_future(district: District, issue) -> None:  # type: ignore[no-untyped-def]
    future = district.ledger.clock() + timedelta(hours=1)
    cmd = Command(actor=district.actors["pf-clerk"], occurred_at=future)
    refused(district, InvalidCommand, lambda: district.issues.adopt_measure(cmd, issue, unit="pf", text="x", due=None))


def test_occurred_at_defaults_to_recorded_at_and_may_be_earlier(district: District, issue, clock) -> None:  # type: ignore[no-untyped-def]
    claimed = clock.now - timedelta(days=20)
    district.issues.adopt_measure(Command(actor=district.actors["pf-clerk"], occurred_at=claimed), issue, unit="pf", text="x", due=None)
    registered, adopted = district.trail.history(issue)
    assert registered["occurred_at"] == registered["recorded_at"] == clock.now
    assert adopted["occurred_at"] == claimed and adopted["recorded_at"] == clock.now
    assert adopted["recorder"] == "pf-clerk" and adopted["unit"] == "pf"


def test_if_match_with_another_version_is_refused(district: District, issue) -> None:  # type: ignore[no-untyped-def]
    cmd = Command(actor=district.actors["pf-clerk"], expected_version=7)
    refused(district, VersionMismatch, lambda: district.issues.adopt_measure(cmd, issue, unit="pf", text="x", due=None))
    cmd = Command(actor=district.actors["pf-clerk"], expected_version=1)
    assert district.issues.adopt_measure(cmd, issue, unit="pf", text="x", due=None).version == 2


def test_a_command_sent_again_with_its_idempotency_key_returns_the_first_answer(district: District, issue) -> None:  # type: ignore[no-untyped-def]
    cmd = Command(actor=district.actors["pf-clerk"], idempotency_key="k-1", fingerprint="f")
    first = district.issues.adopt_measure(cmd, issue, unit="pf", text="x", due=None)
    size = log_size(district)
    again = district.issues.adopt_measure(cmd, issue, unit="pf", text="x", due=None)
    assert again == first
    assert log_size(district) == size
    other = Command(actor=district.actors["pf-clerk"], idempotency_key="k-1", fingerprint="g")
    refused(district, IdempotencyKeyReused, lambda: district.issues.adopt_measure(other, issue, unit="pf", text="y", due=None))


def test_the_same_plan_number_or_issue_seq_twice_is_refused(district: District, issue, plan) -> None:  # type: ignore[no-untyped-def]
    refused(district, RuleViolated, lambda: district.issues.register_plan(
        district.cmd("supervisor"), number="东政办[2019]6号", title="t", issuer_unit="bgs", year=2019))
    refused(district, RuleViolated, lambda: district.issues.register_issue(
        district.cmd("supervisor"), plan=plan, seq=1, duty="d", problem="p", units=["pf"]))


def test_unknown_units_and_plans_are_not_found(district: District, plan) -> None:  # type: ignore[no-untyped-def]
    refused(district, NotFound, lambda: district.issues.register_issue(
        district.cmd("supervisor"), plan=plan, seq=3, duty="d", problem="p", units=["nope"]))
    refused(district, NotFound, lambda: district.issues.register_issue(
        district.cmd("supervisor"), plan=plan_id("none"), seq=3, duty="d", problem="p", units=["pf"]))


def test_issue_as_of_a_past_moment_replays_by_recorded_time(district: District, issue, clock) -> None:  # type: ignore[no-untyped-def]
    before = clock.now
    clock.advance(days=3)
    _measure(district, issue)
    assert district.issues.issue(issue, as_of=before).measures == {}
    assert list(district.issues.issue(issue).measures) == ["M1"]
    with pytest.raises(NotFound):
        district.issues.issue(issue, as_of=before - timedelta(days=1))


def test_history_is_for_supervisors_inspectors_and_its_units(district: District, issue) -> None:  # type: ignore[no-untyped-def]
    for who in ("supervisor", "inspector", "pf-clerk", "cq-clerk"):
        assert district.issues.issue_history(district.actors[who], issue)[0]["type"] == "Registered"
    with pytest.raises(NotFound):  # as if there were no such issue: an agency cannot probe ids
        district.issues.issue_history(district.actors["gf-clerk"], issue)
    with pytest.raises(Forbidden):  # the role reads no issues, whichever
        district.issues.issue_history(district.actors["admin"], issue)


def test_deadline_extension_needs_an_assignment_and_a_later_date(district: District, issue) -> None:  # type: ignore[no-untyped-def]
    refused(district, RuleViolated, lambda: district.issues.extend_deadline(
        district.cmd("supervisor"), issue, deadline=date(2019, 9, 1), reason="r"))
    district.issues.assign_issue(district.cmd("supervisor"), issue, lead_unit="pf", co_units=["司法所"],
                        contact_person="张三", deadline=date(2019, 6, 30), nodes=[date(2019, 4, 30)])
    refused(district, InvalidCommand, lambda: district.issues.extend_deadline(
        district.cmd("supervisor"), issue, deadline=date(2019, 6, 1), reason="r"))
    district.issues.extend_deadline(district.cmd("supervisor"), issue, deadline=date(2019, 9, 30), reason="汛期")
    assert district.issues.issue(issue).deadline == date(2019, 9, 30)


def test_only_supervisors_run_the_supervision_commands(district: District, issue) -> None:  # type: ignore[no-untyped-def]
    for who in ("pf-clerk", "inspector", "admin"):
        refused(district, Forbidden, lambda who=who: district.issues.urge(
            district.cmd(who), issue, unit="pf", message="m", reply_by=date(2019, 4, 1)))
        refused(district, Forbidden, lambda who=who: district.issues.evaluate_issue(
            district.cmd(who), issue, year=2019, grade="优秀", score=90, findings=""))


def test_the_registration_itself_can_be_corrected(district: District, issue) -> None:  # type: ignore[no-untyped-def]
    registered = district.trail.history(issue)[0]
    _measure(district, issue)
    district.issues.correct_issue_entry(district.cmd("supervisor"), issue, position=registered["position"],
                               changes={"problem": "具体化落实不够"}, reason="照原件更正")
    assert district.issues.issue(issue).problem == "具体化落实不够"
    assert district.issues.issue(issue).measures["M1"]["unit"] == "pf"
