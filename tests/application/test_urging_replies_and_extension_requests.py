"""Replies to urgings, requests for a later deadline and their decision, and the acceptance of a
referral: the rules, through the application, on both backends; and the to-do lists read from
the views (infrastructure.view_runner.Views.to_do) within the reader's scope."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Any
from uuid import UUID

import pytest

from application.commands import Command
from application.errors import Forbidden, NotFound
from application.read_policy import POLICY
from domain.base import InvalidCommand, RuleViolated
from domain.plan import plan_id
from projections.todo import pending_extension_requests
from tests.application.test_child_cases import BIRTH, NAME, valid_id
from tests.district import Clock, District


def log_size(district: District) -> int:
    return district.ledger.recorder.max_notification_id() or 0


def refused(district: District, exc: type[Exception], call: Callable[[], Any]) -> Exception:
    before = log_size(district)
    with pytest.raises(exc) as info:
        call()
    assert log_size(district) == before, "a refused command must store nothing"
    return info.value


@pytest.fixture
def issue(district: District) -> UUID:
    """An issue of pf (lead) and sfs-cq, assigned with a deadline of 30 June 2019."""
    cmd = district.cmd
    district.issues.register_plan(cmd("supervisor"), number="东政办[2019]6号", title="方案", issuer_unit="bgs", year=2019)
    made = district.issues.register_issue(cmd("supervisor"), plan=plan_id("东政办[2019]6号"), seq=1, duty="职责",
                                          problem="问题", units=["pf", "sfs-cq"], measures=[("pf", "措施", None)])
    district.issues.assign_issue(cmd("supervisor"), made.id, lead_unit="pf", co_units=["sfs-cq"], contact_person="陈静",
                                 deadline=date(2019, 6, 30), nodes=[])
    return made.id


def urge(district: District, issue: UUID, unit: str = "sfs-cq", reply_by: date = date(2019, 3, 15)) -> str:
    answer = district.issues.urge(district.cmd("supervisor"), issue, unit=unit, message="请加快", reply_by=reply_by)
    return str(answer.extra["urging_id"])


def at(day: int, month: int = 3) -> datetime:
    return datetime(2019, month, day, 2, 0, tzinfo=timezone.utc)


# ---- replies to urgings ---------------------------------------------------------------------


def test_an_urging_answers_its_id_the_version_of_its_urged_event(district: District, issue: UUID) -> None:
    answer = district.issues.urge(district.cmd("supervisor"), issue, unit="sfs-cq", message="请加快",
                                  reply_by=date(2019, 3, 15))
    assert answer.extra["urging_id"] == str(answer.version)
    assert district.issues.issue(issue).urging(answer.extra["urging_id"])["unit"] == "sfs-cq"


def test_a_reply_by_the_reply_by_date_is_on_time_and_one_after_it_is_late(
    district: District, issue: UUID, clock: Clock,
) -> None:
    first, second = urge(district, issue), urge(district, issue, unit="pf")
    clock.now = at(20)
    on_time = district.issues.reply_to_urging(district.cmd("cq-clerk", occurred_at=at(15)), issue, first, message="已部署")
    late = district.issues.reply_to_urging(district.cmd("pf-clerk"), issue, second, message="正在办理")
    assert (on_time.extra, late.extra) == ({"late": False}, {"late": True})
    urgings = {u["unit"]: u for u in district.issues.issue(issue).urgings}
    assert (urgings["sfs-cq"]["reply"], urgings["sfs-cq"]["reply_late"]) == ("已部署", False)
    assert (urgings["pf"]["replied_at"], urgings["pf"]["reply_late"]) == (at(20), True)


def test_only_the_urged_unit_replies_and_only_once(district: District, issue: UUID) -> None:
    urging = urge(district, issue)
    for who in ("supervisor", "pf-clerk", "inspector"):
        error = refused(district, Forbidden, lambda w=who: district.issues.reply_to_urging(
            district.cmd(w), issue, urging, message="回复"))
        assert error.rule == "only_urged_unit_replies"  # type: ignore[attr-defined]
    # A unit that cannot read the issue learns nothing of it: the answer of a missing issue.
    refused(district, NotFound, lambda: district.issues.reply_to_urging(district.cmd("gf-clerk"), issue, urging,
                                                                         message="回复"))
    district.issues.reply_to_urging(district.cmd("cq-clerk"), issue, urging, message="已部署")
    error = refused(district, RuleViolated, lambda: district.issues.reply_to_urging(
        district.cmd("cq-clerk"), issue, urging, message="再次回复"))
    assert error.rule == "urging_replied_once"  # type: ignore[attr-defined]


def test_a_reply_names_an_urging_of_the_issue_and_not_before_it(district: District, issue: UUID, clock: Clock) -> None:
    refused(district, NotFound, lambda: district.issues.reply_to_urging(district.cmd("cq-clerk"), issue, "99",
                                                                         message="回复"))
    clock.now = at(2)
    urging = urge(district, issue)
    error = refused(district, RuleViolated, lambda: district.issues.reply_to_urging(
        district.cmd("cq-clerk", occurred_at=at(1)), issue, urging, message="回复"))
    assert error.rule == "reply_not_before_urging"  # type: ignore[attr-defined]
    error = refused(district, InvalidCommand, lambda: district.issues.reply_to_urging(
        district.cmd("cq-clerk"), issue, urging, message="请联系 13812345678"))
    assert error.rule == "free_text_holds_no_id_or_mobile_number"  # type: ignore[attr-defined]


def test_a_unit_urged_and_no_longer_responsible_still_replies(district: District, issue: UUID) -> None:
    urging = urge(district, issue, unit="sfs-cq")
    district.issues.assign_issue(district.cmd("supervisor"), issue, lead_unit="pf", co_units=[], contact_person="陈静",
                                 deadline=date(2019, 6, 30), nodes=[])
    district.issues.reply_to_urging(district.cmd("cq-clerk"), issue, urging, message="已移交")
    assert district.issues.issue(issue).urging(urging)["reply"] == "已移交"


# ---- requests for a later deadline --------------------------------------------------------


def test_a_responsible_unit_asks_for_a_later_deadline_and_an_approval_extends_it(
    district: District, issue: UUID,
) -> None:
    asked = district.issues.request_extension(district.cmd("cq-clerk"), issue, deadline=date(2019, 9, 30),
                                              reason="涉及多部门会签")
    request = asked.extra["request_id"]
    assert district.issues.issue(issue).extension_request(request)["status"] == "pending"
    district.issues.decide_extension(district.cmd("supervisor"), issue, request, approved=True, reason="同意")
    decided = district.issues.issue(issue)
    assert decided.deadline == date(2019, 9, 30)
    assert decided.extensions[-1] == {"previous": date(2019, 6, 30), "deadline": date(2019, 9, 30),
                                      "reason": "同意", "approved_by": "supervisor"}
    assert decided.extension_request(request)["status"] == "approved"
    error = refused(district, RuleViolated, lambda: district.issues.decide_extension(
        district.cmd("supervisor"), issue, request, approved=False, reason="改变主意"))
    assert error.rule == "extension_request_decided_once"  # type: ignore[attr-defined]


def test_a_refusal_keeps_the_deadline_and_frees_the_unit_to_ask_again(district: District, issue: UUID) -> None:
    first = district.issues.request_extension(district.cmd("pf-clerk"), issue, deadline=date(2019, 8, 31),
                                              reason="人手不足").extra["request_id"]
    error = refused(district, RuleViolated, lambda: district.issues.request_extension(
        district.cmd("pf-clerk"), issue, deadline=date(2019, 9, 30), reason="再申请"))
    assert error.rule == "one_pending_extension_request_per_unit"  # type: ignore[attr-defined]
    # Another unit's request is its own.
    district.issues.request_extension(district.cmd("cq-clerk"), issue, deadline=date(2019, 7, 31), reason="会签")
    district.issues.decide_extension(district.cmd("supervisor"), issue, first, approved=False, reason="理由不足")
    assert district.issues.issue(issue).deadline == date(2019, 6, 30)
    again = district.issues.request_extension(district.cmd("pf-clerk"), issue, deadline=date(2019, 9, 30), reason="补充材料")
    assert again.extra["request_id"] == "ER3"


def test_a_request_needs_a_deadline_a_later_date_and_a_reason(district: District, issue: UUID) -> None:
    ask = district.issues.request_extension
    for deadline in (date(2019, 6, 30), date(2019, 5, 1)):
        error = refused(district, InvalidCommand, lambda d=deadline: ask(district.cmd("pf-clerk"), issue, deadline=d,
                                                                         reason="理由"))
        assert error.rule == "extension_moves_deadline_later"  # type: ignore[attr-defined]
    error = refused(district, InvalidCommand, lambda: ask(district.cmd("pf-clerk"), issue, deadline=date(2019, 9, 1),
                                                           reason="  "))
    assert error.rule == "extension_needs_reason"  # type: ignore[attr-defined]
    unassigned = district.issues.register_issue(district.cmd("supervisor"), plan=plan_id("东政办[2019]6号"), seq=2,
                                                duty="职责", problem="问题", units=["pf"]).id
    error = refused(district, RuleViolated, lambda: ask(district.cmd("pf-clerk"), unassigned,
                                                         deadline=date(2019, 9, 1), reason="理由"))
    assert error.rule == "extension_needs_a_deadline"  # type: ignore[attr-defined]


def test_only_a_responsible_unit_asks_and_only_a_supervisor_decides(district: District, issue: UUID) -> None:
    urge(district, issue, unit="sfs-cq")
    district.issues.assign_issue(district.cmd("supervisor"), issue, lead_unit="pf", co_units=[], contact_person="陈静",
                                 deadline=date(2019, 6, 30), nodes=[])
    for who in ("supervisor", "cq-clerk"):  # cq was urged, so it reads the issue, but no longer answers for it
        error = refused(district, Forbidden, lambda w=who: district.issues.request_extension(
            district.cmd(w), issue, deadline=date(2019, 9, 1), reason="理由"))
        assert error.rule == "only_responsible_unit_requests_extension"  # type: ignore[attr-defined]
    request = district.issues.request_extension(district.cmd("pf-clerk"), issue, deadline=date(2019, 9, 1),
                                                reason="理由").extra["request_id"]
    for who in ("pf-clerk", "inspector"):
        refused(district, Forbidden, lambda w=who: district.issues.decide_extension(
            district.cmd(w), issue, request, approved=True, reason="同意"))
    refused(district, NotFound, lambda: district.issues.decide_extension(
        district.cmd("supervisor"), issue, "ER9", approved=True, reason="同意"))


def test_an_approval_is_refused_once_the_deadline_has_passed_the_date_asked(district: District, issue: UUID) -> None:
    request = district.issues.request_extension(district.cmd("pf-clerk"), issue, deadline=date(2019, 8, 31),
                                                reason="理由").extra["request_id"]
    district.issues.extend_deadline(district.cmd("supervisor"), issue, deadline=date(2019, 10, 31), reason="统一延期")
    error = refused(district, InvalidCommand, lambda: district.issues.decide_extension(
        district.cmd("supervisor"), issue, request, approved=True, reason="同意"))
    assert error.rule == "extension_moves_deadline_later"  # type: ignore[attr-defined]
    district.issues.decide_extension(district.cmd("supervisor"), issue, request, approved=False, reason="已统一延期")
    assert district.issues.issue(issue).deadline == date(2019, 10, 31)


# ---- referral acceptance --------------------------------------------------------------------


@pytest.fixture
def case(district: District) -> UUID:
    return district.cases.register_case(district.cmd("cq-clerk"), street="常青花园", community="常青一社区",
                                        household_local=True, birth_date=BIRTH,
                                        person={"name": NAME, "id_number": valid_id()}).id


def test_the_referred_unit_takes_the_case_on_once_and_the_time_is_kept(
    district: District, case: UUID, clock: Clock,
) -> None:
    referral = district.cases.refer_case(district.cmd("supervisor"), case, unit="gf", duty="法律援助").extra["referral_id"]
    clock.advance(hours=5)
    for who in ("supervisor", "cq-clerk"):
        error = refused(district, Forbidden, lambda w=who: district.cases.accept_referral(district.cmd(w), case, referral))
        assert error.rule == "only_referred_unit_accepts"  # type: ignore[attr-defined]
    refused(district, NotFound, lambda: district.cases.accept_referral(district.cmd("pf-clerk"), case, referral))
    refused(district, NotFound, lambda: district.cases.accept_referral(district.cmd("gf-clerk"), case, "RF9"))
    taken = district.cases.accept_referral(district.cmd("gf-clerk"), case, referral)
    assert taken.extra == {"seconds_since_referral": 5 * 3600}
    assert district.cases.case(case).referral(referral)["accepted_at"] == clock.now
    error = refused(district, RuleViolated, lambda: district.cases.accept_referral(district.cmd("gf-clerk"), case,
                                                                                    referral))
    assert error.rule == "referral_accepted_once"  # type: ignore[attr-defined]


def test_an_ended_referral_is_not_taken_on(district: District, case: UUID) -> None:
    referral = district.cases.refer_case(district.cmd("supervisor"), case, unit="gf", duty="法律援助").extra["referral_id"]
    district.cases.close_referral(district.cmd("supervisor"), case, referral, outcome="withdrawn")
    error = refused(district, RuleViolated, lambda: district.cases.accept_referral(district.cmd("gf-clerk"), case,
                                                                                    referral))
    assert error.rule == "only_open_referral_accepted"  # type: ignore[attr-defined]


# ---- the to-do lists ----------------------------------------------------------------------------


def test_a_units_to_do_lists_what_waits_on_it_and_drops_what_it_has_done(
    district: District, issue: UUID, case: UUID, clock: Clock,
) -> None:
    first, _ = urge(district, issue), urge(district, issue, unit="pf")
    request = district.issues.request_extension(district.cmd("cq-clerk"), issue, deadline=date(2019, 9, 30),
                                                reason="会签").extra["request_id"]
    referral = district.cases.refer_case(district.cmd("cq-clerk"), case, unit="gf", duty="法律援助").extra["referral_id"]
    clock.advance(days=20)

    def to_do(who: str, unit: str) -> dict[str, list[dict[str, Any]]]:
        district.views.wait_for(district.ledger.recorder.max_notification_id())
        return district.views.to_do(POLICY.scope(district.actors[who]), unit)  # type: ignore[no-any-return]

    cq = to_do("cq-clerk", "sfs-cq")
    assert [(u["urging_id"], u["reply_by"], u["days_left"]) for u in cq["urgings_awaiting_reply"]] == [
        (first, "2019-03-15", -6)]
    assert [(r["request_id"], r["deadline"], r["current_deadline"]) for r in cq["pending_extension_requests"]] == [
        (request, "2019-09-30", "2019-06-30")]
    assert cq["referrals_awaiting_acceptance"] == []
    gf = to_do("gf-clerk", "gf")
    assert [(r["case_id"], r["referral_id"], r["duty"], r["days_waiting"]) for r in gf["referrals_awaiting_acceptance"]] \
        == [(str(case), referral, "法律援助", 20)]
    assert "person" not in str(gf) and NAME not in str(gf)
    # What a unit does leaves its list; the office sees every unit's pending requests.
    district.issues.reply_to_urging(district.cmd("cq-clerk"), issue, first, message="已部署")
    district.cases.accept_referral(district.cmd("gf-clerk"), case, referral)
    assert to_do("cq-clerk", "sfs-cq")["urgings_awaiting_reply"] == []
    assert to_do("gf-clerk", "gf")["referrals_awaiting_acceptance"] == []
    briefs = district.views.readable_briefs(POLICY.scope(district.actors["supervisor"]), ("issue",))
    assert [r["unit"] for r in pending_extension_requests(briefs)] == ["sfs-cq"]
    district.issues.decide_extension(district.cmd("supervisor"), issue, request, approved=True, reason="同意")
    assert to_do("cq-clerk", "sfs-cq")["pending_extension_requests"] == []


def test_a_units_to_do_holds_only_what_its_scope_reads(district: District, issue: UUID) -> None:
    urge(district, issue, unit="pf")
    district.views.wait_for(district.ledger.recorder.max_notification_id())
    # Asked for another unit's list, an agency sees nothing of issues it does not read.
    assert district.views.to_do(POLICY.scope(district.actors["zml-clerk"]), "pf")["urgings_awaiting_reply"] == []
    assert len(district.views.to_do(POLICY.scope(district.actors["supervisor"]), "pf")["urgings_awaiting_reply"]) == 1


def test_a_command_answer_kept_under_an_idempotency_key_carries_the_new_ids(district: District, issue: UUID) -> None:
    cmd = Command(district.actors["cq-clerk"], idempotency_key="ask-1", fingerprint="f")
    first = district.issues.request_extension(cmd, issue, deadline=date(2019, 9, 30), reason="会签")
    again = district.issues.request_extension(cmd, issue, deadline=date(2019, 9, 30), reason="会签")
    assert first == again and again.extra == {"request_id": "ER1"}


def test_the_views_fold_replies_requests_and_acceptances_to_what_the_aggregates_hold(
    district: District, issue: UUID, case: UUID,
) -> None:
    from projections import cases as case_fold, issues as issue_fold

    urging = urge(district, issue)
    district.issues.reply_to_urging(district.cmd("cq-clerk"), issue, urging, message="已部署")
    request = district.issues.request_extension(district.cmd("pf-clerk"), issue, deadline=date(2019, 9, 30),
                                                reason="会签").extra["request_id"]
    district.issues.decide_extension(district.cmd("supervisor"), issue, request, approved=True, reason="同意")
    district.issues.request_extension(district.cmd("cq-clerk"), issue, deadline=date(2019, 12, 31), reason="再议")
    referral = district.cases.refer_case(district.cmd("supervisor"), case, unit="gf", duty="法律援助").extra["referral_id"]
    district.cases.accept_referral(district.cmd("gf-clerk"), case, referral)

    def folded(fold: Any, aggregate: UUID) -> dict[str, Any]:
        summary = None
        for event in district.ledger.repository.event_store.get(aggregate):
            summary = fold(summary, event)
        return summary  # type: ignore[return-value]

    summary = folded(issue_fold.fold, issue)
    assert issue_fold.state_of_summary(summary) == issue_fold.state_of_aggregate(district.issues.issue(issue))
    assert summary["deadline"] == "2019-09-30"
    assert [r["status"] for r in issue_fold.brief(summary)["extension_requests"].values()] == ["approved", "pending"]
    case_summary = folded(case_fold.fold, case)
    assert case_fold.state_of_summary(case_summary) == case_fold.state_of_aggregate(district.cases.case(case))
    assert case_fold.brief(case_summary)["referrals"][referral]["accepted_at"] is not None


def test_a_snapshot_of_an_issue_and_a_case_with_replies_requests_and_acceptances_folds_back_the_same(
    district: District, issue: UUID, case: UUID,
) -> None:
    from domain.base import LedgerSnapshot

    urging = urge(district, issue)
    urge(district, issue, unit="pf")  # one replied, one not: urgings of two shapes
    district.issues.reply_to_urging(district.cmd("cq-clerk"), issue, urging, message="已部署")
    district.issues.request_extension(district.cmd("pf-clerk"), issue, deadline=date(2019, 9, 30), reason="会签")
    referral = district.cases.refer_case(district.cmd("supervisor"), case, unit="gf", duty="法律援助").extra["referral_id"]
    district.cases.refer_case(district.cmd("supervisor"), case, unit="pf", duty="普法")
    district.cases.accept_referral(district.cmd("gf-clerk"), case, referral)
    for aggregate in (district.issues.issue(issue), district.cases.case(case)):
        mapper = district.ledger.mapper
        restored = mapper.to_domain_event(mapper.to_stored_event(LedgerSnapshot.take(aggregate))).mutate(None)
        assert vars(restored) == vars(aggregate)
