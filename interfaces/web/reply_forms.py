"""A responsible unit's answers to the supervision office on an issue: reply to an urging, ask
for a later deadline. Each sends the command its API endpoint sends
(``POST /api/v1/issues/{id}/urgings/{urging_id}/reply``, ``POST /api/v1/issues/{id}/extension-requests``),
through application.issues.Issues."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from application.access import Actor
from application.errors import NotFound
from application.read_policy import POLICY
from domain.issue import RectificationIssue
from interfaces.bootstrap import Services
from interfaces.http import schemas as s
from interfaces.http.deps import ActorDep, ServicesDep, with_time
from interfaces.web import issue_form
from interfaces.web.pages import PageRoute

router = APIRouter(route_class=PageRoute, include_in_schema=False)

# The rules whose message belongs beside one field rather than above the form.
REPLY_FIELDS = {"reply_needs_message": "message", "reply_not_before_urging": "occurred_at"}
EXTENSION_FIELDS = {"extension_moves_deadline_later": "deadline", "extension_needs_reason": "reason"}


# ---- 回复催办 -----------------------------------------------------------------------------


def _urging(svc: Services, caller: Actor, issue_id: UUID, urging_id: str) -> tuple[RectificationIssue, dict[str, Any]]:
    issue, urging = issue_form.entry(svc, caller, issue_id, lambda i: i.urging(urging_id[:16]),
                                     NotFound("该问题没有这次催办", rule="urging_exists"))
    POLICY.may_reply_to_urging(caller, str(urging["unit"]))
    return issue, {**urging, "urging_id": urging_id[:16]}


@router.get("/issues/{issue_id}/urgings/{urging_id}/reply")
def reply_form(request: Request, issue_id: UUID, urging_id: str, caller: ActorDep, svc: ServicesDep) -> Response:
    issue, urging = _urging(svc, caller, issue_id, urging_id)
    return issue_form.page(request, svc, issue, "reply", None, urging=urging)


@router.post("/issues/{issue_id}/urgings/{urging_id}/reply")
async def reply(request: Request, issue_id: UUID, urging_id: str, caller: ActorDep, svc: ServicesDep) -> Response:
    issue, urging = _urging(svc, caller, issue_id, urging_id)
    return await issue_form.send(
        request, svc, caller, issue, "reply", s.UrgingReplyIn, fields=REPLY_FIELDS, urging=urging,
        command=lambda cmd, b: svc.issues.reply_to_urging(with_time(cmd, b.occurred_at), issue_id, urging["urging_id"],
                                                          message=b.message))


# ---- 申请延期 -----------------------------------------------------------------------------


def _extendable(svc: Services, caller: Actor, issue_id: UUID) -> RectificationIssue:
    issue = svc.issues.read_issue(caller, issue_id)
    POLICY.may_request_extension(caller, issue)
    return issue


def _requests(svc: Services, issue: RectificationIssue) -> list[dict[str, Any]]:
    names = svc.ledger.unit_names
    return [{**r, "unit_name": names(str(r["unit"]))} for r in issue.extension_requests.values()]


@router.get("/issues/{issue_id}/extension-requests")
def extension_form(request: Request, issue_id: UUID, caller: ActorDep, svc: ServicesDep) -> Response:
    issue = _extendable(svc, caller, issue_id)
    return issue_form.page(request, svc, issue, "extension", None, requests=_requests(svc, issue))


@router.post("/issues/{issue_id}/extension-requests")
async def request_extension(request: Request, issue_id: UUID, caller: ActorDep, svc: ServicesDep) -> Response:
    issue = _extendable(svc, caller, issue_id)
    return await issue_form.send(
        request, svc, caller, issue, "extension", s.ExtensionIn, fields=EXTENSION_FIELDS,
        requests=_requests(svc, issue),
        command=lambda cmd, b: svc.issues.request_extension(with_time(cmd, b.occurred_at), issue_id,
                                                            deadline=b.deadline, reason=b.reason))
