"""The forms on a child case (儿童个案): each checked by the API's own request model
(interfaces.http.cases) and sent as the command ``/api/v1/cases…`` sends, through
application.cases.Cases; files go through the evidence service with the case's id, so a
child's files are sealed under the child's key.

Personal fields (registration, guardianship) are typed into the form and sent to the service
to seal; a refused form shows them again only in its own fields, never in a message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from application.access import AGENCY, SUPERVISOR, Actor
from application.commands import Accepted, Command
from application.errors import NotFound
from application.read_policy import POLICY
from domain.case import ChildCase
from domain.registry import Unit
from interfaces.bootstrap import Services
from interfaces.http import cases as api, schemas
from interfaces.http.deps import ActorDep, ServicesDep, with_time
from interfaces.web import attachments, case_present, forms, inspection, offers
from interfaces.web.pages import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

# Where a rule of the domain places its message: beside the field it is about.
REGISTRATION_FIELDS = {
    "id_number_has_18_characters": "id_number", "id_number_passes_checksum": "id_number",
    "id_number_agrees_with_birth_date": "id_number", "id_number_is_text": "id_number",
    "person_needs_name": "name", "birth_date_not_in_future": "birth_date", "case_is_for_a_minor": "birth_date",
}
OCCURRED = {"occurred_at_not_in_future": "occurred_at", "acceptance_not_before_report": "occurred_at",
            "dispatch_not_before_acceptance": "occurred_at", "acceptance_not_before_referral": "occurred_at"}


def _done(case_id: UUID) -> Callable[[Accepted], str]:
    return lambda accepted: f"/cases/{case_id}?done={accepted.version}#v{accepted.version}"


def _with_nested(sent: forms.Sent, model: type[BaseModel], nested: str, inner: type[BaseModel],
                 **given: Any) -> Any:
    """``model`` whose field ``nested`` is ``inner`` typed as top-level fields (so each error
    stands beside its own field). An ``inner`` refused is left out of ``model``'s check by an
    unvalidated stand-in; the form is refused for it already."""
    part = forms.checked(sent, inner)
    return forms.checked(sent, model, **{nested: part or inner.model_construct()}, **given)


# ---- registration ------------------------------------------------------------------------


def _registration(request: Request, form: forms.Sent | None, status: int = 200) -> Response:
    return render(request, "work/case_register.html", {"form": form}, status)


@router.get("/cases/new")
def registration_form(request: Request, caller: ActorDep) -> Response:
    POLICY.require_role(caller, SUPERVISOR, AGENCY, doing="登记儿童个案", rule="register_case")
    return _registration(request, None)


@router.post("/cases/new")
async def register(request: Request, caller: ActorDep, svc: ServicesDep) -> Response:
    sent = await forms.receive(request, caller)
    body = _with_nested(sent, api.CaseIn, "person", api.PersonIn, household_local="household_local" in sent.typed)

    def command() -> Accepted:
        assert body is not None  # forms.act sends nothing while the form has errors
        return svc.cases.register_case(
            with_time(sent.command, body.occurred_at), street=body.street, community=body.community,
            household_local=body.household_local, birth_date=body.birth_date, person=body.person.model_dump())

    return await forms.act(
        sent, command, done=lambda accepted: f"/cases/{accepted.id}?done={accepted.version}",
        again=lambda f, status: _registration(request, f, status), fields={**REGISTRATION_FIELDS, **OCCURRED})


# ---- the forms on one case -----------------------------------------------------------------

Send = Callable[[Services, Command, UUID, str, Any, list[str]], Accepted]


@dataclass(frozen=True)
class Step:
    """One form on a case: its path under /cases/{id}/ (offers.CASE_FORMS), its heading, the
    API's request model, and the service call the API's route makes."""

    path: str
    title: str
    model: type[BaseModel]
    send: Send
    lists: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    files: bool = False
    nested: tuple[str, type[BaseModel]] | None = None
    fields: Mapping[str, str] = field(default_factory=dict)


def _t(cmd: Command, body: Any) -> Command:
    return with_time(cmd, body.occurred_at)


STEPS = [
    Step("classifications", "认定类别", api.FirstClassificationIn, lambda svc, cmd, case, _i, b, ev: svc.cases.classify_case(
        _t(cmd, b), case, left_behind=b.left_behind, categories=list(b.categories), evidence=ev),
        lists=("categories",), flags=("left_behind",), files=True),
    Step("reassessments", "重新评估", api.ClassificationIn, lambda svc, cmd, case, _i, b, ev: svc.cases.reassess_case(
        _t(cmd, b), case, left_behind=b.left_behind, categories=list(b.categories), evidence=ev),
        lists=("categories",), flags=("left_behind",), files=True),
    Step("guardianship", "记录监护情况", api.GuardianshipIn, lambda svc, cmd, case, _i, b, _ev: svc.cases.record_guardianship(
        _t(cmd, b), case, arrangement=b.arrangement, guardian=b.guardian.model_dump()),
        nested=("guardian", api.GuardianIn)),
    Step("mandatory-reports", "强制报告", api.MandatoryReportIn, lambda svc, cmd, case, _i, b, _ev: svc.cases.file_mandatory_report(
        _t(cmd, b), case, reporter=b.reporter, nature=b.nature, details=b.details)),
    Step("mandatory-reports/{item}/acceptance", "受理强制报告", api.ReportStepIn,
         lambda svc, cmd, case, item, b, _ev: svc.cases.accept_report(_t(cmd, b), case, item)),
    Step("mandatory-reports/{item}/dispatch", "登记出警", api.ReportStepIn,
         lambda svc, cmd, case, item, b, _ev: svc.cases.dispatch_police(_t(cmd, b), case, item)),
    Step("referrals", "转介", api.ReferralIn, lambda svc, cmd, case, _i, b, _ev: svc.cases.refer_case(
        _t(cmd, b), case, unit=b.unit, duty=b.duty), fields={"referral_has_one_unit": "unit"}),
    Step("referrals/{item}/acceptance", "接收转介", api.ReportStepIn,
         lambda svc, cmd, case, item, b, _ev: svc.cases.accept_referral(_t(cmd, b), case, item)),
    Step("referrals/{item}/closure", "结束转介", api.ReferralClosureIn, lambda svc, cmd, case, item, b, _ev: svc.cases.close_referral(
        _t(cmd, b), case, item, outcome=b.outcome)),
    Step("services", "登记关爱服务", api.ServiceIn, lambda svc, cmd, case, _i, b, ev: svc.cases.provide_service(
        _t(cmd, b), case, kind=b.kind, referral_id=b.referral_id, notes=b.notes, evidence=ev), files=True),
    Step("visits", "登记走访", api.VisitIn, lambda svc, cmd, case, _i, b, _ev: svc.cases.visit_case(
        _t(cmd, b), case, notes=b.notes)),
    Step("evaluations", "年度评估", schemas.EvaluationIn, lambda svc, cmd, case, _i, b, _ev: svc.cases.evaluate_case(
        _t(cmd, b), case, year=b.year, grade=b.grade, score=b.score, findings=b.findings)),
    Step("closure", "结案", api.CaseClosureIn, lambda svc, cmd, case, _i, b, _ev: svc.cases.close_case(
        _t(cmd, b), case, reason=b.reason)),
    Step("reopening", "重新打开", api.ReasonIn, lambda svc, cmd, case, _i, b, _ev: svc.cases.reopen_case(
        _t(cmd, b), case, reason=b.reason)),
    Step("erasure", "删除个人信息", api.ReasonIn, lambda svc, cmd, case, _i, b, _ev: svc.cases.erase_personal_data(
        _t(cmd, b), case, reason=b.reason)),
]
# The one rule of a page alone: erasure cannot be undone, so the case number is typed again.
CONFIRM = "confirm"


def _units(svc: Services) -> list[str]:
    # Every registered unit (inspection.registered), read from the log up to its end, so
    # that a unit registered a moment ago is offered.
    return inspection.registered(svc, Unit.Registered, "code")  # type: ignore[attr-defined]


def _choices(svc: Services, case: ChildCase) -> dict[str, Any]:
    names = svc.ledger.unit_names
    return {
        "reporters": case_present.choices(case_present.REPORTER_LABELS),
        "natures": case_present.choices(case_present.NATURE_LABELS),
        "arrangements": case_present.choices(case_present.GUARDIANSHIP_LABELS),
        "categories": case_present.CATEGORY_CHOICES,
        "kinds": case_present.choices(case_present.SERVICE_LABELS),
        "closures": case_present.choices(case_present.CLOSURE_LABELS),
        "outcomes": case_present.choices(case_present.OUTCOME_LABELS),
        "units": [(code, names(code)) for code in _units(svc)],
        "referrals": [(r["referral_id"], f"{r['referral_id']} {names(r['unit'])}：{r['duty']}")
                      for r in case.referrals.values() if r["status"] == "open"],
    }


def _page(request: Request, case: ChildCase, step: Step, item: str | None, shown: dict[str, Any],
          form: forms.Sent | None, status: int = 200) -> Response:
    return render(request, "work/case_step.html", {
        "case": case, "step": step.path, "title": step.title + (f" {item}" if item else ""), "item": item,
        "action": f"/cases/{case.id}/{step.path.replace('{item}', item or '')}", "form": form, **shown,
    }, status)


def _timeline(svc: Services, caller: Actor, case_id: UUID) -> Callable[[], list[dict[str, Any]]]:
    return lambda: case_present.timeline(svc.cases.case_history(caller, case_id), svc.settings.late_entry_days,
                                         svc.ledger.unit_names)


def _open(svc: Services, caller: Actor, case_id: UUID, step: Step,
          item: str | None) -> tuple[ChildCase, dict[str, Any]]:
    """The case, once the reader may send this form on it, and what its page shows."""
    case = svc.cases.case(case_id)
    POLICY.require_case(caller, case)
    held = case.reports if step.path.startswith("mandatory-reports/") else case.referrals
    if item is not None and item not in held:
        raise NotFound("该个案没有这份强制报告" if held is case.reports else "该个案没有这项转介", rule="item_exists")
    offers.require_case_step(caller, case, step.path, item)
    return case, {"facts": case_present.case_state(case, svc.ledger.unit_names), **_choices(svc, case)}


async def _show(request: Request, svc: Services, caller: Actor, case_id: UUID, step: Step,
                item: str | None) -> Response:
    case, shown = await run_in_threadpool(_open, svc, caller, case_id, step, item)
    return _page(request, case, step, item, shown, None)


async def _send(request: Request, svc: Services, caller: Actor, case_id: UUID, step: Step,
                item: str | None) -> Response:
    case, shown = await run_in_threadpool(_open, svc, caller, case_id, step, item)
    sent = await forms.receive(request, caller, lists=step.lists)
    attached = await attachments.checked(sent, svc, case_id=case_id) if step.files else attachments.Attached()
    digests = attached.digests
    given: dict[str, Any] = {"evidence": digests} if step.files else {}
    for flag in step.flags:
        given[flag] = flag in sent.typed
    if step.nested:
        body = _with_nested(sent, step.model, *step.nested, **given)
    else:
        body = forms.checked(sent, step.model, **given)
    if step.path == "erasure" and sent.typed.get(CONFIRM) != case.case_number:
        sent.refuse(CONFIRM, "请再次输入本个案编号以确认删除")
    key = (item or "")[:16]

    def command() -> Accepted:
        assert body is not None  # forms.act sends nothing while the form has errors
        return step.send(svc, sent.command, case_id, key, body, digests)

    return await forms.act(
        sent, attachments.naming(svc, sent, attached, case_id, command, case_id=case_id) if step.files else command,
        done=_done(case_id), timeline=_timeline(svc, caller, case_id), fields={**OCCURRED, **step.fields},
        again=lambda f, status: _page(request, case, step, item, shown, f, status),
    )


def _routes(step: Step) -> None:
    path = f"/cases/{{case_id}}/{step.path}"
    if "{item}" in step.path:
        async def show_item(request: Request, case_id: UUID, item: str, caller: ActorDep,
                            svc: ServicesDep) -> Response:
            return await _show(request, svc, caller, case_id, step, item)

        async def send_item(request: Request, case_id: UUID, item: str, caller: ActorDep,
                            svc: ServicesDep) -> Response:
            return await _send(request, svc, caller, case_id, step, item)

        router.add_api_route(path, show_item, methods=["GET"])
        router.add_api_route(path, send_item, methods=["POST"])
        return

    async def show(request: Request, case_id: UUID, caller: ActorDep, svc: ServicesDep) -> Response:
        return await _show(request, svc, caller, case_id, step, None)

    async def send(request: Request, case_id: UUID, caller: ActorDep, svc: ServicesDep) -> Response:
        return await _send(request, svc, caller, case_id, step, None)

    router.add_api_route(path, show, methods=["GET"])
    router.add_api_route(path, send, methods=["POST"])


for _step in STEPS:
    _routes(_step)
