"""全省督查汇总 (/province): the province's roll-up as a page, a table per district by kind of
unit, through the same read rule and the same answer as GET /api/v1/province/rollup (a
deployment without districts shows that it has none, where the API answers 404). For a reader
the policy lets read the districts' audit trails (the province inspector), each district links
to its own at /districts/{code}/audit (interfaces.web.inspection)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from application.read_policy import POLICY
from interfaces.http.deps import ActorDep, AsOfDep, ServicesDep
from interfaces.http.province import readable
from interfaces.web.pages import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def shaped(answer: dict[str, Any], as_of_day: str | None) -> dict[str, Any]:
    """The rows of each district together, its total last; the province's total apart."""
    districts: dict[str, dict[str, Any]] = {}
    for code, where in answer["districts"].items():
        districts[code] = {"code": code, "name": code, "rows": [], **where}
    province = None
    for row in answer["rows"]:
        if row["district"] is None:
            province = row
            continue
        found = districts.setdefault(row["district"], {"code": row["district"], "rows": [], "position": None,
                                                        "followed_until": None})
        found["name"] = row["district_name"]
        found["rows"].append(row)
    return {"districts": list(districts.values()), "province": province, "year": answer["year"],
            "today": answer["today"], "as_of_day": as_of_day}


@router.get("/province")
def province(request: Request, caller: ActorDep, svc: ServicesDep, as_of: AsOfDep) -> Response:
    wired = readable(request, caller, svc)
    audits = POLICY.reads_districts_audit(caller, of_province=svc.district is None)
    if wired is None:  # a lone district: the page says there is no district to sum
        return render(request, "province.html", {"districts": [], "province": None, "as_of_day": None,
                                                 "audits": audits})
    answer = wired.reader.answer(as_of)
    return render(request, "province.html", {**shaped(answer, answer["today"] if as_of is not None else None),
                                             "audits": audits})
