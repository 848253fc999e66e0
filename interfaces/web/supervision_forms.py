"""The supervision office's forms on one issue: assign it (交办), urge a unit (催办), extend its
deadline (延期), record the year-end evaluation (年终考核), close it (销号) or reopen it. Each
sends the command its ``/api/v1/issues/{id}/…`` endpoint sends, through the same method of
application.issues.Issues; the pages refuse a role as the service does (application.read_policy)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from application.access import SUPERVISOR, Actor
from application.commands import Accepted, Command
from application.read_policy import POLICY
from domain.issue import RectificationIssue
from interfaces.bootstrap import Services
from interfaces.http import schemas as s
from interfaces.http.deps import ActorDep, ServicesDep, with_time
from interfaces.web import forms, issue_form
from interfaces.web.choices import unit_choices
from interfaces.web.pages import PageRoute
from interfaces.web.year_end import evaluation_context, graded_unit_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)

Send = Callable[[Services, Command, UUID, Any], Accepted]


@dataclass(frozen=True)
class Form:
    path: str  # under /issues/{id}/, as the API's endpoint
    template: str
    model: type[BaseModel]
    # How application.issues refuses another role (its ``_supervisor(cmd, doing, rule)``).
    doing: str
    rule: str
    send: Send
    lists: tuple[str, ...] = ()
    # A domain rule's message placed beside the field it is about.
    fields: dict[str, str] = field(default_factory=dict)


def _assign(svc: Services, cmd: Command, issue: UUID, b: Any) -> Accepted:
    return svc.issues.assign_issue(cmd, issue, lead_unit=b.lead_unit, co_units=b.co_units,
                                   contact_person=b.contact_person, deadline=b.deadline, nodes=b.nodes)


def _urge(svc: Services, cmd: Command, issue: UUID, b: Any) -> Accepted:
    return svc.issues.urge(cmd, issue, unit=b.unit, message=b.message, reply_by=b.reply_by)


def _extend(svc: Services, cmd: Command, issue: UUID, b: Any) -> Accepted:
    return svc.issues.extend_deadline(cmd, issue, deadline=b.deadline, reason=b.reason)


def _evaluate(svc: Services, cmd: Command, issue: UUID, b: Any) -> Accepted:
    return svc.issues.evaluate_issue(cmd, issue, year=b.year, grade=b.grade, score=b.score, findings=b.findings)


def _close(svc: Services, cmd: Command, issue: UUID, b: Any) -> Accepted:
    return svc.issues.close_issue(cmd, issue, summary=b.summary)


def _reopen(svc: Services, cmd: Command, issue: UUID, b: Any) -> Accepted:
    return svc.issues.reopen_issue(cmd, issue, reason=b.reason)


FORMS = (
    Form("assignment", "assign", s.AssignmentIn, "交办", "assign", _assign, lists=("co_units", "nodes"),
         fields={"nodes_before_deadline": "nodes", "assignment_keeps_measure_owners": "co_units"}),
    Form("urgings", "urge", s.UrgingIn, "催办", "urge", _urge,
         fields={"urge_a_responsible_unit": "unit", "reply_by_not_in_past": "reply_by"}),
    Form("deadline-extensions", "extend", s.ExtensionIn, "延期", "extend", _extend,
         fields={"extension_moves_deadline_later": "deadline", "extension_needs_reason": "reason"}),
    Form("evaluations", "evaluate", s.EvaluationIn, "年终考核", "evaluate", _evaluate),
    Form("closure", "close", s.ClosureIn, "销号", "close", _close),
    Form("reopening", "reopen", s.ReopeningIn, "重新打开", "reopen", _reopen, fields={"reopening_needs_reason": "reason"}),
)


def may(caller: Actor, form: Form) -> None:
    POLICY.require_role(caller, SUPERVISOR, doing=form.doing, rule=form.rule)


def _context(request: Request, svc: Services, caller: Actor, issue: RectificationIssue, form: Form,
             sent: forms.Sent | None) -> dict[str, Any]:
    names = svc.ledger.unit_names
    more: dict[str, Any] = {"responsible": [(u, names(u)) for u in issue.units]}
    if form.template == "assign":
        more["units"] = unit_choices(svc)
        more["groups"] = unit_choices(svc, groups=True)[len(more["units"]):]
        nodes = [n.isoformat() for n in issue.nodes]
        more["node_slots"] = nodes + [""] * max(2, 4 - len(nodes))
    if form.template == "evaluate":
        year = (sent.typed.get("year") if sent else None) or request.query_params.get("year")
        more.update(evaluation_context(svc, caller, issue, year))
    return more


def _page(request: Request, svc: Services, caller: Actor, issue: RectificationIssue, form: Form,
          sent: forms.Sent | None, status: int = 200) -> Response:
    return issue_form.page(request, svc, issue, form.template, sent, status,
                           **_context(request, svc, caller, issue, form, sent))


def _done(issue: RectificationIssue, form: Form, year: int | None) -> Callable[[Accepted], str]:
    if form.template == "evaluate" and year is not None:
        unit = graded_unit_of(issue)
        return lambda accepted: f"/evaluation/{year}/units/{unit}?done={issue.seq}#issue-{issue.id}"
    return issue_form.back_to(issue.id)


def _routes(form: Form) -> None:
    def show(request: Request, issue_id: UUID, caller: ActorDep, svc: ServicesDep) -> Response:
        issue = svc.issues.read_issue(caller, issue_id)
        may(caller, form)
        return _page(request, svc, caller, issue, form, None)

    async def send(request: Request, issue_id: UUID, caller: ActorDep, svc: ServicesDep) -> Response:
        issue = svc.issues.read_issue(caller, issue_id)
        may(caller, form)  # another role is refused before anything it sent is read
        sent = await forms.receive(request, caller, lists=form.lists)
        body = forms.checked(sent, form.model)

        def command() -> Accepted:
            assert body is not None  # forms.act sends nothing while the form has errors
            return form.send(svc, with_time(sent.command, body.occurred_at), issue_id, body)  # type: ignore[attr-defined]

        return await forms.act(
            sent, command, done=_done(issue, form, getattr(body, "year", None)),
            timeline=issue_form.timeline(svc, caller, issue_id),
            again=lambda f, status: _page(request, svc, caller, issue, form, f, status), fields=form.fields,
        )

    path = f"/issues/{{issue_id}}/{form.path}"
    router.add_api_route(path, show, methods=["GET"], name=f"{form.template}_form")
    router.add_api_route(path, send, methods=["POST"], name=form.template)


for _form in FORMS:
    _routes(_form)
