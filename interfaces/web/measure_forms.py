"""A responsible unit's forms on an issue: adopt a measure, report progress against it with
files attached, report it complete. Each sends the command ``/api/v1/issues/{id}/measures…``
sends, through application.issues.Issues."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from application.access import Actor
from application.commands import Accepted
from application.errors import NotFound
from application.read_policy import POLICY
from domain.issue import RectificationIssue
from interfaces.bootstrap import Services
from interfaces.http import schemas as s
from interfaces.http.deps import ActorDep, ServicesDep, with_time
from interfaces.web import attachments, forms, issue_form
from interfaces.web.pages import PageRoute

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/issues/{issue_id}/measures/new")
def adopt_form(request: Request, issue_id: UUID, caller: ActorDep, svc: ServicesDep) -> Response:
    issue = svc.issues.read_issue(caller, issue_id)
    POLICY.may_adopt_measure(caller, issue, caller.unit)
    return issue_form.page(request, svc, issue, "measure", None)


@router.post("/issues/{issue_id}/measures/new")
async def adopt(request: Request, issue_id: UUID, caller: ActorDep, svc: ServicesDep) -> Response:
    issue = svc.issues.read_issue(caller, issue_id)
    return await issue_form.send(
        request, svc, caller, issue, "measure", s.MeasureIn, given={"unit": caller.unit},
        command=lambda cmd, b: svc.issues.adopt_measure(with_time(cmd, b.occurred_at), issue_id, unit=caller.unit,
                                                        text=b.text, due=b.due))


def _measure(svc: Services, caller: Actor, issue_id: UUID, measure_id: str) -> tuple[RectificationIssue, dict[str, Any]]:
    issue, measure = issue_form.entry(svc, caller, issue_id, lambda i: i.measure(measure_id[:32]),
                                      NotFound("该问题没有这项整改措施", rule="measure_exists"))
    POLICY.may_act_on_measure(caller, issue, str(measure["unit"]))
    return issue, measure


# Progress (报送进展) and completion (办结): the same form, the API's two bodies and commands.
_STEPS: dict[str, tuple[type[s.ProgressIn | s.CompletionIn], str]] = {
    "progress": (s.ProgressIn, "report_progress"), "completion": (s.CompletionIn, "complete_measure"),
}


def _step(step: str) -> tuple[type[s.ProgressIn | s.CompletionIn], str]:
    if step not in _STEPS:
        raise NotFound("没有这个页面", rule="page_exists")
    return _STEPS[step]


@router.get("/issues/{issue_id}/measures/{measure_id}/{step}")
def report_form(request: Request, issue_id: UUID, measure_id: str, step: str, caller: ActorDep,
                svc: ServicesDep) -> Response:
    _step(step)
    issue, measure = _measure(svc, caller, issue_id, measure_id)
    return issue_form.page(request, svc, issue, step, None, measure=measure)


@router.post("/issues/{issue_id}/measures/{measure_id}/{step}")
async def report(request: Request, issue_id: UUID, measure_id: str, step: str, caller: ActorDep,
                 svc: ServicesDep) -> Response:
    model, method = _step(step)
    issue, measure = _measure(svc, caller, issue_id, measure_id)
    sent = await forms.receive(request, caller)
    attached = await attachments.checked(sent, svc)
    body = forms.checked(sent, model, evidence=attached.evidence)

    def command() -> Accepted:
        assert body is not None  # forms.act sends nothing while the form has errors
        send = getattr(svc.issues, method)
        return send(with_time(sent.command, body.occurred_at), issue_id, measure["measure_id"],  # type: ignore[no-any-return]
                    summary=body.summary, evidence=attached.evidence)

    return await forms.act(
        sent, attachments.naming(svc, sent, attached, issue_id, command),
        done=issue_form.back_to(issue_id), timeline=issue_form.timeline(svc, caller, issue_id),
        again=lambda f, status: issue_form.page(request, svc, issue, step, f, status, measure=measure),
    )
