"""Whom the overdue list's one form urges on an issue (projections.indicators.overdue_units)."""

from __future__ import annotations

from datetime import date
from typing import Any

from projections.indicators import overdue_units

TODAY = date(2019, 7, 9)


def issue(deadline: str | None, *measures: tuple[str, str | None, str], closed: bool = False) -> dict[str, Any]:
    return {
        "deadline": deadline, "closed": closed, "lead_unit": "pf", "units": ["pf", "gf", "cq"],
        "measures": {f"M{i}": {"measure_id": f"M{i}", "unit": unit, "due": due, "status": status,
                               "completed_at": "2019-04-01T09:00:00+08:00" if status == "completed" else None}
                     for i, (unit, due, status) in enumerate(measures, 1)},
    }


def test_each_unit_with_an_open_measure_past_due_is_late_once() -> None:
    late = issue("2019-12-31", ("gf", "2019-06-30", "open"), ("cq", "2019-07-01", "open"),
                 ("gf", "2019-05-01", "open"), ("pf", "2019-08-01", "open"))
    assert overdue_units(late, TODAY) == ["gf", "cq"]


def test_an_issue_past_its_deadline_with_no_late_measure_presses_its_lead_unit() -> None:
    assert overdue_units(issue("2019-06-30"), TODAY) == ["pf"]
    assert overdue_units(issue("2019-06-30", ("gf", None, "open")), TODAY) == ["gf"]  # due with the deadline


def test_finished_or_closed_work_and_work_not_yet_due_press_nobody() -> None:
    assert overdue_units(issue("2019-06-30", ("gf", None, "completed")), TODAY) == []
    assert overdue_units(issue("2019-06-30", ("gf", None, "open"), closed=True), TODAY) == []
    assert overdue_units(issue("2019-12-31", ("gf", None, "open")), TODAY) == []
