"""The inspector's pages (检查/审计): the audit trail searched by unit and user names and by
event kind; an issue, a case or a view as the ledger held it at a moment, and what changed
between two moments; the signed tree head and the proofs, as files to take away; the whole
log's verification.

Every read goes through the services the API uses and application.read_policy (an agency
replays only what it reads, an admin none of it); the downloads are the API's own answers
(interfaces.http.audit), only named as files.

The audit pages are mounted twice, as the API's audit routes are: at /audit for the caller's
own district (or the province), and under /districts/{district}/ for a province inspector
reading a district's (interfaces.http.deps.services chooses that district's services and asks
the policy; a district's users are refused there). Their links stay under the prefix they
were served at (``base``). Replays are not mounted there: they show content.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from application.access import Actor
from application.commands import SYSTEM
from application.errors import NotFound
from application.read_policy import POLICY
from domain.base import InvalidCommand
from domain.issue import issue_id
from domain.plan import plan_id
from domain.registry import User, unit_id, user_id
from infrastructure.districts import CODE
from infrastructure.jobs import Job
from infrastructure.spreadsheets.views_export import content_disposition
from interfaces.bootstrap import Services
from interfaces.http import audit as audit_api, filters
from interfaces.http.deps import ActorDep, ServicesDep, deployment
from interfaces.http.inputs import moment_or_day_end
from interfaces.web import event_kinds, present, replay
from interfaces.web.choices import SYSTEM_CHOICE, unit_choices
from interfaces.web.pages import (
    HEADERS,
    PageRoute,
    caught_up,
    current_view,
    render,
    unit_names,
    verifications,
    whole_log_verification,
)
from projections.audit_index import AuditFilter

router = APIRouter(route_class=PageRoute, include_in_schema=False)  # the replays
audit_router = APIRouter(route_class=PageRoute, include_in_schema=False)  # mounted twice, below

Text = Annotated[str | None, Query(max_length=64)]
MomentText = Annotated[str | None, Query(max_length=40)]
Position = Annotated[int, Query(ge=1, le=audit_api.MAX_POSITION)]


def moment(value: str | None, what: str) -> datetime | None:
    if not value:
        return None
    try:
        return moment_or_day_end(value)
    except ValueError:
        raise InvalidCommand("moment_is_iso8601", f"{what}须为日期和时间（如 2019-05-25T18:00）") from None


def window(svc: Services, at: str | None, since: str | None) -> tuple[datetime | None, datetime | None]:
    """The moment to show (None: now) and the earlier one to compare it with, if any."""
    shown, earlier = moment(at, "查看时间"), moment(since, "比较起点")
    if earlier is not None and earlier >= (shown or svc.ledger.clock()):
        raise InvalidCommand("since_before_at", "比较起点须早于查看时间")
    return shown, earlier


# ---- the audit trail ------------------------------------------------------------------------


# A unit's code and a user's name never change, and each aggregate's id is made from them
# (domain.registry): once loaded, an id's code or name holds for every ledger.
_REGISTERED: dict[UUID, str] = {}


def registered(svc: Services, created: type, attribute: str) -> list[str]:
    """The code or name of every unit or user registered, in registration order: their ids
    as the ledger reads them since its last look (Ledger.created_ids; the audit index's rows
    of "Registered" are mostly issues' and cases', tens of thousands), each loaded once."""
    ids = svc.ledger.created_ids(created)
    for aggregate_id in ids:
        if aggregate_id not in _REGISTERED:
            _REGISTERED[aggregate_id] = getattr(svc.ledger.repository.get(aggregate_id), attribute)
    return [_REGISTERED[aggregate_id] for aggregate_id in ids]


def registry_names(units: list[tuple[str, str]], users: list[tuple[str, str]]) -> dict[UUID, str]:
    """The name of each unit and user by its aggregate's id, for the rows of the registry's
    own events (a unit registered, a user given a role), which would otherwise say whose not."""
    return {**{unit_id(code): name for code, name in units}, **{user_id(name): name for name, _ in users}}


def user_choices(svc: Services) -> list[tuple[str, str]]:
    # Recorders' names are the audit trail's own metadata: whoever reads it reads them.
    enrolled = registered(svc, User.Enrolled, "name")  # type: ignore[attr-defined]
    return [(SYSTEM.name, "系统"), *((name, name) for name in enrolled)]


def place(request: Request) -> dict[str, Any]:
    """Where the audit pages were served: ``base``, the prefix their links keep (empty at
    /audit), and the district read under /districts/{district}/ (already chosen and allowed by
    the services' dependency when this is asked), else None."""
    code = request.path_params.get("district")
    if code is None:
        return {"base": "", "district": None}
    return {"base": f"/districts/{code}", "district": {"code": code, "name": deployment(request).names.get(code, code)}}


@audit_router.get("/audit")
def audit(
    request: Request, caller: ActorDep, svc: ServicesDep,
    unit: Text = None, user: Annotated[str | None, Query(max_length=200)] = None,
    kind: Annotated[str | None, Query(max_length=100)] = None,
    aggregate: Annotated[str | None, Query(max_length=40)] = None,
    from_: Annotated[MomentText, Query(alias="from")] = None, to: MomentText = None,
    late: bool = False, after: Annotated[int, Query(ge=0, le=audit_api.MAX_POSITION)] = 0,
) -> Response:
    POLICY.require_audit(caller)
    filters.recorder_unit(svc.registry, unit or None)
    filters.recorder_user(svc.ledger, user or None)
    chosen = event_kinds.parse_kind(kind) if kind else None
    if kind and chosen is None:
        raise InvalidCommand("kind_is_known", "事件种类不在列表中，请从页面上的列表选择")
    try:
        target = UUID(aggregate) if aggregate else None
    except ValueError:
        raise InvalidCommand("aggregate_is_uuid", "对象编号须为 UUID") from None
    late_after = svc.settings.late_entry_days * 86400 + 1 if late else None
    where = AuditFilter(after=after, limit=100, unit=unit or None, user=user or None,
                        aggregate_type=chosen[0] if chosen else None, type=chosen[1] if chosen else None,
                        aggregate=target, recorded_from=moment(from_, "登记起始时间"),
                        recorded_to=moment(to, "登记截止时间"), late_by_seconds=late_after)
    svc.audit.catch_up()
    rows = svc.audit.store.query(where)
    head = svc.merkle.catch_up()
    leaves = svc.merkle_reader.leaves_at(r.position for r in rows)
    # A proof needs a signed head whose tree holds the entry: the latest one, taken above.
    proved = {p for p, leaf in leaves.items() if head is not None and leaf.leaf_index < head.tree_size}
    names = unit_names(request, svc)
    query = {k: v for k, v in request.query_params.items() if k != "after"}
    units, users = [SYSTEM_CHOICE, *unit_choices(svc)], user_choices(svc)
    return render(request, "audit.html", {
        "rows": rows, "head": head.as_json() if head else None, "proved": proved,
        "verification": verifications(request, svc).latest,
        "query": query, "late_seconds": svc.settings.late_entry_days * 86400, "unit_name": names,
        "next_after": rows[-1].position if len(rows) == where.limit else None,
        "units": units, "users": users, "kinds": event_kinds.kind_choices(), "named": registry_names(units, users),
        **place(request),
    })


# ---- downloads: the API's answers as files ---------------------------------------------------


def download(body: dict[str, Any], chinese: str, ascii_name: str) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, indent=2) + "\n", media_type="application/json",
                    headers={**HEADERS, "Content-Disposition": content_disposition(chinese, ascii_name)})


@audit_router.get("/audit/tree-head.json")
def tree_head_file(caller: ActorDep, svc: ServicesDep) -> Response:
    POLICY.require_audit(caller)
    head = audit_api.tree_head(caller, svc)
    size = head["tree_size"]
    return download(head, f"签名树头_大小{size}.json", f"tree-head-{size}.json")


@audit_router.get("/audit/public-key.pem")
def public_key_file(caller: ActorDep, svc: ServicesDep) -> Response:
    POLICY.require_audit(caller)
    return Response(audit_api.public_key(caller, svc), media_type="application/x-pem-file",
                    headers={**HEADERS, "Content-Disposition": content_disposition("树头签名公钥.pem", "tree-head-key.pem")})


@audit_router.get("/audit/proofs/inclusion.json")
def inclusion_file(caller: ActorDep, svc: ServicesDep, position: Position,
                   tree_size: Annotated[int | None, Query(ge=1, le=audit_api.MAX_POSITION)] = None) -> Response:
    proof = audit_api.inclusion(caller, svc, position, tree_size)
    size = proof["tree_size"]
    return download(proof, f"包含证明_位置{position}_树大小{size}.json", f"inclusion-{position}-in-{size}.json")


@audit_router.get("/audit/proofs/consistency.json")
def consistency_file(caller: ActorDep, svc: ServicesDep, first: Position, second: Position) -> Response:
    proof = audit_api.consistency(caller, svc, first, second)
    return download(proof, f"一致性证明_树大小{first}至{second}.json", f"consistency-{first}-{second}.json")


# ---- the whole log's verification -----------------------------------------------------------


@audit_router.post("/audit/verify")
def verify(request: Request, caller: ActorDep, svc: ServicesDep) -> Response:
    """Starts the verification of the whole log in the background, or, while one runs,
    leads to it: the answer comes at once, and /audit/verify shows the progress. Under a
    district's prefix it is that district's one job, which its own inspectors see too."""
    POLICY.require_audit(caller)
    total = svc.ledger.recorder.max_notification_id() or 0
    verifications(request, svc).start(whole_log_verification(svc), by=caller.name, total=total)
    return RedirectResponse(place(request)["base"] + "/audit/verify", status_code=303)


@audit_router.get("/audit/verify")
def verification(request: Request, caller: ActorDep, svc: ServicesDep) -> Response:
    POLICY.require_audit(caller)
    job: Job | None = verifications(request, svc).latest
    return render(request, "verify.html", {"job": job, "refresh": job is not None and job.running, **place(request)})


def _district(district: str) -> None:
    """Only a district's code may choose a district: any other text would leave the province's
    own services serving the page (interfaces.http.deps.services passes it by)."""
    if not CODE.fullmatch(district):
        raise NotFound("没有这个区县", rule="district_exists")


district_router = APIRouter(prefix="/districts/{district}", route_class=PageRoute, include_in_schema=False,
                            dependencies=[Depends(_district)])
district_router.include_router(audit_router)


# ---- replays ---------------------------------------------------------------------------------


@router.get("/replay")
def replay_start(request: Request, caller: ActorDep, svc: ServicesDep) -> Response:
    scope = POLICY.scope(caller)
    issues = current_view(svc, "supervision", scope=scope)["rows"]
    return render(request, "replay.html", {
        # A district has thousands of issues: the form asks for a plan and a number, not one of them.
        "plans": sorted({r["plan"] for r in issues if r["plan"]}),
        "views": {name: title for name, (title, _, _) in replay.VIEWS.items()},
        "year": svc.ledger.clock().astimezone(present.BEIJING).year,
    })


@dataclass(frozen=True)
class Replayed:
    """What one kind of object is in a replay: how it is read at a moment (with its entries
    recorded by then), what of it is shown, and how it is named."""

    kind: str  # the path's last part: /replay/issue, /replay/case
    aggregate_type: str
    read: Callable[[Services, Actor, UUID, datetime | None], tuple[Any, list[dict[str, Any]]]]
    facts: Callable[[Any, present.Names], replay.Facts]
    title: Callable[[Any], str]


ISSUE = Replayed("issue", "RectificationIssue", lambda svc, who, id_, when: svc.issues.issue_as_of(who, id_, when),
                 replay.issue_facts, lambda issue: f"整改问题第 {issue.seq} 项")
CASE = Replayed("case", "ChildCase", lambda svc, who, id_, when: svc.cases.case_as_of(who, id_, when),
                replay.case_facts, lambda case: f"儿童个案 {case.case_number}")


def replayed(request: Request, svc: Services, caller: Actor, what: Replayed, id_: UUID,
             at: str | None, since: str | None) -> Response:
    """The object at ``at`` (now if none) with every entry recorded by then; with ``since``,
    what of it changed in between and the entries recorded in between."""
    when, earlier = window(svc, at, since)
    state, entries = what.read(svc, caller, id_, when)
    names = unit_names(request, svc)
    facts = what.facts(state, names)
    days = svc.settings.late_entry_days
    changes = None
    if earlier is not None:
        try:
            before = what.read(svc, caller, id_, earlier)[0]
        except NotFound:  # it did not exist yet (whether the caller reads it was settled above)
            before = None
        changes = {"facts": replay.fact_changes(what.facts(before, names), facts),
                   "entries": present.timeline(replay.recorded_after(entries, earlier), days, names,
                                               what.aggregate_type)}
    return render(request, "replay_object.html", {
        "id": id_, "kind": what.kind, "title": what.title(state), "facts": facts, "changes": changes,
        "timeline": present.timeline(entries, days, names, what.aggregate_type), **moments(at, since, when, earlier),
    })


def moments(at: str | None, since: str | None, when: datetime | None, earlier: datetime | None) -> dict[str, str]:
    """The two fields as typed, and the moments they stand for, as the page words them."""
    return {"at": at or "", "since": since or "",
            "at_text": present.beijing(when) if when else "", "since_text": present.beijing(earlier) if earlier else ""}


@router.get("/replay/issue")
def replay_issue(request: Request, caller: ActorDep, svc: ServicesDep,
                 id: UUID | None = None,  # noqa: A002 — the link's name
                 plan: Text = None, seq: Annotated[int | None, Query(ge=1, le=100_000)] = None,
                 at: MomentText = None, since: MomentText = None) -> Response:
    if id is None:
        if not plan or seq is None:
            raise InvalidCommand("issue_is_named", "请选择实施方案并填写问题序号")
        id = issue_id(plan_id(plan), seq)  # noqa: A001
    return replayed(request, svc, caller, ISSUE, id, at, since)


@router.get("/replay/case")
def replay_case(request: Request, caller: ActorDep, svc: ServicesDep, id: UUID,  # noqa: A002 — the link's name
                at: MomentText = None, since: MomentText = None) -> Response:
    return replayed(request, svc, caller, CASE, id, at, since)


@router.get("/replay/view")
def replay_view(
    request: Request, caller: ActorDep, svc: ServicesDep,
    name: Annotated[str, Query(pattern="^(supervision|units|evaluation|ledger)$")] = "supervision",
    year: Annotated[int | None, Query(ge=1949, le=2200)] = None,
    at: MomentText = None, since: MomentText = None,
) -> Response:
    scope = POLICY.scope(caller)
    when, earlier = window(svc, at, since)
    if name == "evaluation":
        year = year or (when or svc.ledger.clock()).astimezone(present.BEIJING).year
    else:
        year = None
    shown = (caught_up(svc).views.view(name, as_of=when, year=year, scope=scope) if when
             else current_view(svc, name, year=year, scope=scope))
    changes = None
    if earlier is not None:
        changes = replay.view_changes(name, svc.views.view(name, as_of=earlier, year=year, scope=scope), shown)
    return render(request, "replay_view.html", {
        "name": name, "title": replay.VIEWS[name][0], "year": year, "table": replay.view_table(shown),
        "changes": changes, **moments(at, since, when, earlier),
        "views": {n: title for n, (title, _, _) in replay.VIEWS.items()},
    })
