"""The supervision office's decision on a unit's extension request (审批延期申请): approve it
(the deadline moves to the date asked) or refuse it, with a reason. It sends the command
``POST /api/v1/issues/{id}/extension-requests/{request_id}/decision`` sends, through
application.issues.Issues.decide_extension."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from application.access import SUPERVISOR, Actor
from application.commands import Accepted
from application.errors import NotFound
from application.read_policy import POLICY
from domain.issue import RectificationIssue
from interfaces.bootstrap import Services
from interfaces.http import schemas as s
from interfaces.http.deps import ActorDep, ServicesDep, with_time
from interfaces.web import forms, issue_form
from interfaces.web.pages import PageRoute

router = APIRouter(route_class=PageRoute, include_in_schema=False)

CHOICES = [("true", "批准（整改期限延至申请的日期）"), ("false", "不批准")]


def _request(svc: Services, caller: Actor, issue_id: UUID, request_id: str) -> tuple[RectificationIssue, dict[str, Any]]:
    issue = svc.issues.read_issue(caller, issue_id)
    POLICY.require_role(caller, SUPERVISOR, doing="审批延期申请", rule="decide_extension")
    try:
        return issue, dict(issue.extension_request(request_id[:16]))
    except LookupError:
        raise NotFound("该问题没有这项延期申请", rule="extension_request_exists") from None


def _page(request: Request, svc: Services, issue: RectificationIssue, asked: dict[str, Any],
          sent: forms.Sent | None, status: int = 200) -> Response:
    return issue_form.page(request, svc, issue, "decide_extension", sent, status, choices=CHOICES,
                           asked={**asked, "unit_name": svc.ledger.unit_names(asked["unit"])})


@router.get("/issues/{issue_id}/extension-requests/{request_id}/decision")
def decision_form(request: Request, issue_id: UUID, request_id: str, caller: ActorDep, svc: ServicesDep) -> Response:
    issue, asked = _request(svc, caller, issue_id, request_id)
    return _page(request, svc, issue, asked, None)


@router.post("/issues/{issue_id}/extension-requests/{request_id}/decision")
async def decide(request: Request, issue_id: UUID, request_id: str, caller: ActorDep, svc: ServicesDep) -> Response:
    issue, asked = _request(svc, caller, issue_id, request_id)
    sent = await forms.receive(request, caller)
    body = forms.checked(sent, s.ExtensionDecisionIn)

    def command() -> Accepted:
        assert body is not None  # forms.act sends nothing while the form has errors
        return svc.issues.decide_extension(with_time(sent.command, body.occurred_at), issue_id,
                                           asked["request_id"], approved=body.approved, reason=body.reason)

    return await forms.act(
        sent, command, done=issue_form.back_to(issue_id), timeline=issue_form.timeline(svc, caller, issue_id),
        again=lambda f, status: _page(request, svc, issue, asked, f, status),
        fields={"decision_needs_reason": "reason", "extension_moves_deadline_later": "approved"},
    )
