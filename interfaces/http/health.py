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


@router.get("/readyz", summary="数据库可达、视图已跟上（视图更新失败重试期间未就绪）；有只读副本时报告其状态（副本不可用不算未就绪）；"
                               "本进程运行默克尔日志、全省汇总时报告其状态（二者失败不算未就绪）")
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
    # The views' follower, when this process runs it: asked first, as what makes it fail
    # (a table gone, say) may make the lag below fail too, which would say the database is down.
    follower = svc.views.follower_status() if svc.views.runs_here else None
    if svc.views.error is not None:
        return problem(503, "views_stopped", "视图更新已停止，请查看日志")
    if follower is not None and follower["state"] == "failing":
        # Out of the load balancer while the views cannot follow, back by itself once a
        # round succeeds; ``views`` says since when and how many rounds in a row.
        return problem(503, "views_failing", "视图更新失败，正在自动重试", views=follower)
    try:
        position = svc.ledger.recorder.max_notification_id() or 0
        lag = svc.views.lag(bound + 1)
        # The standby's state asks the primary's views' position too.
        replica = svc.views.status() if isinstance(svc.views, RoutedViews) else None
    except Exception:  # noqa: BLE001 — any failure to reach the store means "not ready"
        return problem(503, "database_unreachable", "数据库不可达")
    if lag > bound:
        return problem(503, "views_lagging", f"视图落后日志超过 {bound} 条")
    ready: dict[str, Any] = {"status": "ready", "position": position, "views_lag": lag}
    if follower is not None:
        # Reported: a LISTEN thread that fails leaves the views following every interval.
        ready["views"] = follower
    if svc.merkle_runner is not None and svc.merkle_runner.running:
        # Reported, never failing: the views and commands are all served while the tree's
        # heads stand still (alert on ``merkle_log.state`` or careledger_tree_head_behind_events).
        ready["merkle_log"] = svc.merkle_runner.status()
    if replica is not None:
        # Reported, never failing: with the standby down or behind, its reads go to the
        # primary, so the process still answers everything (docs/OPERATIONS.md).
        ready["replica"] = replica
    return ready
