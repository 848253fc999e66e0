"""The province's roll-up (全省督查汇总): per district and kind of unit, now or as of a date."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from application.access import Actor
from application.errors import NotFound
from application.read_policy import POLICY
from interfaces.bootstrap import Services
from interfaces.http.deps import ActorDep, AsOfDep, ServicesDep, deployment
from interfaces.province_rollup import Rollup

router = APIRouter(prefix="/api/v1/province", tags=["全省督查汇总"])

Year = Annotated[int | None, Query(ge=1949, le=2200, description="按期完成率和个案响应时长的年度（默认 as_of 所在年度）")]


def readable(request: Request, caller: Actor, svc: Services) -> Rollup | None:
    """The deployment's roll-up, for a caller of the province's own store (a district's user
    is refused: its credential chose its district's services); None without districts."""
    POLICY.require_rollup(caller, of_province=svc.district is None)
    return deployment(request).current_rollup()


@router.get("/rollup", summary="全省督查汇总：各区县、各类单位的未销号和逾期问题、催办、按期完成率、个案响应时长")
def province_rollup(request: Request, caller: ActorDep, svc: ServicesDep, as_of: AsOfDep, year: Year = None) -> Any:
    wired = readable(request, caller, svc)
    if wired is None:
        raise NotFound("本部署没有登记区县，没有全省督查汇总", rule="province_has_districts")
    return wired.reader.answer(as_of, year)
