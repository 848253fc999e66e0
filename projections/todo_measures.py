"""待办, the measures' part: one unit's open measures falling due soon or overdue, and the
issues it is responsible for that it has not yet answered with a measure of its own.

Pure functions over briefs (projections.folds.brief), as projections.todo: give them the
briefs the reader's scope reads (``Views.readable_briefs`` in infrastructure.view_runner,
filtered by application.read_policy like every list and view); ``page`` answers the whole
to-do, projections.todo's lists included. The dates
are the indicators' own (projections.indicators): a measure falls due on its own date, else on
the issue's deadline (D1); it is overdue as D4 counts it; "soon" is the views' horizon
(``Thresholds.due_soon_days``, the setting ``due_soon_days``). A closed issue waits on nobody.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from domain.issue import MEASURE_COMPLETED
from projections import indicators as ind, todo
from projections.indicators import Thresholds

Brief = dict[str, Any]


def measures_due(briefs: Iterable[Brief], unit: str, today: date, thresholds: Thresholds) -> list[dict[str, Any]]:
    """``unit``'s open measures overdue (``days_left`` negative) or due within the horizon,
    soonest first: the issue, the measure's id (for its progress and completion forms), the
    due date, the days left, and the day of its latest progress report if any."""
    rows = []
    for s in todo.open_of(briefs, "issue"):
        for m in s["measures"].values():
            if m["unit"] != unit or m["status"] == MEASURE_COMPLETED:
                continue
            due = ind.measure_due(s, m)
            if due is None:
                continue
            overdue = ind.measure_overdue_days(s, m, today)
            left = (due - today).days
            if not overdue and left > thresholds.due_soon_days:
                continue
            latest = m["progress"][-1]["occurred_at"] if m["progress"] else None
            rows.append({
                "issue_id": s["id"], "plan_id": s["plan_id"], "seq": s["seq"], "problem": s["problem"],
                "measure_id": m["measure_id"], "due": due.isoformat(), "days_left": -overdue if overdue else left,
                "overdue": overdue > 0, "last_progress_at": latest,
            })
    return sorted(rows, key=lambda r: (r["due"], r["seq"], r["measure_id"]))


def issues_without_own_measure(briefs: Iterable[Brief], unit: str) -> list[dict[str, Any]]:
    """The open issues naming ``unit`` among their responsible units on which it has adopted
    no measure yet, those with the earliest deadline first (none set: last)."""
    rows = [
        {"issue_id": s["id"], "plan_id": s["plan_id"], "seq": s["seq"], "problem": s["problem"],
         "deadline": s["deadline"], "lead": s["lead_unit"] == unit}
        for s in todo.open_of(briefs, "issue")
        if unit in s["units"] and not any(m["unit"] == unit for m in s["measures"].values())
    ]
    return sorted(rows, key=lambda r: (r["deadline"] is None, r["deadline"] or "", r["seq"]))


def for_unit(briefs: list[Brief], unit: str, today: date, thresholds: Thresholds) -> dict[str, list[dict[str, Any]]]:
    """The measures' two lists of ``unit``'s to-do page."""
    return {
        "measures_due": measures_due(briefs, unit, today, thresholds),
        "issues_without_measure": issues_without_own_measure(briefs, unit),
    }


# The kinds of brief the page reads: the plans name the issues' plans by their numbers.
KINDS = ("plan", "issue", "case")


def page(briefs: list[Brief], unit: str, today: date, thresholds: Thresholds) -> dict[str, Any]:
    """The whole of ``unit``'s to-do page: the five lists, the plans' numbers by id, the day
    and the horizon of "due soon"."""
    return {
        **todo.for_unit(briefs, unit, today), **for_unit(briefs, unit, today, thresholds),
        "plans": {b["id"]: b["number"] for b in briefs if b["kind"] == "plan"},
        "today": today.isoformat(), "due_soon_days": thresholds.due_soon_days,
    }
