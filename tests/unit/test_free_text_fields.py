"""Every aggregate command that takes clear free text refuses an ID or mobile number in it,
leaving the aggregate as it was; the child case's free text arrives sealed instead."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest

from domain.base import InvalidCommand, LedgerAggregate, Stamp, recording_at
from domain.case import ChildCase
from domain.case_personal import SEALED_PREFIX
from domain.free_text import RULE, holds_id_or_mobile_number
from domain.issue import RectificationIssue
from domain.plan import Plan
from domain.registry import Unit, UnitGroup, User
from tests.unit.test_free_text import ID_NUMBER

T0 = datetime(2024, 3, 1, 2, 0, tzinfo=timezone.utc)
PHONE = "13812345678"
SEALED = SEALED_PREFIX + "A" * 64
BAD = [f"王小明身份证{ID_NUMBER}", f"家长电话{PHONE}"]


def stamp(unit: str = "bgs") -> Stamp:
    return Stamp.make(user=f"{unit}-clerk", unit=unit, recorded_at=T0)


def issue(*, closed: bool = False, measures_done: bool = False, progress: bool = False) -> RectificationIssue:
    with recording_at(T0):
        made = RectificationIssue.register(stamp(), plan_id=uuid4(), seq=1, duty="职责", problem="问题",
                                           units=["pf"], remarks="")
        made.assign(stamp(), lead_unit="pf", co_units=[], contact_person="陈静",
                    deadline=date(2024, 6, 30), nodes=[])
        made.adopt_measure(stamp("pf"), owner="pf", text="措施", due=None)
        if progress:
            made.report_progress(stamp("pf"), measure_id="M1", summary="进展", evidence=[])
        if measures_done or closed:
            made.complete_measure(stamp("pf"), measure_id="M1", summary="已完成", evidence=[])
        if closed:
            made.close(stamp(), summary="已整改")
        return made


def case(*, erased: bool = False, closed: bool = False, referred: bool = False) -> ChildCase:
    with recording_at(T0):
        made = ChildCase.register(stamp("civil"), case_number="ET2024-7K3M9QXA", street="径河街道",
                                  community="三店村", household_local=True, birth_date=date(2015, 6, 1),
                                  registering_unit="civil", sealed=SEALED)
        if referred:
            made.refer(stamp(), to_unit="legal-aid", duty="法律援助")
        if closed:
            made.close(stamp(), reason="hardship_resolved")
        if erased:
            made.erase_personal_data(stamp(), reason="保存期限届满")
        return made


def refused_without_change(target: LedgerAggregate, command: Callable[[], Any]) -> None:
    version, pending = target.version, len(target.pending_events)
    with pytest.raises(InvalidCommand) as raised, recording_at(T0 + timedelta(minutes=1)):
        command()
    assert raised.value.rule == RULE
    assert ID_NUMBER not in str(raised.value) and PHONE not in str(raised.value)
    assert (target.version, len(target.pending_events)) == (version, pending)


COMMANDS: dict[str, Callable[[str], tuple[LedgerAggregate | None, Callable[[], Any]]]] = {
    "plan title": lambda bad: (None, lambda: Plan.register(
        stamp(), number="东政办[2019]6号", title=bad, issuer_unit="bgs", year=2019)),
    "plan number": lambda bad: (None, lambda: Plan.register(
        stamp(), number=f"东政办{bad}号", title="实施方案", issuer_unit="bgs", year=2019)),
    "unit name": lambda bad: (None, lambda: Unit.register(stamp(), code="pf", name=f"区妇联{bad}")),
    "unit code": lambda bad: (None, lambda: Unit.register(stamp(), code=bad, name="区妇联")),
    "unit group code": lambda bad: (None, lambda: UnitGroup.found(stamp(), code=bad)),
    "user name": lambda bad: (None, lambda: User.enrol(stamp(), name=f"陈静{bad}", unit_code="pf", role="agency")),
    "issue evidence correction": lambda bad: (i := issue(progress=True), lambda: i.correct(
        stamp(), corrected_version=i.version, position=9, changes={"evidence": [{"name": bad, "sha256": "a" * 64}]},
        reason="更正")),
    "unit duty": lambda bad: (u := Unit.register(stamp(), code="pf", name="区妇联"),
                              lambda: u.define_duty(stamp(), duty_id="D1", text=bad)),
    "issue duty": lambda bad: (None, lambda: RectificationIssue.register(
        stamp(), plan_id=uuid4(), seq=1, duty=bad, problem="问题", units=["pf"])),
    "issue problem": lambda bad: (None, lambda: RectificationIssue.register(
        stamp(), plan_id=uuid4(), seq=1, duty="职责", problem=bad, units=["pf"])),
    "issue remarks": lambda bad: (None, lambda: RectificationIssue.register(
        stamp(), plan_id=uuid4(), seq=1, duty="职责", problem="问题", units=["pf"], remarks=bad)),
    "measure text": lambda bad: (i := issue(), lambda: i.adopt_measure(stamp("pf"), owner="pf", text=bad, due=None)),
    "progress summary": lambda bad: (i := issue(), lambda: i.report_progress(
        stamp("pf"), measure_id="M1", summary=bad, evidence=[])),
    "evidence name": lambda bad: (i := issue(), lambda: i.report_progress(
        stamp("pf"), measure_id="M1", summary="进展", evidence=[{"name": f"{bad}.pdf", "sha256": "a" * 64}])),
    "completion summary": lambda bad: (i := issue(), lambda: i.complete_measure(
        stamp("pf"), measure_id="M1", summary=bad, evidence=[])),
    "extension reason": lambda bad: (i := issue(), lambda: i.extend_deadline(
        stamp(), deadline=date(2024, 9, 30), reason=bad)),
    "urging message": lambda bad: (i := issue(), lambda: i.urge(
        stamp(), target="pf", message=bad, reply_by=date(2024, 3, 15))),
    "issue findings": lambda bad: (i := issue(), lambda: i.evaluate(
        stamp(), year=2023, grade="良好", score=80, findings=bad, rubric_version="r")),
    "closure summary": lambda bad: (i := issue(measures_done=True), lambda: i.close(stamp(), summary=bad)),
    "issue reopening reason": lambda bad: (i := issue(closed=True), lambda: i.reopen(stamp(), reason=bad)),
    "issue correction reason": lambda bad: (i := issue(), lambda: i.correct(
        stamp(), corrected_version=1, position=1, changes={"duty": "新职责"}, reason=bad)),
    "issue corrected problem": lambda bad: (i := issue(), lambda: i.correct(
        stamp(), corrected_version=1, position=1, changes={"problem": bad}, reason="更正")),
    "case street": lambda bad: (None, lambda: ChildCase.register(
        stamp("civil"), case_number="ET2024-7K3M9QXA", street=bad, community="三店村", household_local=True,
        birth_date=date(2015, 6, 1), registering_unit="civil", sealed=SEALED)),
    "referral duty": lambda bad: (c := case(), lambda: c.refer(stamp(), to_unit="legal-aid", duty=bad)),
    "case findings": lambda bad: (c := case(), lambda: c.evaluate(
        stamp(), year=2023, grade="良好", score=80, findings=bad, rubric_version="r")),
    "case reopening reason": lambda bad: (c := case(closed=True), lambda: c.reopen(stamp(), reason=bad)),
    "erasure reason": lambda bad: (c := case(), lambda: c.erase_personal_data(stamp(), reason=bad)),
    "case corrected duty": lambda bad: (c := case(referred=True), lambda: c.correct(
        stamp(), corrected_version=2, position=2, changes={"duty": bad}, sealed_reason=SEALED)),
    "correction reason after erasure": lambda bad: (c := case(erased=True), lambda: c.correct(
        stamp(), corrected_version=2, position=2, changes={"reason": "保存期限届满，依规删除"}, reason=bad)),
}


@pytest.mark.parametrize("bad", BAD, ids=["id number", "mobile number"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_clear_free_text_refuses_an_id_or_mobile_number(command: str, bad: str) -> None:
    with recording_at(T0):
        target, attempt = COMMANDS[command](bad)
    if target is None:
        with pytest.raises(InvalidCommand) as raised:
            attempt()
        assert raised.value.rule == RULE and ID_NUMBER not in str(raised.value)
        return
    refused_without_change(target, attempt)


def test_the_issue_contact_person_may_hold_an_officials_work_number() -> None:
    with recording_at(T0):
        made = issue()
        made.correct(stamp(), corrected_version=2, position=2,
                     changes={"contact_person": f"陈静 {PHONE}"}, reason="补充联系方式")
    assert made.contact_person == f"陈静 {PHONE}"


def test_a_child_case_takes_its_correction_reason_sealed_while_the_key_lives() -> None:
    made = case()
    with pytest.raises(InvalidCommand) as clear:
        made.correct(stamp(), corrected_version=1, position=1, changes={"street": "径河"}, reason="写错了")
    assert clear.value.rule == "case_free_text_arrives_sealed"
    with pytest.raises(InvalidCommand) as missing:
        made.correct(stamp(), corrected_version=1, position=1, changes={"street": "径河"})
    assert missing.value.rule == "correction_needs_reason"
    with pytest.raises(InvalidCommand) as not_sealed:
        made.correct(stamp(), corrected_version=1, position=1, changes={"street": "径河"}, sealed_reason="写错了")
    assert not_sealed.value.rule == "personal_data_arrives_sealed"
    assert made.version == 1 and len(made.pending_events) == 1
    with recording_at(T0):
        made.correct(stamp(), corrected_version=1, position=1, changes={"street": "径河"}, sealed_reason=SEALED)
    assert made.corrections[0]["reason"] is None and made.corrections[0]["sealed_reason"] == SEALED


def test_after_erasure_a_correction_reason_is_clear_and_nothing_new_is_sealed() -> None:
    made = case(erased=True)
    with pytest.raises(Exception) as sealed:
        made.correct(stamp(), corrected_version=2, position=2, changes={"reason": "期满"},
                     reason="r", sealed_reason=SEALED)
    assert getattr(sealed.value, "rule", None) == "no_personal_data_after_erasure"
    with recording_at(T0):
        made.correct(stamp(), corrected_version=2, position=2, changes={"reason": "保存期满"}, reason="措辞")
    assert made.erasure_reason == "保存期满" and made.corrections[0]["reason"] == "措辞"


def test_an_issue_correction_checks_its_texts_and_evidence_names_not_hashes() -> None:
    sha256 = "abcdefab" + "13812345678" + "F" * 45  # a hash that happens to hold a "phone"
    assert len(sha256) == 64 and holds_id_or_mobile_number(sha256)
    with recording_at(T0):
        made = issue()
        made.report_progress(stamp("pf"), measure_id="M1", summary="进展", evidence=[])
        made.correct(stamp(), corrected_version=made.version, position=9,
                     changes={"evidence": [{"name": "a.docx", "sha256": sha256}]}, reason="补充材料")
    assert made.measures["M1"]["progress"][0]["evidence"] == [{"name": "a.docx", "sha256": sha256.lower()}]


@pytest.mark.parametrize(("evidence", "rule"), [
    ([{"name": f"赵小雨身份证{ID_NUMBER}", "sha256": "a" * 64}], RULE),
    ([{"name": "a.docx", "sha256": "a" * 64}, {"name": "电话13912345678", "sha256": "b" * 64}], RULE),
    ([{"name": "a.docx", "sha256": "x"}], "correction_values_valid"),
    (["13912345678"], "correction_values_valid"),
    ([{"name": "a.docx", "sha256": "a" * 64, "note": "n"}], "correction_values_valid"),
    ([{"name": " ", "sha256": "a" * 64}], "correction_values_valid"),
    ([{"name": "a" * 201, "sha256": "a" * 64}], "correction_values_valid"),
    ([{"name": "a\nb", "sha256": "a" * 64}], "correction_values_valid"),
    ([{"name": "a.docx", "sha256": "a" * 64}] * 101, "correction_values_valid"),
    ("a.docx", "correction_values_valid"),
])
def test_an_issue_correction_validates_evidence_as_a_progress_report_does(
    evidence: object, rule: str
) -> None:
    with recording_at(T0):
        made = issue()
        made.report_progress(stamp("pf"), measure_id="M1", summary="进展", evidence=[])
        version = made.version
        with pytest.raises(InvalidCommand) as refused:
            made.correct(stamp(), corrected_version=version, position=9, changes={"evidence": evidence},
                         reason="补充材料")
    assert refused.value.rule == rule and made.version == version
    assert ID_NUMBER not in str(refused.value)
