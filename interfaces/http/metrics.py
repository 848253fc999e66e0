"""`GET /metrics` in Prometheus' text format, and the middleware that counts requests.

Counters live in this module (one set per process). With several uvicorn workers,
``PROMETHEUS_MULTIPROC_DIR`` names a directory the workers share (``careledger serve``
sets one up before forking) and a scrape sums every worker's counts, whichever worker
answers it. The two gauges, view lag and tree-head age, are not counted but measured at
scrape time from the database, so every worker answers the same figure.

Labels carry route templates (``/api/v1/issues/{issue_id}``), command names, rule names
and status codes only: never a path with ids in it, a user, a token or a personal field.

/metrics needs no token; it answers only clients in ``CARELEDGER_METRICS_NETWORKS``
(loopback and private networks by default) that reach it directly, and 404 to everyone
else, including any request a proxy forwarded (it carries a forwarding header): behind a
reverse proxy on the same host every visitor would otherwise look local.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import Message, Receive, Scope, Send

from infrastructure.replica_views import RoutedViews
from interfaces.asgi import HttpMiddleware
from interfaces.http.problems import NO_SUCH_PATH, problem, responses
from projections.merkle_log import parse_head_timestamp

REQUESTS = Counter(
    "careledger_http_requests", "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
)
COMMANDS = Counter("careledger_commands", "Commands accepted, by command", ["command"])
REFUSED = Counter("careledger_commands_refused", "Commands refused, by the rule that refused them", ["rule"])
FAILED_SIGN_INS = Counter("careledger_failed_sign_ins", "Requests refused 401: no token, or an unknown one")
SIGN_IN_FAILURES = Counter(
    "careledger_signin_failures", "Dashboard password sign-ins refused, by reason (never a name or an address)",
    ["reason"],
)

UNMATCHED = "<unmatched>"
_MAX_PROBLEM_BYTES = 64 * 1024

router = APIRouter(tags=["运行状态"])


def command_name(route: str) -> str:
    """The command a POST route records: its last literal segment (`urgings`, `closure`, `cases`)."""
    literal = [part for part in route.strip("/").split("/") if part and not part.startswith("{")]
    return literal[-1] if literal else route


class Metrics(HttpMiddleware):
    """Counts every HTTP answer by route template and status; accepted and refused commands."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 500
        problem = bytearray()
        is_problem = False

        async def counting(message: Message) -> None:
            nonlocal status, is_problem
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = dict(message.get("headers", []))
                is_problem = headers.get(b"content-type", b"").startswith(b"application/problem+json")
            elif message["type"] == "http.response.body" and is_problem and len(problem) < _MAX_PROBLEM_BYTES:
                problem.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = scope.get("method", "")
            REQUESTS.labels(route, method, str(status)).inc()
            if status == 401:
                FAILED_SIGN_INS.inc()
            if method == "POST" and route.startswith("/api/"):
                if 200 <= status < 300:
                    COMMANDS.labels(command_name(route)).inc()
                elif status in (403, 409, 412, 422):
                    REFUSED.labels(_rule_of(bytes(problem), status)).inc()


def _rule_of(body: bytes, status: int) -> str:
    """The `rule` a problem answer names (a fixed English name), else its status."""
    try:
        rule = json.loads(body).get("rule")
    except (ValueError, AttributeError):
        rule = None
    return rule if isinstance(rule, str) and rule.isascii() and len(rule) <= 80 else f"status_{status}"


class LedgerGauges(Collector):
    """View lag in events and tree-head age in seconds, read from each store at scrape time.

    A deployment of several districts labels every gauge with the store it measures
    (``district="420112"``, the province's own ``district="province"``): one district's
    follower falling behind shows as that district's, not hidden in a sum. A lone store's
    gauges keep no label, as they always had."""

    def __init__(self, deployment: Any) -> None:
        self.deployment = deployment

    def collect(self) -> Iterator[GaugeMetricFamily]:
        districts = dict(self.deployment.districts)  # a copy: a district may be added meanwhile
        stores = [("province", self.deployment.province), *districts.items()]
        labels = ["district"] if districts else []
        up = GaugeMetricFamily("careledger_database_up", "1 when the database answered this scrape",
                               labels=labels)
        lag = GaugeMetricFamily("careledger_view_lag_events",
                                "Events of the views' kinds recorded but not yet in the views", labels=labels)
        age = GaugeMetricFamily("careledger_tree_head_age_seconds",
                                "Seconds since the latest signed tree head was made", labels=labels)
        behind = GaugeMetricFamily("careledger_tree_head_behind_events",
                                   "Events recorded after the latest signed tree head", labels=labels)
        replica_up = GaugeMetricFamily("careledger_read_replica_up",
                                       "1 when the read replica answered this scrape", labels=labels)
        replica_behind = GaugeMetricFamily("careledger_read_replica_views_behind_events",
                                           "Log positions the replica's copy of the views trails the primary's",
                                           labels=labels)
        for name, svc in stores:
            label = [name] if labels else []
            try:
                measured = _ledger_figures(svc)
            except Exception:  # noqa: BLE001 — a scrape reports the store down rather than failing
                up.add_metric(label, 0)
                continue
            up.add_metric(label, 1)
            lag.add_metric(label, measured["lag"])
            if measured["age"] is not None:
                age.add_metric(label, measured["age"])
            behind.add_metric(label, measured["behind"])
            if isinstance(svc.views, RoutedViews):
                try:
                    state = svc.views.status()
                except Exception:  # noqa: BLE001 — the primary failed meanwhile: reported at the next scrape
                    continue
                replica_up.add_metric(label, 1 if state["state"] == "up" else 0)
                if "views_behind" in state:
                    replica_behind.add_metric(label, state["views_behind"])
        yield from (up, lag, age, behind)
        # Only a deployment reading from a standby has the standby's gauges.
        yield from (family for family in (replica_up, replica_behind) if family.samples)
        failing = GaugeMetricFamily("careledger_follower_failing_rounds",
                                    "Rounds a follower this process runs failed in a row (0: following)",
                                    labels=["follower", *labels])
        for name, svc in stores:
            label = [name] if labels else []
            if svc.views.runs_here:
                failing.add_metric(["views", *label], svc.views.follower_status().get("failures", 0))
            if svc.merkle_runner is not None and svc.merkle_runner.running:
                failing.add_metric(["merkle_log", *label], svc.merkle_runner.status().get("failures", 0))
        rollup = self.deployment.rollup
        if rollup is not None and rollup.follower.running:  # this process keeps the province's roll-up
            failing.add_metric(["rollup", *(["province"] if labels else [])], rollup.follower.status().get("failures", 0))
        if failing.samples:
            yield failing


def _ledger_figures(svc: Any) -> dict[str, Any]:
    lag = svc.views.lag(svc.settings.ready_max_lag + 1)
    head = svc.merkle.store.latest_head()
    position = svc.ledger.recorder.max_notification_id() or 0
    age = None
    if head is not None:
        age = max(0.0, (datetime.now(UTC) - parse_head_timestamp(head.timestamp)).total_seconds())
    logged = svc.merkle.store.progress().position
    return {"lag": lag, "age": age, "behind": max(0, position - logged) if head is not None else position}


# A request carrying any of these came through a proxy: its client address is whatever
# the proxy says (or the proxy's own, often loopback), not a scraper on the local network.
FORWARDED = ("forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip")


def _allowed(request: Request) -> bool:
    if any(name in request.headers for name in FORWARDED):
        return False
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    networks = request.app.state.services.settings.metrics_networks
    return any(address in ipaddress.ip_network(net, strict=False) for net in networks)


@router.get("/metrics", summary="Prometheus 指标（仅限内网）", include_in_schema=True,
            response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}},
                       **responses(404)})
def metrics(request: Request) -> Response:
    if not _allowed(request):
        return problem(404, "no_such_path", NO_SUCH_PATH)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Default())
    registry.register(LedgerGauges(request.app.state.deployment))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class _Default(Collector):
    """This process' own counters (single-process serving and the tests)."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()
