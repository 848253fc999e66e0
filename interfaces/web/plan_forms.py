"""The supervision office's plans (实施方案) and problem lists (问题清单): register a plan;
upload a list to it, see what importing it would do (the API's dry run), then confirm. They
send what ``POST /api/v1/plans`` and ``POST /api/v1/plans/{id}/problem-list?dry_run=``
send, through application.issues.Issues and application.problem_list_import.

A page without script cannot send the file a second time to confirm it: the previewed upload
is held for the user who sent it (application.ports.HeldUploads), by its SHA-256, and the
confirmation carries only that digest, so what is imported is exactly what was previewed."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from application.access import SUPERVISOR, Actor
from application.problem_list_import import import_problem_list
from application.read_policy import POLICY
from domain.base import InvalidCommand
from infrastructure.spreadsheets.grid import read_grid
from interfaces.bootstrap import Services
from interfaces.http import schemas as s
from interfaces.http.deps import ActorDep, ServicesDep
from interfaces.http.issues import MAX_SHEET_BYTES
from interfaces.web import forms, offers
from interfaces.web.choices import unit_choices
from interfaces.web.pages import PageRoute, caught_up, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

OUTCOMES = {"created": "已导入", "would_create": "将新建", "unchanged": "已导入过，无变化",
            "changed": "已导入过，内容有变化（不会覆盖）", "refused": "不能导入"}
HELD = "held"  # the hidden field naming the previewed upload by its SHA-256


def _plans(svc: Services, caller: Actor) -> list[dict[str, Any]]:
    briefs = caught_up(svc).views.readable_briefs(POLICY.scope(caller), kinds=("plan",))
    return sorted(briefs, key=lambda p: (-int(p["year"]), p["number"]))


def _registers(caller: Actor) -> bool:
    return offers.permits(lambda: POLICY.require_role(caller, SUPERVISOR, doing="登记实施方案", rule="register_plan"))


def _plans_page(request: Request, svc: Services, caller: Actor, form: forms.Sent | None, status: int = 200) -> Response:
    return render(request, "work/plans.html", {
        "plans": _plans(svc, caller), "units": unit_choices(svc), "form": form, "may_register": _registers(caller),
    }, status)


@router.get("/plans")
def plans(request: Request, caller: ActorDep, svc: ServicesDep) -> Response:
    return _plans_page(request, svc, caller, None)


@router.post("/plans")
async def register_plan(request: Request, caller: ActorDep, svc: ServicesDep) -> Response:
    POLICY.require_role(caller, SUPERVISOR, doing="登记实施方案", rule="register_plan")  # before reading the form
    sent = await forms.receive(request, caller)
    body = forms.checked(sent, s.PlanIn)

    def command() -> Any:
        assert body is not None  # forms.act sends nothing while the form has errors
        return svc.issues.register_plan(sent.command, number=body.number, title=body.title,
                                        issuer_unit=body.issuer_unit, year=body.year)

    return await forms.act(
        sent, command, done=lambda accepted: f"/plans/{accepted.id}",
        again=lambda f, status: _plans_page(request, svc, caller, f, status),
        fields={"plan_number_unique": "number", "plan_needs_number_and_title": "number",
                "plan_year_plausible": "year"},
    )


def _plan_page(request: Request, svc: Services, caller: Actor, plan_id: UUID, *, form: forms.Sent | None = None,
               report: dict[str, Any] | None = None, held: str = "", status: int = 200) -> Response:
    plan = svc.issues.plan(plan_id)
    names = svc.ledger.unit_names
    shown = None
    if report is not None:
        shown = {**report, "rows": [
            {**r, "outcome_label": OUTCOMES[r["outcome"]], "unit_labels": [names(u) for u in r["units"]],
             "measure_owners": [(names(m["unit"]) if m["unit"] else "", m["text"]) for m in r["measures"]]}
            for r in report["rows"]]}
    return render(request, "work/plan.html", {
        "plan": plan, "issuer": names(plan.issuer_unit), "form": form, "report": shown, "held": held,
        "may_import": offers.permits(lambda: POLICY.require_role(
            caller, SUPERVISOR, doing="导入问题清单", rule="import_problem_list")),
        "imported": request.query_params.get("imported", "")[:6],
    }, status)


@router.get("/plans/{plan_id}")
def plan(request: Request, plan_id: UUID, caller: ActorDep, svc: ServicesDep) -> Response:
    POLICY.scope(caller)  # a role that reads no issues reads no plan page
    return _plan_page(request, svc, caller, plan_id)


@router.post("/plans/{plan_id}/problem-list")
async def problem_list(request: Request, plan_id: UUID, caller: ActorDep, svc: ServicesDep,
                       dry_run: bool = False) -> Response:
    # Refused roles and unknown plans first, before a file is read or kept.
    POLICY.require_role(caller, SUPERVISOR, doing="导入问题清单", rule="import_problem_list")
    svc.issues.plan(plan_id)
    sent = await forms.receive(request, caller)
    again = lambda status: _plan_page(request, svc, caller, plan_id, form=sent, status=status)  # noqa: E731
    if dry_run:
        return await _preview(request, svc, caller, plan_id, sent, again)
    digest = str(sent.typed.get(HELD, ""))
    held = svc.held_uploads.held(caller.user_id, digest)
    if held is None:
        sent.refuse(forms.WHOLE_FORM, "预览的文件已导入或已失效：请查看本方案的整改问题，或重新上传预览。")
        return again(409)
    name, content = held
    try:
        report = await run_in_threadpool(
            lambda: import_problem_list(svc.issues, sent.command, plan_id, read_grid(content, name), dry_run=False))
    except InvalidCommand as refused:
        sent.refuse(forms.WHOLE_FORM, refused.message)
        return again(422)
    svc.held_uploads.release(caller.user_id, digest)
    return RedirectResponse(f"/plans/{plan_id}?imported={report['counts']['created']}", status_code=303)


async def _preview(request: Request, svc: Services, caller: Actor, plan_id: UUID, sent: forms.Sent,
                   again: Any) -> Response:
    uploads = sent.files.get("file", [])
    if not uploads:
        sent.refuse("file", "请选择问题清单文件（.xlsx 或 .csv）")
        return again(422)
    upload = uploads[0]
    content = await upload.read(MAX_SHEET_BYTES + 1)
    name = upload.filename or ""
    try:
        report = await run_in_threadpool(
            lambda: import_problem_list(svc.issues, sent.command, plan_id, read_grid(content, name), dry_run=True))
    except InvalidCommand as refused:
        sent.refuse("file", refused.message)
        return again(422)
    held = svc.held_uploads.hold(caller.user_id, name, content) if report["counts"]["would_create"] else ""
    return _plan_page(request, svc, caller, plan_id, report=report, held=held)
