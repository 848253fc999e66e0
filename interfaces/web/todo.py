"""A responsible unit's 待办 page: what waits on the caller's unit now, each row with the link to
the form that settles it, the first 100 of each list. Read from the views (infrastructure.view_runner.Views.to_do_page):
projections.todo_measures.page (with projections.todo's lists) over the briefs
application.read_policy lets the caller read, of those that may wait on its unit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from application.read_policy import POLICY
from interfaces.http.deps import ActorDep, ServicesDep
from interfaces.web.pages import PageRoute, caught_up, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PATH = "/todo"
# The most rows of each list the page shows (as the issue and case lists show 100 a page).
ROWS_SHOWN = 100


def shaped(found: dict[str, Any]) -> dict[str, Any]:
    """Each row labelled with its plan's number and given the links that settle it."""
    plans: dict[str, str] = found["plans"]

    def on_issue(row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "plan": plans.get(row["plan_id"], ""), "href": f"/issues/{row['issue_id']}"}

    measures = []
    for row in map(on_issue, found["measures_due"]):
        path = f"{row['href']}/measures/{row['measure_id']}"
        measures.append({**row, "progress": f"{path}/progress", "completion": f"{path}/completion",
                         "extension": f"{row['href']}/extension-requests"})
    urgings = [{**row, "reply": f"{row['href']}/urgings/{row['urging_id']}/reply"}
               for row in map(on_issue, found["urgings_awaiting_reply"])]
    unanswered = [{**row, "adopt": f"{row['href']}/measures/new"} for row in map(on_issue, found["issues_without_measure"])]
    extensions = list(map(on_issue, found["pending_extension_requests"]))
    referrals = [{**row, "href": f"/cases/{row['case_id']}"} for row in found["referrals_awaiting_acceptance"]]
    lists = {"measures": measures, "urgings": urgings, "unanswered": unanswered, "extensions": extensions,
             "referrals": referrals}
    return {
        # Each list its most pressing rows (they come soonest due or longest waiting first):
        # a page of thousands of rows (a unit urged again and again) is no list to work from
        # on a phone, and its rendering alone took hundreds of milliseconds.
        **{name: rows[:ROWS_SHOWN] for name, rows in lists.items()},
        "counts": {name: len(rows) for name, rows in lists.items()}, "rows_shown": ROWS_SHOWN,
        "today": found["today"], "due_soon_days": found["due_soon_days"],
        "waiting": len(measures) + len(urgings) + len(unanswered) + len(referrals),
    }


@router.get(PATH)
def todo(request: Request, caller: ActorDep, svc: ServicesDep) -> Response:
    POLICY.require_unit_todo(caller)
    found = caught_up(svc).views.to_do_page(POLICY.scope(caller), caller.unit)
    return render(request, "todo.html", {**shaped(found), "unit_name": svc.ledger.unit_names(caller.unit)})
