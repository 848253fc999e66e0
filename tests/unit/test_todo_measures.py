"""The measures' part of a unit's to-do (projections.todo_measures): which of a unit's measures
are due soon or overdue by the indicators' own dates, and which issues still wait for a measure
of its own."""

from __future__ import annotations

from datetime import date
from typing import Any

from projections.indicators import Thresholds
from projections.todo_measures import issues_without_own_measure, measures_due

TODAY = date(2019, 3, 1)
SOON = Thresholds(due_soon_days=14)


def issue(seq: int, measures: list[tuple[str, str | None, str]], *, units: tuple[str, ...] = ("pf",),
          deadline: str | None = None, closed: bool = False) -> dict[str, Any]:
    return {
        "kind": "issue", "id": f"i{seq}", "plan_id": "p", "seq": seq, "problem": f"问题{seq}", "units": list(units),
        "lead_unit": units[0], "deadline": deadline, "closed": closed,
        "measures": {f"M{n}": {"measure_id": f"M{n}", "unit": unit, "due": due, "status": status, "progress": []}
                     for n, (unit, due, status) in enumerate(measures, 1)},
    }


def test_a_measure_is_listed_from_the_horizon_down_to_overdue_on_its_own_date_or_the_issues() -> None:
    briefs = [
        issue(1, [("pf", "2019-03-15", "open")]),  # the horizon's last day
        issue(2, [("pf", "2019-03-16", "open")]),  # a day beyond it
        issue(3, [("pf", None, "open")], deadline="2019-03-01"),  # due today, by the issue's deadline
        issue(4, [("pf", "2019-02-20", "open")]),  # 9 days overdue
        issue(5, [("pf", "2019-02-20", "completed")]),
        issue(6, [("pf", "2019-02-20", "open")], closed=True),
        issue(7, [("gf", "2019-03-02", "open")], units=("gf", "pf")),
    ]
    rows = measures_due(briefs, "pf", TODAY, SOON)
    assert [(r["issue_id"], r["days_left"], r["overdue"]) for r in rows] == [
        ("i4", -9, True), ("i3", 0, False), ("i1", 14, False)]


def test_an_issue_waits_on_each_of_its_units_until_it_adopts_a_measure_of_its_own() -> None:
    briefs = [
        issue(1, [("gf", None, "open")], units=("gf", "pf"), deadline="2019-06-30"),
        issue(2, [("pf", None, "completed")], units=("pf",)),
        issue(3, [], units=("pf",)),
        issue(4, [], units=("pf",), closed=True),
    ]
    assert [(r["issue_id"], r["lead"]) for r in issues_without_own_measure(briefs, "pf")] == [
        ("i1", False), ("i3", True)]
    assert [r["issue_id"] for r in issues_without_own_measure(briefs, "gf")] == []
