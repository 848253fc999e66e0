"""The audit trail: the global log with its Merkle leaves, signed tree heads and proofs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from application.access import Actor
from application.errors import NotFound
from application.read_policy import POLICY
from domain.base import InvalidCommand
from interfaces.bootstrap import Services
from interfaces.http import filters, formats
from interfaces.http.deps import ActorDep, ServicesDep
from interfaces.http.inputs import moment_or_day_end
from interfaces.http.problems import refused_by
from interfaces.http.schemas import UNIT_NAME
from projections.audit_index import AuditFilter
from projections.merkle_log import leaf_fields_of, withheld
from projections.merkle_proofs import BadTreeSize, NotLogged

# The routes, mounted twice below: at /api/v1/audit for the caller's own district (or the
# province), and under /api/v1/districts/{district}/ for a province inspector reading a
# district's (interfaces.http.deps.services chooses that district's services).
router = APIRouter()

# Positions and sizes fit a signed 64-bit column, and a JSON number read as a double: larger are refused.
MAX_POSITION = 2**53 - 1


class AuditEvent(BaseModel):
    position: int
    leaf_index: int | None
    leaf_hash: str | None
    aggregate: UUID
    aggregate_type: str
    version: int
    type: str
    recorder: str
    unit: str
    unit_name: str = Field(description=UNIT_NAME)
    recorded_at: datetime
    occurred_at: datetime
    late_by_seconds: int
    leaf: dict[str, Any] | None = Field(
        default=None, description="叶子对象：库中存储的事件（个人信息为密文），见 docs/VERIFYING.md；管理员不可见（null）"
    )
    leaf_withheld: bool = Field(
        default=False,
        description="为 true 时不公布叶子对象（旧版幂等应答含未加密钥的请求摘要，或旧版个案事件含明文出生日期），只凭 leaf_hash 核验，见 docs/VERIFYING.md",
    )


class TreeHeadOut(BaseModel):
    tree_size: int
    root_hash: str
    timestamp: str
    signature: str


class InclusionOut(BaseModel):
    leaf_index: int
    leaf_hash: str
    tree_size: int
    root_hash: str
    audit_path: list[str]


class ConsistencyOut(BaseModel):
    first: int
    second: int
    first_root_hash: str
    second_root_hash: str
    proof: list[str]


def _auditor(actor: Actor) -> None:
    POLICY.require_audit(actor)


def _moment(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return moment_or_day_end(value)
    except ValueError:
        raise InvalidCommand(f"{name}_is_iso8601", f"{name} 须为 ISO 8601 日期或时间") from None


def _events(svc: Services, where: AuditFilter, reader: Actor) -> list[dict[str, Any]]:
    # Both followers run in the background; catching up here lets a reader see their own writes.
    svc.audit.catch_up()
    svc.merkle.catch_up()
    rows = svc.audit.store.query(where)
    leaves = svc.merkle_reader.leaves_at(r.position for r in rows)
    stored = svc.ledger.recorder.stored_at(r.position for r in rows)  # type: ignore[attr-defined]
    hidden = {p for p, n in stored.items() if withheld(n)}
    # Admins read the metadata and the leaf hashes, not the stored events themselves.
    shown = POLICY.reads_audit_content(reader)
    return [
        {
            "position": r.position,
            "leaf_index": leaves[r.position].leaf_index if r.position in leaves else None,
            "leaf_hash": leaves[r.position].leaf_hash.hex() if r.position in leaves else None,
            "aggregate": r.aggregate_id, "aggregate_type": r.aggregate_type, "version": r.version,
            "type": r.type, "recorder": r.user, "unit": r.unit, "unit_name": svc.ledger.unit_names(r.unit),
            "recorded_at": r.recorded_at,
            "occurred_at": r.occurred_at, "late_by_seconds": r.lateness_seconds,
            "leaf": (leaf_fields_of(stored[r.position])
                     if shown and r.position in stored and r.position not in hidden else None),
            "leaf_withheld": r.position in hidden,
        }
        for r in rows
    ]


Text64 = Annotated[str | None, Query(max_length=64)]


UNIT_IS_KNOWN = {"unit_is_known": "unit 不是已登记的单位代码（或 system）"}


@router.get("/events", response_model=list[AuditEvent], summary="全局事件日志（按位置顺序，after 分页）",
            responses=refused_by(422, **UNIT_IS_KNOWN, user_is_known="user 不是已登记的用户名",
                                 type_is_known="type 不是已知的事件类型"))
def audit_events(
    caller: ActorDep,
    svc: ServicesDep,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    unit: Text64 = None,
    user: Annotated[str | None, Query(max_length=200)] = None,
    type: Text64 = None,  # noqa: A002 — the contract's parameter name
    aggregate: UUID | None = None,
    from_: Annotated[str | None, Query(alias="from", pattern=formats.DAY_OR_MOMENT, max_length=40,
                                       description="登记时间下限：ISO 8601 日期或时间")] = None,
    to: Annotated[str | None, Query(pattern=formats.DAY_OR_MOMENT, max_length=40,
                                    description="登记时间上限：ISO 8601 日期（含当天）或时间")] = None,
) -> Any:
    _auditor(caller)
    filters.recorder_unit(svc.registry, unit)
    filters.recorder_user(svc.ledger, user)
    filters.event_type(type)
    where = AuditFilter(after=after, limit=limit, unit=unit, user=user, type=type, aggregate=aggregate,
                        recorded_from=_moment(from_, "from"), recorded_to=_moment(to, "to"))
    return _events(svc, where, caller)


@router.get("/late-entries", response_model=list[AuditEvent], summary="迟报或倒填的记录（声称发生时间远早于登记时间）",
            responses=refused_by(422, **UNIT_IS_KNOWN))
def late_entries(
    caller: ActorDep,
    svc: ServicesDep,
    days: Annotated[int | None, Query(ge=0, le=3650, description="默认取设置 late_entry_days")] = None,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    unit: Text64 = None,
) -> Any:
    _auditor(caller)
    filters.recorder_unit(svc.registry, unit)
    threshold = svc.settings.late_entry_days if days is None else days
    return _events(svc, AuditFilter(after=after, limit=limit, unit=unit, late_by_seconds=threshold * 86400 + 1),
                   caller)


@router.get("/tree-head", response_model=TreeHeadOut, summary="最新的签名树头")
def tree_head(_: ActorDep, svc: ServicesDep) -> Any:
    head = svc.merkle.catch_up()
    if head is None:
        raise NotFound("日志为空，尚无树头", rule="tree_head_exists")
    return head.as_json()


@router.get("/public-key", response_class=PlainTextResponse, summary="签署树头的 Ed25519 公钥（PEM）")
def public_key(_: ActorDep, svc: ServicesDep) -> str:
    return svc.signer.public_key_pem()


@router.get("/proofs/inclusion", response_model=InclusionOut, summary="包含证明（RFC 9162）", responses=refused_by(
    422, tree_size_fits="tree_size 大于已入树的事件数，或小于 position"))
def inclusion(
    caller: ActorDep, svc: ServicesDep, position: Annotated[int, Query(ge=1, le=MAX_POSITION)],
    tree_size: Annotated[int | None, Query(ge=1, le=MAX_POSITION)] = None,
) -> Any:
    _auditor(caller)
    svc.merkle.catch_up()
    try:
        return svc.merkle_reader.inclusion_proof(position, tree_size).as_json()
    except NotLogged:
        raise NotFound("该位置没有已入树的事件", rule="position_is_logged") from None
    except BadTreeSize as bad:
        raise InvalidCommand("tree_size_fits", f"树的大小不合适：{bad}") from None


@router.get("/proofs/consistency", response_model=ConsistencyOut, summary="一致性证明（RFC 9162）", responses=refused_by(
    422, tree_sizes_fit="second 大于已入树的事件数，或 first 大于 second"))
def consistency(
    caller: ActorDep, svc: ServicesDep, first: Annotated[int, Query(ge=1, le=MAX_POSITION)], second: Annotated[int, Query(ge=1, le=MAX_POSITION)],
) -> Any:
    _auditor(caller)
    svc.merkle.catch_up()
    try:
        return svc.merkle_reader.consistency_proof(first, second).as_json()
    except BadTreeSize as bad:
        raise InvalidCommand("tree_sizes_fit", f"树的大小不合适：{bad}") from None


def _district(district: Annotated[str, Path(pattern=r"^[1-9][0-9]{5}$", description="区县的 6 位行政区划代码")]) -> None:
    """Documents the path's district; interfaces.http.deps.services reads it."""


own_router = APIRouter(prefix="/api/v1/audit", tags=["审计"])
own_router.include_router(router)
district_router = APIRouter(prefix="/api/v1/districts/{district}/audit", tags=["省级督查"],
                            dependencies=[Depends(_district)])
district_router.include_router(router)
