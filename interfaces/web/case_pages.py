"""The child cases' pages (儿童个案): the list a reader may read, one case with its timeline
(now or as of a date), and its personal fields behind 查看个人信息 — shown only after the read
and its reason are recorded in the case's access log (application.cases.Cases.read_personal).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from application.access import AGENCY, SUPERVISOR, Actor
from application.read_policy import POLICY
from domain.base import InvalidCommand
from interfaces.bootstrap import Services
from interfaces.http.deps import ActorDep, AsOfDep, ServicesDep
from interfaces.http.inputs import RequiredText
from interfaces.http.schemas import Body
from interfaces.web import case_correction_forms, case_present, forms, offers, present
from interfaces.web.pages import PageRoute, caught_up, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)


class PersonalReadIn(Body):
    """查看个人信息: the reason the reader gives, recorded with the read."""

    reason: RequiredText


@router.get("/cases")
def case_list(request: Request, caller: ActorDep, svc: ServicesDep,
              page: Annotated[int, Query(ge=1, le=1_000_000)] = 1) -> Response:
    scope = POLICY.scope(caller)
    ordered = caught_up(svc).views.ordered_briefs(scope, ("case",), case_present.newest_first, reverse=True)
    return render(request, "cases.html", {
        **case_present.case_rows(ordered, svc.ledger.unit_names, page),
        "may_register": offers.permits(lambda: POLICY.require_role(
            caller, SUPERVISOR, AGENCY, doing="登记儿童个案", rule="register_case")),
    })


def case_page(request: Request, svc: Services, caller: Actor, case_id: UUID, when: datetime | None,
              form: forms.Sent | None = None, status: int = 200) -> Response:
    state, entries = svc.cases.case_as_of(caller, case_id, when)
    names = svc.ledger.unit_names
    current = svc.cases.case(case_id) if when is not None else state
    reads_log = offers.permits(lambda: POLICY.require_access_log(caller))
    timeline = case_present.timeline(entries, svc.settings.late_entry_days, names)
    if when is None:  # corrections act on the case as it is now
        case_correction_forms.with_links(caller, current, timeline, entries)
    return render(request, "case.html", {
        "id": case_id, "version": current.version, "case": case_present.case_state(state, names),
        "as_of": present.day_of(when),
        "timeline": timeline,
        "late_entry_days": svc.settings.late_entry_days,
        # Forms act on the case as it is now: none while replaying a past moment.
        "offers": offers.on_case(caller, current) if when is None else [],
        "may_reveal": when is None and POLICY.may_read_personal(caller, current) and not current.erased,
        "access_log": case_present.access_log(svc.cases.case_access_log(caller, case_id), names) if reads_log else None,
        "done": request.query_params.get("done", "")[:10], "form": form,
    }, status)


@router.get("/cases/{case_id}")
def case(request: Request, case_id: UUID, caller: ActorDep, svc: ServicesDep, when: AsOfDep) -> Response:
    return case_page(request, svc, caller, case_id, when)


@router.post("/cases/{case_id}/personal")
async def reveal(request: Request, case_id: UUID, caller: ActorDep, svc: ServicesDep) -> Response:
    """The personal fields, answered to this post only (no page to link to or cache): the
    read and its reason are in the access log before they are opened."""
    sent = await forms.receive(request, caller)
    body = forms.checked(sent, PersonalReadIn)
    opened: dict[str, Any] | None = None
    if body is not None:
        try:
            _, opened = await run_in_threadpool(
                svc.cases.read_personal, caller, case_id, endpoint=request.url.path, reason=body.reason)
        except InvalidCommand as refused:
            sent.refuse("reason", refused.message)
    if sent.errors:
        return await run_in_threadpool(case_page, request, svc, caller, case_id, None, sent, 422)
    case_now = svc.cases.case(case_id)
    return render(request, "case_personal.html", {
        "id": case_id, "case_number": case_now.case_number, "reason": body.reason if body else "",
        "personal": case_present.personal(opened),
    })
