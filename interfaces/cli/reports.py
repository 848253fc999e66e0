"""What the command line reports, once as a JSON document (English keys) and once as tables
(Chinese labels) built from that same document, so the two cannot tell different facts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.table import Table

from interfaces.cli.output import facts, table
from interfaces.web.present import beijing

OUTCOMES = {
    "created": "已创建",
    "would_create": "将创建",
    "unchanged": "未变更（已导入）",
    "changed": "内容已变更（未覆盖）",
    "refused": "拒绝",
}

DISCREPANCIES = {
    "event_changed": "事件被改动",
    "event_inserted": "插入了事件",
    "event_deleted": "事件被删除",
    "leaf_missing": "缺少默克尔叶子",
    "head_signature": "签名树头的签名无效",
    "head_root": "签名树头的根不符",
    "head_beyond_log": "签名树头超出日志",
    "tracking": "默克尔日志的位置不符",
    "node": "默克尔节点不符",
    "outside_head_signature": "外部树头的签名无效",
    "outside_head": "外部树头与日志不符",
    "snapshot_changed": "快照被改动",
}


def _when(moment: datetime | None) -> str | None:
    return beijing(moment) if moment else None


# The problem-list import ---------------------------------------------------------------------

def import_document(report: dict[str, Any]) -> dict[str, Any]:
    rows = report["rows"]
    resolved = sorted({code for row in rows if not row["refused"] for code in row["units"]})
    return {
        **report,
        "warnings": sum(len(row["warnings"]) for row in rows),
        "units_resolved": resolved,
    }


def import_tables(report: dict[str, Any]) -> list[Table]:
    document = import_document(report)
    counts = document["counts"]
    made = ("将创建的整改问题", counts["would_create"]) if document["dry_run"] else ("已创建的整改问题", counts["created"])
    summary = facts("试导入（未存储）" if document["dry_run"] else "导入", [
        ("读取行数", document["rows_read"]),
        made,
        ("未变更（已导入）", counts["unchanged"]),
        ("内容已变更（未覆盖）", counts["changed"]),
        ("拒绝的行", counts["refused"]),
        ("警告", document["warnings"]),
        ("识别出的责任单位", f"{len(document['units_resolved'])}（{'、'.join(document['units_resolved']) or '无'}）"),
    ])
    rows = table("逐行结果", ("行", "序号", "结果", "责任单位（清单写法）", "单位代码", "措施数", "警告或拒绝原因"), (
        (
            ",".join(map(str, row["lines"])), row["seq"], OUTCOMES.get(row["outcome"], row["outcome"]),
            "、".join(row["unit_names"]), "、".join(row["units"]), len(row["measures"]),
            row["refused"] or "；".join(row["warnings"]) or "",
        )
        for row in document["rows"]
    ))
    return [summary, rows]


# verify ----------------------------------------------------------------------------------------

def verify_document(result: Any, files: Any) -> dict[str, Any]:
    finding = result.finding
    return {
        "intact": result.intact and files.intact,
        "log_intact": result.intact,
        "events_checked": result.events_checked,
        "heads_checked": result.heads_checked,
        "unlogged_events": result.unlogged_events,
        "first_bad_position": finding.position if finding else None,
        "through_position": finding.through_position if finding else None,
        "kind": str(finding.kind) if finding else None,
        "detail": finding.detail if finding else None,
        "summary": result.summary(),
        "evidence_files": {"checked": files.checked, "shredded": files.shredded,
                           "missing": files.missing, "altered": files.altered},
    }


def verify_tables(document: dict[str, Any]) -> list[Table]:
    files = document["evidence_files"]
    pairs: list[tuple[str, Any]] = [
        ("已核验事件", document["events_checked"]),
        ("已核验签名树头", document["heads_checked"]),
        ("尚未入树的新事件", document["unlogged_events"]),
        ("已核验佐证材料", files["checked"]),
        ("随个人信息销毁的材料", files["shredded"]),
        ("结论", "完好" if document["intact"] else "被篡改"),
    ]
    if files["missing"]:
        pairs.append(("缺失的材料", "、".join(files["missing"])))
    if files["altered"]:
        pairs.append(("被改动的材料", "、".join(files["altered"])))
    if not document["log_intact"]:
        first, through = document["first_bad_position"], document["through_position"]
        where = "—" if first is None else (
            f"位置 {first} 至 {through}" if through not in (None, first) else f"位置 {first}")
        pairs += [
            ("首个异常位置", where),
            ("异常类型", DISCREPANCIES.get(document["kind"], document["kind"])),
            ("说明", document["detail"]),
        ]
    return [facts("日志核验", pairs)]


# rebuild ---------------------------------------------------------------------------------------

def rebuild_document(views: Sequence[str], positions: int, seconds: float) -> dict[str, Any]:
    return {"views": list(views), "positions": positions, "seconds": round(seconds, 3)}


def rebuild_tables(document: dict[str, Any]) -> list[Table]:
    return [facts("视图重建", [
        ("已重建视图", "、".join(document["views"])),
        ("日志位置", document["positions"]),
        ("用时（秒）", f"{document['seconds']:.1f}"),
    ])]


# users and tokens ------------------------------------------------------------------------------

def users_document(users: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"user_id": str(u["user_id"]), "name": u["name"], "unit": u["unit"], "role": u["role"],
         "active": u["active"], "has_password": u["has_password"],
         "created_at": u["created_at"].isoformat() if u["created_at"] else None}
        for u in users
    ]


def users_tables(users: Sequence[dict[str, Any]]) -> list[Table]:
    return [table("用户", ("用户名", "单位", "角色", "状态", "已设密码", "创建于", "编号"), (
        (u["name"], u["unit"], u["role"], "启用" if u["active"] else "已停用",
         "是" if u["has_password"] else "否", _when(u["created_at"]), u["user_id"])
        for u in users
    ))]


def _token_state(token: dict[str, Any]) -> str:
    return "revoked" if token["revoked"] else "expired" if token["expired"] else "valid"


TOKEN_STATES = {"revoked": "已吊销", "expired": "已过期", "valid": "有效"}


def tokens_document(tokens: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return [
        {"token_id": str(t["token_id"]), "user_id": str(t["user_id"]), "user": t["user"],
         "created_at": iso(t["created_at"]), "expires_at": iso(t["expires_at"]),
         "last_used_at": iso(t["last_used_at"]), "state": _token_state(t)}
        for t in tokens
    ]


def tokens_tables(tokens: Sequence[dict[str, Any]]) -> list[Table]:
    return [table("令牌", ("令牌编号", "用户", "签发于", "失效于", "最近使用", "状态"), (
        (t["token_id"], t["user"], _when(t["created_at"]), _when(t["expires_at"]), _when(t["last_used_at"]),
         TOKEN_STATES[_token_state(t)])
        for t in tokens
    ))]
