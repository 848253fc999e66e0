"""The admin's registry pages, through application.registry.Registry as the command line
calls it: every unit with its groups (各X) and its duty catalogue (职责清单); a unit added
(``careledger units add CODE NAME [--group GROUP]``, idempotent on the code, the group made
on first use); a duty defined for a unit, or its text changed (``Registry.define_duty``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from application.access import Actor
from application.commands import Accepted
from application.errors import NotFound
from domain.free_text import RULE as FREE_TEXT
from interfaces.bootstrap import Services
from interfaces.http.access import DutyIn, UnitIn
from interfaces.http.deps import ActorDep, ServicesDep
from interfaces.web import forms, present
from interfaces.web.admin import beside_fields
from interfaces.web.pages import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

# Where a service's refusal of what was typed stands on the form.
UNIT_FIELDS = {"unit_code_distinct_from_groups": "code", "unit_needs_code_and_name": "name",
               "group_code_distinct_from_units": "group", "group_needs_code": "group", FREE_TEXT: "name"}
DUTY_FIELDS = {"duty_text_required": "text", FREE_TEXT: "text"}


def groups_of(units: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each group's code and its member units, in the order they joined."""
    members: dict[str, list[dict[str, Any]]] = {}
    for unit in units:
        for group in unit["groups"]:
            members.setdefault(group, []).append(unit)
    return members


def _units_page(request: Request, units: list[dict[str, Any]], form: forms.Sent | None, status: int = 200) -> Response:
    return render(request, "admin/units.html", {"units": units, "groups": groups_of(units), "form": form}, status)


@router.get("/admin/units")
def units_page(request: Request, caller: ActorDep, svc: ServicesDep) -> Response:
    return _units_page(request, svc.registry.catalogue(caller), None)


@router.post("/admin/units")
async def add_unit(request: Request, caller: ActorDep, svc: ServicesDep) -> Response:
    units = await run_in_threadpool(svc.registry.catalogue, caller)  # a non-admin is refused here, before anything
    sent = await forms.receive(request, caller)
    body = forms.checked(sent, UnitIn)

    def command() -> Accepted:
        assert body is not None  # forms.act sends nothing while the form has errors
        return svc.registry.add_unit(sent.command, code=body.code, name=body.name, group=body.group)

    return await forms.act(
        sent, beside_fields(command, UNIT_FIELDS), fields=UNIT_FIELDS,
        done=lambda accepted: f"/admin/units/{quote(accepted.extra['code'], safe='')}?done={accepted.version}",
        again=lambda f, status: _units_page(request, units, f, status),
    )


# ---- one unit and its duties --------------------------------------------------------------


def next_duty_id(duties: dict[str, str]) -> str:
    """The first free number after the catalogue's count: D1, D2 …"""
    n = len(duties) + 1
    while f"D{n}" in duties:
        n += 1
    return f"D{n}"


def _unit(svc: Services, caller: Actor, code: str) -> dict[str, Any]:
    found = next((u for u in svc.registry.catalogue(caller) if u["code"] == code), None)
    if found is None:
        raise NotFound("没有这个单位", rule="unit_exists")
    return found


def _history(svc: Services, code: str) -> list[dict[str, Any]]:
    unit = svc.registry.unit(code)
    return present.timeline(svc.trail.history(unit.id), svc.settings.late_entry_days, svc.ledger.unit_names, "Unit")


def _unit_page(request: Request, svc: Services, unit: dict[str, Any], form: forms.Sent | None,
               status: int = 200) -> Response:
    return render(request, "admin/unit.html", {
        "unit": unit, "form": form, "next_duty": next_duty_id(unit["duties"]),
        "timeline": _history(svc, unit["code"]), "done": request.query_params.get("done", "")[:10],
    }, status)


@router.get("/admin/units/{code}")
def unit_page(request: Request, code: str, caller: ActorDep, svc: ServicesDep) -> Response:
    return _unit_page(request, svc, _unit(svc, caller, code), None)


@router.post("/admin/units/{code}/duties")
async def define_duty(request: Request, code: str, caller: ActorDep, svc: ServicesDep) -> Response:
    unit = await run_in_threadpool(_unit, svc, caller, code)  # a non-admin is refused here, before anything
    sent = await forms.receive(request, caller)
    body = forms.checked(sent, DutyIn)

    def command() -> Accepted:
        assert body is not None  # forms.act sends nothing while the form has errors
        return svc.registry.define_duty(sent.command, unit=code, duty_id=body.duty_id, text=body.text)

    return await forms.act(
        sent, beside_fields(command, DUTY_FIELDS), fields=DUTY_FIELDS,
        done=lambda accepted: f"/admin/units/{quote(code, safe='')}?done={accepted.version}#duties",
        timeline=lambda: _history(svc, code),
        again=lambda f, status: _unit_page(request, svc, unit, f, status),
    )
