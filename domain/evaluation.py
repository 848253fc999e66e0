"""年终考核: one evaluation per year of an issue or a case, graded by the rubric in force."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domain.base import InvalidCommand, LedgerAggregate, RuleViolated, Stamp
from domain.correction import CorrectableAggregate
from domain.free_text import check_free_text

if TYPE_CHECKING:  # what the aggregate composing it gives it
    _Base = CorrectableAggregate
else:
    _Base = object

GRADES = ("优秀", "良好", "合格", "不合格")


def check_grade(grade: str, score: float) -> None:
    if grade not in GRADES:
        raise InvalidCommand("grade_is_known", f"等次须为{'、'.join(GRADES)}之一")
    if not 0 <= score <= 100:
        raise InvalidCommand("score_between_0_and_100", "分数须在0到100之间")


def check_new(
    evaluations: dict[int, dict[str, Any]], noun: str, *, year: int, grade: str, score: float,
    findings: str,
) -> None:
    """A second evaluation of a year is refused: it is corrected instead."""
    check_grade(grade, score)
    check_free_text("考核意见", findings)
    if year in evaluations:
        raise RuleViolated("one_evaluation_per_year", f"该{noun}{year}年度已有年终考核，请用更正")


def check_corrected(current: dict[str, Any], values: dict[str, Any]) -> None:
    if {"grade", "score"} & values.keys():
        check_grade(values.get("grade", current["grade"]), values.get("score", current["score"]))


def new_evaluation(
    year: int, grade: str, score: float, findings: str, rubric_version: str
) -> dict[str, Any]:
    return {
        "year": year, "grade": grade, "score": score, "findings": findings,
        "rubric_version": rubric_version,
    }


class YearEndEvaluations(_Base):
    """年终考核 of an issue or a case, composed into both as a base class (as domain.urging is):
    each keeps its own event (``RectificationIssue.EvaluatedAtYearEnd``,
    ``ChildCase.EvaluatedAtYearEnd``), redefined on it by the library from the class here."""

    # What a second evaluation of a year calls the aggregate: 问题 or 个案.
    evaluated_noun: str

    if TYPE_CHECKING:
        evaluations: dict[int, dict[str, Any]]

    class EvaluatedAtYearEnd(LedgerAggregate.Event):
        year: int
        grade: str
        score: float
        findings: str
        rubric_version: str

        def apply(self, aggregate: Any) -> None:
            aggregate._note_entry("EvaluatedAtYearEnd", self.user, self.unit, year=self.year)
            aggregate.evaluations[self.year] = new_evaluation(
                self.year, self.grade, self.score, self.findings, self.rubric_version)

    def evaluate(
        self, stamp: Stamp, *, year: int, grade: str, score: float, findings: str,
        rubric_version: str,
    ) -> None:
        check_new(self.evaluations, self.evaluated_noun, year=year, grade=grade, score=score, findings=findings)
        self.trigger_event(
            self.EvaluatedAtYearEnd, **stamp.fields(), year=year, grade=grade, score=score, findings=findings,
            rubric_version=rubric_version,
        )
