"""Liveness and readiness: no token needed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from infrastructure.database_probe import database_answers
from infrastructure.replica_views import RoutedViews
from interfaces.bootstrap import Services
from interfaces.http.deps import deployment
from interfaces.http.problems import problem

router = APIRouter(tags=["运行状态"])


@router.get("/healthz", summary="进程存活")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="数据库可达、视图已跟上；有只读副本时报告其状态（副本不可用不算未就绪）；"
                               "本进程运行全省汇总时报告其状态（汇总失败不算未就绪）")
def readyz(request: Request) -> Any:
    place = deployment(request)
    # One server holds every district's schema: one probe answers for all.
    if not database_answers(place.province.settings):
        return problem(503, "database_unreachable", "数据库不可达")
    districts = place.districts  # one snapshot: a district picked up meanwhile is in the next answer
    answers: list[Any] = []
    for svc in [place.province, *districts.values()]:
        answer = _ready(svc)
        if not isinstance(answer, dict):
            return answer
        answers.append(answer)
    ready = answers[0]
    if districts:
        # Every district's own log and views: the process is ready when all of them are.
        ready["districts"] = dict(zip(districts, answers[1:], strict=True))
    if place.unbuilt:
        # Registered districts this process could not serve yet (their key files missing here,
        # their schema unreadable…): named, never failing the districts it does serve.
        ready["unbuilt_districts"] = {code: {"failures": f["failures"], "error": f["error"]}
                                      for code, f in place.unbuilt.items()}
    rollup = place.rollup
    if rollup is not None and rollup.follower.running:
        # Reported, never failing: every district is still served while the province's
        # figures stand still, and a 503 would take them all out of the balancer.
        ready["rollup"] = rollup.follower.status()
    return ready


def _ready(svc: Services) -> Any:
    bound = svc.settings.ready_max_lag
    try:
        position = svc.ledger.recorder.max_notification_id() or 0
        lag = svc.views.lag(bound + 1)
        # The standby's state asks the primary's views' position too.
        replica = svc.views.status() if isinstance(svc.views, RoutedViews) else None
    except Exception:  # noqa: BLE001 — any failure to reach the store means "not ready"
        return problem(503, "database_unreachable", "数据库不可达")
    if svc.views.error is not None:
        return problem(503, "views_stopped", "视图更新已停止，请查看日志")
    if lag > bound:
        return problem(503, "views_lagging", f"视图落后日志超过 {bound} 条")
    ready: dict[str, Any] = {"status": "ready", "position": position, "views_lag": lag}
    if replica is not None:
        # Reported, never failing: with the standby down or behind, its reads go to the
        # primary, so the process still answers everything (docs/OPERATIONS.md).
        ready["replica"] = replica
    return ready
