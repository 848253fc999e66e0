"""What the case pages show, shaped from a case's state, its history and the views' briefs.

Pure functions: no store, no clock. Nothing personal comes in: the briefs and the state keep
the case number, street, community, codes, units and times; sealed text arrives masked
(application.case_display), and the personal fields are shaped only for the page that shows
them after the reason is recorded (``personal``).
"""

from __future__ import annotations

from typing import Any

from domain.case import ChildCase
from interfaces.web import present
from projections.cases import CATEGORY_LABELS, SERVICE_LABELS, STATUS_LABELS

REPORTER_LABELS = {
    "school": "中小学校", "kindergarten": "幼儿园", "medical_institution": "医疗机构",
    "villagers_committee": "村民委员会", "residents_committee": "居民委员会",
    "social_work_agency": "社会工作服务机构", "rescue_agency": "救助管理机构", "welfare_institution": "福利机构",
}
NATURE_LABELS = {
    "abuse": "虐待", "abandonment": "遗弃", "accidental_injury": "意外伤害", "unlawful_harm": "不法侵害",
    "unattended": "实际无人监护", "trafficking": "被拐卖", "illegal_employment": "非法雇佣", "other": "其他",
}
GUARDIANSHIP_LABELS = {"statutory": "监护人", "entrusted": "受委托监护人", "court_appointed": "法院指定监护人"}
CLOSURE_LABELS = {
    "aged_16": "年满十六周岁", "parents_returned": "父母返乡", "moved_away": "迁出本区", "hardship_resolved": "困境已解除",
}
OUTCOME_LABELS = {"completed": "已完成", "withdrawn": "撤回"}
REFERRAL_STATUS = {"open": "进行中", "closed": "已结束"}
# The difficulty categories a classification may name (left-behind is its own checkbox).
CATEGORY_CHOICES = [(k, v) for k, v in CATEGORY_LABELS.items() if k not in ("left_behind", "unclassified")]
PERSONAL_LABELS = {
    "name": "姓名", "id_number": "身份证号码", "birth_date": "出生日期", "address": "住址", "guardian": "监护人",
    "relation": "关系", "phone": "联系电话", "details": "报告详情", "notes": "记录", "reason": "理由",
}
# The fields a correction of a case entry changes, in Chinese (domain.case_corrections' names),
# and the labels of their codes; also the correction form's labels (interfaces.web.case_correction_forms).
FIELD_LABELS = {
    "street": "街道", "community": "社区（村）", "household_local": "本地户籍", "left_behind": "留守儿童",
    "categories": "困境儿童类别", "evidence": "证明材料", "arrangement": "监护类型", "reporter": "报告主体",
    "nature": "报告事项", "duty": "依据的职责", "kind": "服务类型", "grade": "等次", "score": "分数",
    "findings": "评估意见", "reason": "理由", "occurred_at": "实际发生时间", "birth_month": "出生年月",
    "sealed": "个人信息", "sealed_reason": "更正理由",
}
_CODES = {"categories": CATEGORY_LABELS, "arrangement": GUARDIANSHIP_LABELS, "reporter": REPORTER_LABELS,
          "nature": NATURE_LABELS, "kind": SERVICE_LABELS}
CASES_PER_PAGE = 100

Names = present.Names


def label(table: dict[str, str], code: str | None) -> str:
    return table.get(code or "", code or "")


def choices(table: dict[str, str]) -> list[tuple[str, str]]:
    return list(table.items())


# ---- the list --------------------------------------------------------------------------


def newest_first(brief: dict[str, Any]) -> tuple[str, str]:
    """The case list's order, reversed: by registration, then case number."""
    return brief.get("registered_at") or "", brief["case_number"]


def case_rows(ordered: list[dict[str, Any]], names: Names, page: int = 1) -> dict[str, Any]:
    """The cases the reader reads (the briefs application.read_policy's scope keeps), newest
    first (``ordered`` by ``newest_first``, reversed), a page at a time; no personal field
    is in a brief to show."""
    pages = max(1, -(-len(ordered) // CASES_PER_PAGE))
    page = min(max(1, page), pages)
    rows = []
    for b in ordered[(page - 1) * CASES_PER_PAGE:page * CASES_PER_PAGE]:
        assessment = next(iter(b["assessments"].values()), None)
        categories = ((["left_behind"] if assessment["left_behind"] else []) + list(assessment["categories"])
                      if assessment else [])
        rows.append({
            "id": b["id"], "case_number": b["case_number"], "street": b["street"],
            "community": b.get("community", ""),  # briefs stored before it was kept lack it
            "status": STATUS_LABELS["closed" if b["closed"] else "open"], "closed": b["closed"],
            "categories": [label(CATEGORY_LABELS, c) for c in categories] or ["未认定"],
            "referrals": [f"{names(r['unit'])}（{label(REFERRAL_STATUS, r['status'])}）"
                          for r in b["referrals"].values()],
        })
    return {"rows": rows, "page": page, "pages": pages, "total": len(ordered),
            "previous": f"/cases?page={page - 1}" if page > 1 else None,
            "next": f"/cases?page={page + 1}" if page < pages else None}


# ---- one case ----------------------------------------------------------------------------


def _minutes(seconds: int | None) -> str:
    return "" if seconds is None else f"{seconds // 60} 分钟"


def case_state(case: ChildCase, names: Names) -> dict[str, Any]:
    return {
        "case_number": case.case_number, "street": case.street, "community": case.community,
        "household": "本地户籍" if case.household_local else "非本地户籍", "birth_month": case.birth_month,
        "registering_unit": names(case.registering_unit), "status": label(STATUS_LABELS, case.status),
        "closed": case.closed, "closure_reason": label(CLOSURE_LABELS, case.closure_reason),
        "categories": [label(CATEGORY_LABELS, c) for c in (["left_behind"] if case.left_behind else [])
                       + case.categories] or ["未认定"],
        "reports": [{
            "report_id": r["report_id"], "reporter": label(REPORTER_LABELS, r["reporter"]),
            "nature": label(NATURE_LABELS, r["nature"]), "reported_at": present.beijing(r["reported_at"]),
            "accepted": present.beijing(r["accepted_at"]), "accepted_by": names(r["accepted_by"] or ""),
            "to_acceptance": _minutes(r["seconds_to_acceptance"]),
            "dispatched": present.beijing(r["dispatched_at"]), "dispatched_by": names(r["dispatched_by"] or ""),
            "to_dispatch": _minutes(r["seconds_to_dispatch"]),
        } for r in case.reports.values()],
        "referrals": [{
            "referral_id": r["referral_id"], "unit": names(r["unit"]), "duty": r["duty"],
            "status": label(REFERRAL_STATUS, r["status"]), "referred_at": present.beijing(r["referred_at"]),
            "accepted_at": present.beijing(r.get("accepted_at")), "outcome": label(OUTCOME_LABELS, r["outcome"]),
        } for r in case.referrals.values()],
        "services": [{"kind": label(SERVICE_LABELS, s["kind"]), "unit": names(s["unit"]),
                      "at": present.beijing(s["occurred_at"]), "referral_id": s["referral_id"] or "",
                      "files": len(s.get("evidence") or [])} for s in case.services],
        "visits": len(case.visits),
        "evaluations": [{"year": year, **e} for year, e in sorted(case.evaluations.items())],
        "erased": case.erased,
    }


def _case_text(kind: str, f: dict[str, Any], names: Names) -> str | None:
    """What a case entry says, in Chinese; None for the kinds present.timeline words well."""
    if kind == "Registered":
        return f"{f.get('street')} {f.get('community')}；出生年月 {f.get('birth_month') or ''}；个人信息{f.get('sealed') or ''}"
    if kind in ("Classified", "Reassessed"):
        found = (["留守儿童"] if f.get("left_behind") else []) + [label(CATEGORY_LABELS, c) for c in f.get("categories") or []]
        files = f"；证明材料 {len(f['evidence'])} 份" if f.get("evidence") else ""
        return ("、".join(found) or "不属于任何类别") + files
    if kind == "GuardianshipRecorded":
        return f"{label(GUARDIANSHIP_LABELS, f.get('arrangement'))}；监护人信息{f.get('sealed') or ''}"
    if kind == "MandatoryReportFiled":
        details = f"；详情{f['sealed']}" if f.get("sealed") else ""
        return (f"{f.get('report_id')}：{label(REPORTER_LABELS, f.get('reporter'))}报告"
                f"{label(NATURE_LABELS, f.get('nature'))}{details}")
    if kind in ("ReportAccepted", "PoliceDispatched"):
        return f"{f.get('report_id')}：距报告 {_minutes(f.get('seconds_since_report'))}"
    if kind == "Referred":
        return f"{f.get('referral_id')}：转介至{names(f.get('to_unit') or '')}，{f.get('duty')}"
    if kind == "ReferralAccepted":
        return f"{f.get('referral_id')}：已接收"
    if kind == "ReferralClosed":
        return f"{f.get('referral_id')}：{label(OUTCOME_LABELS, f.get('outcome'))}"
    if kind == "ServiceProvided":
        parts = [label(SERVICE_LABELS, f.get("kind"))]
        if f.get("referral_id"):
            parts.append(f"转介 {f['referral_id']}")
        if f.get("evidence"):
            parts.append(f"材料 {len(f['evidence'])} 份")
        if f.get("sealed"):
            parts.append(f"记录{f['sealed']}")
        return "；".join(parts)
    if kind == "Visited":
        return f"走访记录{f['sealed']}" if f.get("sealed") else "走访"
    if kind == "Closed":
        return f"结案原因：{label(CLOSURE_LABELS, f.get('reason'))}"
    if kind == "EntryCorrected":
        changed = [_changed(name, value) for name, value in (f.get("changes") or {}).items()]
        if f.get("reason"):  # clear once the personal data is erased; sealed before
            changed.append(f"理由：{f['reason']}")
        return "；".join(changed)
    return None


def _changed(name: str, value: Any) -> str:
    what = FIELD_LABELS.get(name, name)
    if name.startswith("sealed"):
        return f"{what}已更正{value}"  # the sealed mark: what changed is shown to its readers only
    if name == "evidence":
        return f"{what}改为 {len(value or [])} 份"
    if name == "occurred_at":
        return f"{what}改为 {present.beijing(str(value))}"
    if isinstance(value, bool):
        return f"{what}改为{'是' if value else '否'}"
    if isinstance(value, list):
        return f"{what}改为 {'、'.join(label(_CODES.get(name, {}), str(v)) for v in value) or '无'}"
    return f"{what}改为 {label(_CODES.get(name, {}), str(value))}"


def timeline(entries: list[dict[str, Any]], late_entry_days: int, names: Names) -> list[dict[str, Any]]:
    shaped = present.timeline(entries, late_entry_days, names, aggregate_type="ChildCase")
    for entry, shown in zip(entries, shaped, strict=True):
        text = _case_text(entry["type"], entry["fields"], names)
        if text is not None:
            shown["text"] = text
    return shaped


def access_log(entries: list[dict[str, Any]], names: Names) -> list[dict[str, Any]]:
    roles = {"supervisor": "督查督办", "inspector": "检查人员", "agency": "成员单位"}
    return [{"user": e["user"], "unit": names(e["unit"]), "role": roles.get(e["role"], e["role"]),
             "at": present.beijing(e["at"]), "reason": e.get("reason") or "（未填写）"} for e in entries]


# ---- the personal fields, after the read is recorded ---------------------------------------


def _pairs(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, dict):
        return [("", str(value))]  # the erased mark
    return [(PERSONAL_LABELS.get(k, k), str(v)) for k, v in value.items() if v not in (None, "")]


def personal(opened: dict[str, Any] | None) -> dict[str, Any]:
    if not opened or opened.get("erased"):
        return {"erased": True}
    return {
        "erased": False,
        "person": _pairs(opened.get("person")),
        "guardianships": [_pairs(g) for g in opened.get("guardianships", [])],
        "reports": [(rid, _pairs(r)) for rid, r in opened.get("reports", {}).items()],
        "services": [_pairs(s) for s in opened.get("services", [])],
        "visits": [_pairs(v) for v in opened.get("visits", [])],
    }
