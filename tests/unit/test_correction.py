"""One correction mechanism (domain.correction): what a correction may change, how it
changes an aggregate and how a view folds it come from one definition per aggregate, and
the application seals the personal fields that definition names."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

from domain.base import Stamp, recording_at
from domain.case import ChildCase
from domain.case_corrections import CORRECTIONS as CASE_CORRECTIONS
from domain.case_personal import SEALED_PREFIX
from domain.issue import RectificationIssue
from projections import cases, issues
from tests.unit.test_free_text_fields import issue

T0 = datetime(2024, 3, 1, 2, 0, tzinfo=timezone.utc)
SEALED = SEALED_PREFIX + "A" * 64
REASON = SEALED_PREFIX + "R" * 64
HASH = "ab" * 32


def stamp(unit: str = "bgs", *, hours: int = 0) -> Stamp:
    return Stamp.make(user=f"{unit}-clerk", unit=unit, recorded_at=T0 + timedelta(hours=hours))


def folded(aggregate: Any, fold: Any) -> dict[str, Any]:
    summary = None
    for e in aggregate.pending_events:
        summary = fold(summary, e)
    assert summary is not None
    return summary


def test_every_correctable_issue_entry_changes_the_aggregate_and_its_view_alike() -> None:
    made = issue(progress=True, measures_done=True)  # registered, assigned, M1 adopted, reported, done
    with recording_at(T0):
        made.extend_deadline(stamp(), deadline=date(2024, 7, 31), reason="延期")
        made.urge(stamp(), target="pf", message="催办", reply_by=date(2024, 3, 8))
        made.evaluate(stamp(), year=2024, grade="合格", score=70, findings="意见", rubric_version="r1")
        made.close(stamp(), summary="已整改")
        for version, changes in [
            (1, {"duty": "新职责", "problem": "新问题", "remarks": "新备注"}),
            (2, {"contact_person": "李明", "deadline": "2024-07-15", "nodes": ["2024-05-01", "2024-04-01"]}),
            (3, {"text": "新措施", "due": "2024-06-01"}),
            (4, {"summary": "新进展", "evidence": [{"name": "b.docx", "sha256": HASH}]}),
            (5, {"summary": "新办结"}),
            (6, {"reason": "新理由"}),
            (7, {"message": "新催办", "reply_by": "2024-03-09"}),
            (8, {"grade": "良好", "score": 85, "findings": "新意见"}),
            (9, {"summary": "新销号"}),
        ]:
            made.correct(stamp(), corrected_version=version, position=version, changes=changes, reason="更正")
    summary = folded(made, issues.fold)
    assert issues.state_of_summary(summary) == issues.state_of_aggregate(made)
    assert (made.duty, made.contact_person, made.nodes) == ("新职责", "李明", [date(2024, 4, 1), date(2024, 5, 1)])
    measure = made.measures["M1"]
    assert (measure["text"], measure["due"], measure["completion_summary"]) == ("新措施", date(2024, 6, 1), "新办结")
    assert measure["progress"][0]["evidence"] == [{"name": "b.docx", "sha256": HASH}]
    assert (summary["nodes"], summary["closure_summary"]) == (["2024-04-01", "2024-05-01"], "新销号")
    assert summary["measures"]["M1"]["completion_summary"] == "新办结"
    # The view keeps no evidence, and no state keeps an extension's corrected reason.
    assert "evidence" not in summary["measures"]["M1"]["progress"][0]
    assert made.extensions[0]["reason"] == summary["extensions"][0]["reason"] == "延期"


def test_a_correction_of_a_closure_changes_nothing_once_the_issue_is_reopened() -> None:
    with recording_at(T0):
        made = RectificationIssue.register(stamp(), plan_id=uuid4(), seq=1, duty="职责", problem="问题",
                                           units=["pf"], remarks="")
        made.adopt_measure(stamp("pf"), owner="pf", text="措施", due=None)
        made.complete_measure(stamp("pf"), measure_id="M1", summary="已完成", evidence=[])
        made.close(stamp(), summary="已整改")
        made.reopen(stamp(), reason="复查未通过")
        made.correct(stamp(), corrected_version=4, position=4, changes={"summary": "新销号"}, reason="更正")
    summary = folded(made, issues.fold)
    assert made.closure_summary is None and summary["closure_summary"] is None


def test_every_correctable_case_entry_changes_the_aggregate_and_its_view_alike() -> None:
    with recording_at(T0):
        made = ChildCase.register(stamp("civil"), case_number="ET2024-7K3M9QXA", street="径河街道",
                                  community="三店村", household_local=True, birth_date=date(2015, 6, 1),
                                  registering_unit="civil", sealed=SEALED)
        made.classify(stamp("civil"), left_behind=True, categories=["poverty"], evidence=[])
        made.record_guardianship(stamp("civil"), arrangement="statutory", sealed=SEALED)
        made.file_mandatory_report(stamp("school"), reporter="school", nature="abuse")
        referral_id = made.refer(stamp("civil"), to_unit="legal-aid", duty="法律援助")
        made.provide_service(stamp("legal-aid", hours=1), kind="legal_aid", referral_id=referral_id)
        made.evaluate(stamp(), year=2024, grade="合格", score=70, findings="意见", rubric_version="r1")
        for version, changes in [
            (1, {"street": "将军路街道", "community": "新村", "household_local": True}),
            (2, {"categories": ["poverty", "disability"]}),
            (3, {"arrangement": "entrusted", "sealed": SEALED}),
            (4, {"reporter": "kindergarten", "nature": "abandonment"}),
            (5, {"duty": "司法救助"}),
            (6, {"kind": "judicial_aid"}),
            (7, {"grade": "良好", "score": 85, "findings": "新意见"}),
        ]:
            made.correct(stamp(hours=2), corrected_version=version, position=version, changes=changes,
                         sealed_reason=REASON)
    summary = folded(made, cases.fold)
    assert cases.state_of_summary(summary) == cases.state_of_aggregate(made)
    assert (made.street, made.categories, made.guardianships[0]["arrangement"]) == (
        "将军路街道", ["poverty", "disability"], "entrusted")
    assert summary["community"] == made.community == "新村"
    assert summary["reports"]["MR1"]["nature"] == made.reports["MR1"]["nature"] == "abandonment"
    assert summary["referrals"][referral_id]["duty"] == made.referrals[referral_id]["duty"] == "司法救助"
    assert summary["guardianships"][0]["arrangement"] == "entrusted"
    assert summary["evaluations"]["2024"] == {"grade": "良好", "score": 85}
    # The view holds no sealed text and no evidence, whatever the correction changed.
    assert "sealed" not in summary["guardianships"][0] and "evidence" not in summary["assessments"]["2"]


def test_the_application_seals_the_personal_fields_the_case_definition_names() -> None:
    details = {"details": "报告详情", "reporter": "school"}
    assert CASE_CORRECTIONS.to_seal("MandatoryReportFiled", details, key_alive=True) == {"details": "报告详情"}
    assert CASE_CORRECTIONS.to_seal("Referred", {"duty": "法律援助"}, key_alive=True) == {}
    # A correction's reason is personal while the key lives, and clear once it is erased.
    assert CASE_CORRECTIONS.to_seal("EntryCorrected", {"reason": "r"}, key_alive=True) == {"reason": "r"}
    assert CASE_CORRECTIONS.to_seal("EntryCorrected", {"reason": "r"}, key_alive=False) == {}
    assert CASE_CORRECTIONS.written_by_service == {"sealed", "sealed_reason", "birth_month"}
    assert CASE_CORRECTIONS.of("Registered").stored == {
        "street", "community", "household_local", "birth_month", "sealed"}
