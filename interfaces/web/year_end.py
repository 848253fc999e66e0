"""Year-end evaluation (年终考核) per unit: the unit's objective indicators (the evaluation view,
projections.indicators) beside the grade entered for each of its issues, so that a grade the
record does not support is seen while it is entered; and the year-end report to print (A4,
with the place for the office's seal and signature), for one unit or the district.

Grades are entered with the form of interfaces.web.supervision_forms (``evaluate_issue``,
``POST /api/v1/issues/{id}/evaluations``); this module only reads."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from application.access import SUPERVISOR, Actor
from application.read_policy import POLICY
from domain.issue import RectificationIssue
from interfaces.bootstrap import Services
from interfaces.http.deps import ActorDep, ServicesDep
from interfaces.web import offers, present
from interfaces.web.pages import PageRoute, caught_up, render
from projections import indicators as ind

router = APIRouter(route_class=PageRoute, include_in_schema=False)

GRADES = [(g, g) for g in ("优秀", "良好", "合格", "不合格")]
Year = Annotated[int, Path(ge=1949, le=2200)]


def graded_unit_of(issue: RectificationIssue) -> str:
    """The unit an issue's grade counts for (indicators E9), on the aggregate."""
    return ind.graded_unit({"lead_unit": issue.lead_unit, "units": issue.units})


def _today(svc: Services) -> date:
    return svc.ledger.clock().astimezone(present.BEIJING).date()


def _year(text: Any, svc: Services) -> int:
    try:
        year = int(str(text))
    except ValueError:
        return _today(svc).year
    return year if 1949 <= year <= 2200 else _today(svc).year


def _issue_facts(brief: dict[str, Any], year: int) -> dict[str, Any]:
    """What the record says of one issue for ``year``: the best grade it supports (E7) and why."""
    best, reason = ind.grade_ceiling(brief, year)
    measures = brief["measures"].values()
    return {
        "ceiling": best, "reason": reason or "按期完成，当年未被催办",
        "overdue_at_year_end": sum(1 for m in measures if ind.overdue_at_year_end(brief, m, year)),
        "urged": sum(1 for u in brief["urgings"] if ind.day_of(u["occurred_at"]).year == year),  # type: ignore[union-attr]
        "grade": (brief["evaluations"].get(str(year)) or {}).get("grade"),
    }


def _unit_row(svc: Services, caller: Actor, year: int, unit: str) -> dict[str, Any] | None:
    view = caught_up(svc).views.view("evaluation", year=year, scope=POLICY.scope(caller))
    shaped = present.evaluation(view, svc.ledger.unit_names)
    return next((r for r in shaped["rows"] if r["unit"] == unit), None)


def evaluation_context(svc: Services, caller: Actor, issue: RectificationIssue, year_text: Any) -> dict[str, Any]:
    """For the form on one issue: the year, the issue's own record and its unit's indicators."""
    year = _year(year_text, svc)
    brief = next((b for b in caught_up(svc).views.briefs(kinds=("issue",)) if b["id"] == str(issue.id)), None)
    unit = graded_unit_of(issue)
    return {"year": year, "grades": GRADES, "graded_unit": unit, "unit_name": svc.ledger.unit_names(unit),
            "facts": _issue_facts(brief, year) if brief else None, "row": _unit_row(svc, caller, year, unit)}


def _in_year(brief: dict[str, Any], plan_year: int, year: int) -> bool:
    """An issue the year's evaluation is about: of a plan issued by then, and graded that year,
    still open, or with work completed that year (an issue closed in an earlier year is not)."""
    if plan_year > year:
        return False
    if str(year) in brief["evaluations"] or not brief["closed"]:
        return True
    return any((ind.measure_done_on(m) or date.min).year == year for m in brief["measures"].values())


def _unit_issues(svc: Services, caller: Actor, unit: str, year: int) -> list[dict[str, Any]]:
    briefs = caught_up(svc).views.readable_briefs(POLICY.scope(caller), kinds=("issue", "plan"))
    plans = {b["id"]: (b["number"], int(b["year"])) for b in briefs if b["kind"] == "plan"}
    found = [b for b in briefs if b["kind"] == "issue" and ind.graded_unit(b) == unit
             and _in_year(b, plans.get(b["plan_id"], ("", year))[1], year)]
    found.sort(key=lambda b: (plans.get(b["plan_id"], ("", 0))[0], b["seq"]))
    return [{"id": b["id"], "plan": plans.get(b["plan_id"], ("", 0))[0], "seq": b["seq"], "problem": b["problem"],
             "version": b["version"], **_issue_facts(b, year)} for b in found]


def _evaluates(caller: Actor) -> bool:
    return offers.permits(lambda: POLICY.require_role(caller, SUPERVISOR, doing="年终考核", rule="evaluate"))


@router.get("/evaluation/{year}/units/{unit}")
def unit_evaluation(request: Request, year: Year, unit: Annotated[str, Path(max_length=64)], caller: ActorDep,
                    svc: ServicesDep) -> Response:
    POLICY.scope(caller)
    svc.registry.unit(unit)  # an unknown unit is the 404 page
    return render(request, "work/year_end_unit.html", {
        "year": year, "unit": unit, "unit_name": svc.ledger.unit_names(unit),
        "row": _unit_row(svc, caller, year, unit), "issues": _unit_issues(svc, caller, unit, year),
        "grades": GRADES, "may_evaluate": _evaluates(caller), "late_entry_days": svc.settings.late_entry_days,
        "done": request.query_params.get("done", "")[:6],
    })


@router.get("/evaluation/{year}/report")
def year_end_report(request: Request, year: Year, caller: ActorDep, svc: ServicesDep,
                    unit: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    scope = POLICY.scope(caller)
    names = svc.ledger.unit_names
    shaped = present.evaluation(caught_up(svc).views.view("evaluation", year=year, scope=scope), names)
    rows, graded = shaped["rows"], []
    if unit:
        svc.registry.unit(unit)
        rows = [r for r in rows if r["unit"] == unit]
        for item in _unit_issues(svc, caller, unit, year):
            kept = svc.issues.issue(UUID(item["id"])).evaluations.get(year)
            graded.append({**item, "score": kept["score"] if kept else None,
                           "findings": kept["findings"] if kept else ""})
    return render(request, "work/year_end_report.html", {
        "year": year, "unit": unit, "unit_name": names(unit) if unit else "", "rows": rows, "graded": graded,
        "flagged": sum(1 for r in rows if r["flagged"]), "today": shaped["today"],
        "late_entry_days": shaped["late_entry_days"],
    })
