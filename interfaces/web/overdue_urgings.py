"""Urging every overdue unit at once (催办全部逾期单位): the one form of the overdue list. It
sends, for each overdue issue and unit ticked, the command ``POST /api/v1/issues/{id}/urgings``
sends (application.issues.Issues.urge). Each urging keeps its own answer under the form's key
and the pair it urges, so the form sent twice urges nobody twice, and one sent again after a
refusal part-way (a concurrent write) urges only those the first sending did not reach."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from application.access import SUPERVISOR, Actor
from application.read_policy import POLICY
from domain.base import InvalidCommand, RuleViolated
from interfaces.bootstrap import Services
from interfaces.http import schemas as s
from interfaces.http.deps import ActorDep, ServicesDep
from interfaces.web import forms
from interfaces.web.overdue import pairs
from interfaces.web.pages import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PATH = "/overdue/urgings"


def _page(request: Request, svc: Services, caller: Actor, sent: forms.Sent | None, status: int = 200,
          shown: list[dict[str, Any]] | None = None) -> Response:
    return render(request, "work/urge_overdue.html", {
        "pairs": shown if shown is not None else pairs(svc, caller), "form": sent,
        "done": request.query_params.get("done", "")[:6],
    }, status)


@router.get(PATH)
def urge_overdue_form(request: Request, caller: ActorDep, svc: ServicesDep) -> Response:
    POLICY.require_role(caller, SUPERVISOR, doing="催办", rule="urge")
    return _page(request, svc, caller, None)


@router.post(PATH)
async def urge_overdue(request: Request, caller: ActorDep, svc: ServicesDep) -> Response:
    POLICY.require_role(caller, SUPERVISOR, doing="催办", rule="urge")
    sent = await forms.receive(request, caller, lists=("pairs",))
    shown = pairs(svc, caller)
    # Only what the list offers now: a pair typed in by hand or no longer overdue is not urged.
    offered = {p["key"]: p for p in shown}
    chosen = [offered[k] for k in dict.fromkeys(sent.typed["pairs"]) if k in offered]
    if not chosen:
        sent.refuse("pairs", "请至少选择一个逾期单位")
    # Each urging's body as the API's model reads it; the message and date are common to all.
    bodies = [forms.checked(sent, s.UrgingIn, unit=p["unit"]) for p in chosen or [{"unit": caller.unit}]]
    body = bodies[0]
    if sent.errors or body is None:
        return _page(request, svc, caller, sent, 422, shown)

    def send_all() -> int:
        for pair in chosen:
            # One urging per issue and unit, each under its own key derived from the form's.
            cmd = sent.command
            if cmd.idempotency_key:
                cmd = replace(cmd, idempotency_key=f"{cmd.idempotency_key}#{pair['key']}")
            svc.issues.urge(cmd, UUID(pair["id"]), unit=pair["unit"], message=body.message, reply_by=body.reply_by)
        return len(chosen)

    try:
        urged = await run_in_threadpool(send_all)
    except (InvalidCommand, RuleViolated) as refused:
        field = {"reply_by_not_in_past": "reply_by"}.get(refused.rule, forms.WHOLE_FORM)
        sent.refuse(field, refused.message)
        return _page(request, svc, caller, sent, 422 if isinstance(refused, InvalidCommand) else 409, shown)
    return RedirectResponse(f"{PATH}?done={urged}", status_code=303)
