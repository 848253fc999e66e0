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
from application.errors import NotFound
from application.read_policy import POLICY
from domain.issue import RectificationIssue
from interfaces.bootstrap import Services
from interfaces.http import schemas as s
from interfaces.http.deps import ActorDep, ServicesDep, with_time
from interfaces.web import issue_form
from interfaces.web.pages import PageRoute

router = APIRouter(route_class=PageRoute, include_in_schema=False)

CHOICES = [("true", "批准（整改期限延至申请的日期）"), ("false", "不批准")]


def _request(svc: Services, caller: Actor, issue_id: UUID, request_id: str) -> tuple[RectificationIssue, dict[str, Any]]:
    found = issue_form.entry(svc, caller, issue_id, lambda i: i.extension_request(request_id[:16]),
                             NotFound("该问题没有这项延期申请", rule="extension_request_exists"))
    POLICY.require_role(caller, SUPERVISOR, doing="审批延期申请", rule="decide_extension")
    return found


def _shown(svc: Services, asked: dict[str, Any]) -> dict[str, Any]:
    """What the page shows besides the issue: the choices, and the request with its unit's name."""
    return {"choices": CHOICES, "asked": {**asked, "unit_name": svc.ledger.unit_names(asked["unit"])}}


@router.get("/issues/{issue_id}/extension-requests/{request_id}/decision")
def decision_form(request: Request, issue_id: UUID, request_id: str, caller: ActorDep, svc: ServicesDep) -> Response:
    issue, asked = _request(svc, caller, issue_id, request_id)
    return issue_form.page(request, svc, issue, "decide_extension", None, **_shown(svc, asked))


@router.post("/issues/{issue_id}/extension-requests/{request_id}/decision")
async def decide(request: Request, issue_id: UUID, request_id: str, caller: ActorDep, svc: ServicesDep) -> Response:
    issue, asked = _request(svc, caller, issue_id, request_id)
    return await issue_form.send(
        request, svc, caller, issue, "decide_extension", s.ExtensionDecisionIn, **_shown(svc, asked),
        fields={"decision_needs_reason": "reason", "extension_moves_deadline_later": "approved"},
        command=lambda cmd, b: svc.issues.decide_extension(with_time(cmd, b.occurred_at), issue_id, asked["request_id"],
                                                           approved=b.approved, reason=b.reason))
