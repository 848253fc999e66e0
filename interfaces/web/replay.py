"""What the inspector's replays show: an issue, a case or a view as the ledger held it at a
moment, and what changed between two moments.

Pure functions over what the services answer (already limited by application.read_policy).
A case is shown by what the views may show of it: never a personal field, sealed or not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from domain.case import ChildCase
from domain.issue import RectificationIssue
from interfaces.web import present
from projections.cases import CATEGORY_LABELS, STATUS_LABELS as CASE_STATUS_LABELS

Facts = dict[str, str]
ABSENT = "（无）"


def issue_facts(issue: RectificationIssue | None, names: present.Names) -> Facts:
    """The issue's state as labelled lines; empty before it was registered."""
    if issue is None:
        return {}
    shown = present.issue_state(issue, names)
    facts = {
        "状态": shown["status"], "工作职责": shown["duty"], "存在问题": shown["problem"],
        "牵头单位": shown["lead"], "配合单位": shown["co"] or "无", "整改期限": str(shown["deadline"] or "未定"),
        "催办次数": str(shown["urgings"]),
    }
    for m in shown["measures"]:
        state = "已办结" if m["done"] else "未办结"
        facts[f"整改措施 {m['measure_id']}"] = f"{m['unit_name']}：{m['text']}（{state}）"
    return facts


def case_facts(case: ChildCase | None, names: present.Names) -> Facts:
    """What the ledger view may show of a case: its pseudonymous number, place, categories and
    the work done on it. No name, ID number, birth date, address or guardian, nor their seals."""
    if case is None:
        return {}
    categories = [CATEGORY_LABELS.get(c, c) for c in case.categories]
    facts = {
        "个案编号": case.case_number, "街道": case.street, "社区": case.community,
        "本地户籍": "是" if case.household_local else "否",
        "登记单位": names(case.registering_unit),
        "状态": CASE_STATUS_LABELS.get(case.status, case.status),
        "留守儿童": "是" if case.left_behind else ("否" if case.left_behind is not None else "未认定"),
        "困境儿童类别": "、".join(categories) or "无",
        "强制报告": f"{len(case.reports)} 件", "关爱服务": f"{len(case.services)} 次", "走访": f"{len(case.visits)} 次",
        "个人信息": "已删除" if case.erased else "已加密保存（本页不显示）",
    }
    for r in case.referrals.values():
        state = "办理中" if r["status"] == "open" else "已结束"
        facts[f"转介 {r['referral_id']}"] = f"{names(r['unit'])}（{state}）"
    return facts


def fact_changes(before: Facts, after: Facts) -> list[dict[str, str]]:
    """Each line whose value differs between the two moments, in the later state's order."""
    labels = dict.fromkeys([*after, *before])
    return [
        {"label": label, "before": before.get(label, ABSENT), "after": after.get(label, ABSENT)}
        for label in labels if before.get(label) != after.get(label)
    ]


def recorded_after(entries: Iterable[dict[str, Any]], since: datetime) -> list[dict[str, Any]]:
    return [e for e in entries if e["recorded_at"] > since]


# ---- views ------------------------------------------------------------------------------

# name -> (title, the columns that tell one row from another, the columns that name it)
VIEWS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "supervision": ("督查督办台账", ("id",), ("plan", "seq")),
    "units": ("各单位整改情况", ("unit",), ("unit_name",)),
    "evaluation": ("年终考核", ("unit",), ("unit_name",)),
    "ledger": ("信息台账（统计）", ("street", "category"), ("street", "category")),
}
# Codes and ids: the names beside them say the same to a person.
CODE_COLUMNS = frozenset({"id", "unit", "lead_unit", "co_units"})


def cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if key.endswith("_at") and isinstance(value, str):
        return present.beijing(value)
    if key == "on_time_rate" and isinstance(value, float):
        return f"{round(value * 100)}%"
    return str(value)


def view_table(view: Mapping[str, Any]) -> dict[str, Any]:
    columns = [c for c in view["columns"] if c["key"] not in CODE_COLUMNS]
    return {
        "columns": [c["label"] for c in columns],
        "rows": [[cell(c["key"], r.get(c["key"])) for c in columns] for r in view["rows"]],
    }


def view_changes(name: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, str]]:
    """Each cell of the view that differs between two moments, by row and column; a row
    only one of them has is one change."""
    _, key, naming = VIEWS[name]
    columns = [c for c in after["columns"] if c["key"] not in CODE_COLUMNS]

    def keyed(view: Mapping[str, Any]) -> dict[tuple[Any, ...], Mapping[str, Any]]:
        return {tuple(r.get(k) for k in key): r for r in view["rows"]}

    old, new = keyed(before), keyed(after)
    changes = []
    for row_key in dict.fromkeys([*new, *old]):
        was, now = old.get(row_key), new.get(row_key)
        named = now if now is not None else was
        assert named is not None
        row = " ".join(cell(k, named.get(k)) for k in naming)
        if was is None or now is None:
            changes.append({"row": row, "column": "整行", "before": "有" if was else ABSENT,
                            "after": "有" if now else ABSENT})
            continue
        changes.extend(
            {"row": row, "column": c["label"], "before": cell(c["key"], was.get(c["key"])) or ABSENT,
             "after": cell(c["key"], now.get(c["key"])) or ABSENT}
            for c in columns if was.get(c["key"]) != now.get(c["key"])
        )
    return changes
