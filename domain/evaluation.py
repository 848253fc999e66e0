"""年终考核: one evaluation per year of an issue or a case, graded by the rubric in force."""

from __future__ import annotations

from typing import Any

from domain.base import InvalidCommand, RuleViolated
from domain.free_text import check_free_text

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
