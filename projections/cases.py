"""The fold of a child case's events into a summary without personal data, and the
information ledger (信息台账) computed from those summaries.

Nothing sealed, no birth date, no free text a name could hide in: the summary keeps the
pseudonymous case number, street and community, codes, units and times only.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from domain.assessment import CATEGORIES
from domain.case import ChildCase
from domain.case_corrections import CORRECTIONS
from domain.referral_acceptance import ACCEPTED, AWAITING_ACCEPTANCE, NOT_ACCEPTED, acceptance
from projections.continued import continued
from projections.indicators import Thresholds, day_of, response_hours
from projections.kept import Rows, chunked_parts, contribution

KIND = "case"
Summary = dict[str, Any]

EVENT_CLASSES = (
    ChildCase.Registered, ChildCase.Classified, ChildCase.Reassessed, ChildCase.GuardianshipRecorded,
    ChildCase.MandatoryReportFiled, ChildCase.ReportAccepted, ChildCase.PoliceDispatched,
    ChildCase.Referred, ChildCase.ReferralClosed, ChildCase.ServiceProvided, ChildCase.Visited,
    ChildCase.EvaluatedAtYearEnd, ChildCase.Closed, ChildCase.Reopened, ChildCase.PersonalDataErased,
    ChildCase.EntryCorrected, ChildCase.ReferralAccepted,
)
TOPICS = tuple(f"{cls.__module__}:{cls.__qualname__}" for cls in EVENT_CLASSES)

CATEGORY_LABELS = {
    "left_behind": "留守儿童", "poverty": "家庭贫困", "registered_poor": "建档立卡贫困家庭",
    "disability": "残疾", "guardianship_failure": "监护缺失或不当", "guardian_unable": "监护人无力履责",
    "trafficked_or_employed": "被拐卖或非法雇佣", "temporary_crisis": "临时困境", "unclassified": "未认定",
}
SERVICE_LABELS = {
    "legal_aid": "法律援助", "judicial_aid": "司法救助", "legal_education": "法治宣传教育",
    "counselling": "心理疏导", "schooling_support": "控辍保学、教育资助", "subsidy": "生活补助、临时救助",
    "medical_care": "医疗救治", "rehabilitation": "康复救助", "housing_subsidy": "住房租赁补贴",
    "family_education_guidance": "家庭教育指导", "day_care": "日间照料、托管", "tutoring": "课后辅导",
    "emergency_protection": "应急处置", "other": "其他",
}
STATUS_LABELS = {"open": "在册", "closed": "已结案"}
ACCEPTANCE_LABELS = {AWAITING_ACCEPTANCE: "待接收", ACCEPTED: "已接收", NOT_ACCEPTED: "未接收即结束"}


def _iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def handles(domain_event: object) -> bool:
    return isinstance(domain_event, ChildCase.Event)


def fold(summary: Summary | None, e: Any, *, in_place: bool = False) -> Summary:
    """The summary after ``e``; the argument is left untouched unless ``in_place`` (see
    projections.issues.fold)."""
    kind = type(e).__name__
    if kind == "Registered":
        if summary is not None:
            raise ValueError("case registered twice")
        s: Summary = {
            "kind": KIND, "id": str(e.originator_id), "case_number": e.case_number, "street": e.street,
            "community": e.community, "household_local": e.household_local,
            "registering_unit": e.registering_unit, "registered_at": _iso(e.occurred_at),
            "assessments": {}, "guardianships": [], "reports": {}, "referrals": {}, "services": [],
            "visits": [], "evaluations": {}, "closed": False, "closure_reason": None, "erased": False,
            "entries": {},
        }
    else:
        s = continued(summary, kind, in_place=in_place)
    version = e.originator_version
    entry: dict[str, Any] = {"type": kind, "unit": e.unit, "recorded_at": _iso(e.timestamp),
                             "occurred_at": _iso(e.occurred_at)}
    if kind in ("Classified", "Reassessed"):
        s["assessments"][str(version)] = {"left_behind": e.left_behind, "categories": list(e.categories),
                                          "occurred_at": _iso(e.occurred_at)}
    elif kind == "GuardianshipRecorded":
        s["guardianships"].append({"version": version, "arrangement": e.arrangement})
    elif kind == "MandatoryReportFiled":
        entry["report_id"] = e.report_id
        s["reports"][e.report_id] = {"reporter": e.reporter, "nature": e.nature, "reported_at": _iso(e.occurred_at),
                                     "accepted_at": None, "accepted_by": None, "dispatched_at": None,
                                     "dispatched_by": None}
    elif kind == "ReportAccepted":
        s["reports"][e.report_id].update(accepted_at=_iso(e.occurred_at), accepted_by=e.unit)
    elif kind == "PoliceDispatched":
        s["reports"][e.report_id].update(dispatched_at=_iso(e.occurred_at), dispatched_by=e.unit)
    elif kind == "Referred":
        entry["referral_id"] = e.referral_id
        s["referrals"][e.referral_id] = {"unit": e.to_unit, "duty": e.duty, "status": "open",
                                         "referred_at": _iso(e.occurred_at), "closed_at": None,
                                         "outcome": None, "first_service_at": None}
    elif kind == "ReferralAccepted":
        entry["referral_id"] = e.referral_id
        s["referrals"][e.referral_id]["accepted_at"] = _iso(e.occurred_at)
    elif kind == "ReferralClosed":
        s["referrals"][e.referral_id].update(status="closed", closed_at=_iso(e.occurred_at), outcome=e.outcome)
    elif kind == "ServiceProvided":
        s["services"].append({"version": version, "unit": e.unit, "kind": e.kind,
                              "referral_id": e.referral_id, "occurred_at": _iso(e.occurred_at)})
        if e.seconds_since_referral is not None:
            s["referrals"][e.referral_id]["first_service_at"] = _iso(e.occurred_at)
    elif kind == "Visited":
        s["visits"].append({"unit": e.unit, "occurred_at": _iso(e.occurred_at)})
    elif kind == "EvaluatedAtYearEnd":
        entry["year"] = e.year
        s["evaluations"][str(e.year)] = {"grade": e.grade, "score": e.score}
    elif kind == "Closed":
        s["closed"], s["closure_reason"] = True, e.reason
    elif kind == "Reopened":
        s["closed"], s["closure_reason"] = False, None
    elif kind == "PersonalDataErased":
        s["erased"] = True
    elif kind == "EntryCorrected":
        CORRECTIONS.fold(s, e.corrected_version, e.changes)
    s["entries"][str(version)] = entry
    s["version"] = version
    return s


def current_assessment(s: Summary) -> dict[str, Any] | None:
    return s["assessments"][max(s["assessments"], key=int)] if s["assessments"] else None


def categories_of(s: Summary) -> list[str]:
    current = current_assessment(s)
    if current is None:
        return ["unclassified"]
    found = (["left_behind"] if current["left_behind"] else []) + list(current["categories"])
    return found or ["unclassified"]


def state_of_summary(s: Summary) -> dict[str, Any]:
    return {
        "case_number": s["case_number"], "street": s["street"], "status": "closed" if s["closed"] else "open",
        "categories": categories_of(s), "version": s["version"],
        "referrals": {k: (r["unit"], r["status"], r["first_service_at"], r.get("accepted_at"))
                      for k, r in s["referrals"].items()},
        "services": [(x["unit"], x["kind"]) for x in s["services"]],
        "reports": {k: (r["accepted_by"], r["dispatched_by"]) for k, r in s["reports"].items()},
    }


def state_of_aggregate(case: ChildCase) -> dict[str, Any]:
    current = case.classification
    categories = (["left_behind"] if current and current["left_behind"] else []) + (list(current["categories"]) if current else [])
    return {
        "case_number": case.case_number, "street": case.street, "status": case.status,
        "categories": categories or ["unclassified"], "version": case.version,
        "referrals": {
            k: (r["unit"], r["status"],
                _iso(next((x["occurred_at"] for x in case.services
                           if x["referral_id"] == k and x["seconds_since_referral"] is not None), None)),
                _iso(r.get("accepted_at")))
            for k, r in case.referrals.items()
        },
        "services": [(x["unit"], x["kind"]) for x in case.services],
        "reports": {k: (r["accepted_by"], r["dispatched_by"]) for k, r in case.reports.items()},
    }


def brief(s: Summary) -> Summary:
    """What the information ledger and the evaluation read of a case: the summary's shape,
    without the timeline, the texts, every assessment but the current one, and every visit
    but the latest (health_problems asks for no more)."""
    current = max(s["assessments"], key=int) if s["assessments"] else None
    latest_visit = max(s["visits"], key=lambda v: datetime.fromisoformat(v["occurred_at"]), default=None)
    return {
        "kind": KIND, "id": s["id"], "case_number": s["case_number"], "street": s["street"],
        "community": s["community"],
        "registering_unit": s["registering_unit"], "registered_at": s["registered_at"],
        "closed": s["closed"], "version": s["version"],
        "assessments": {} if current is None else {current: s["assessments"][current]},
        "guardianships": s["guardianships"][:1],
        "reports": {k: {"reported_at": r["reported_at"], "accepted_at": r["accepted_at"],
                        "accepted_by": r["accepted_by"], "dispatched_at": r["dispatched_at"],
                        "dispatched_by": r["dispatched_by"]} for k, r in s["reports"].items()},
        "referrals": {k: {"unit": r["unit"], "duty": r["duty"], "status": r["status"],
                          "referred_at": r["referred_at"], "first_service_at": r["first_service_at"],
                          "accepted_at": r.get("accepted_at")}
                      for k, r in s["referrals"].items()},
        "services": [{"unit": x["unit"], "kind": x["kind"]} for x in s["services"]],
        "visits": [] if latest_visit is None else [latest_visit],
    }


# ---- indicators and the ledger --------------------------------------------------------


def responses(s: Summary, year: int) -> list[tuple[str, float | None]]:
    """E6 per unit: each referral made in ``year`` (hours to the referred unit's first
    service for it), and each mandatory report filed in ``year`` (hours to its acceptance,
    for the accepting unit, and to police dispatch, for the dispatching unit)."""
    return [(unit, hours) for unit, _, hours in tagged_responses(s, year)]


# What a response answered (tagged_responses): a referral's first service, a mandatory
# report's acceptance, the police dispatched to it.
REFERRAL, ACCEPTANCE, DISPATCH = "referral", "acceptance", "dispatch"


def tagged_responses(s: Summary, year: int) -> list[tuple[str, str, float | None]]:
    """E6 as ``responses``, each response with what it answered (the provincial roll-up
    shows them apart: projections.rollup)."""
    found: list[tuple[str, str, float | None]] = []
    for r in s["referrals"].values():
        if day_of(r["referred_at"]).year == year:  # type: ignore[union-attr]
            found.append((r["unit"], REFERRAL, response_hours(r["referred_at"], r["first_service_at"])))
    for r in s["reports"].values():
        if day_of(r["reported_at"]).year == year:  # type: ignore[union-attr]
            if r["accepted_by"]:
                found.append((r["accepted_by"], ACCEPTANCE, response_hours(r["reported_at"], r["accepted_at"])))
            if r["dispatched_by"]:
                found.append((r["dispatched_by"], DISPATCH, response_hours(r["reported_at"], r["dispatched_at"])))
    return found


def health_problems(s: Summary, today: date, thresholds: Thresholds) -> list[str]:
    """L1 An open case's gaps: not classified; no guardianship recorded; not visited, or not
    reassessed, within ``revisit_days`` (counted from registration when never done)."""
    if s["closed"]:
        return []
    problems = []
    if not s["assessments"]:
        problems.append("未认定类别")
    if not s["guardianships"]:
        problems.append("未记录监护情况")
    limit = today - timedelta(days=thresholds.revisit_days)
    last_visit = max((day_of(v["occurred_at"]) for v in s["visits"]), default=None) or day_of(s["registered_at"])
    if last_visit < limit:  # type: ignore[operator]
        problems.append(f"超过{thresholds.revisit_days}天未走访")
    current = current_assessment(s)
    assessed = day_of(current["occurred_at"]) if current else day_of(s["registered_at"])
    if assessed < limit:  # type: ignore[operator]
        problems.append(f"超过{thresholds.revisit_days}天未重新评估")
    return problems


def _cols(spec: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"key": k, "label": v} for k, v in spec]


def _ledger_part(s: Summary, today: date, thresholds: Thresholds) -> tuple[
    str, list[str], list[dict[str, Any]], list[tuple[str, str]], dict[str, Any] | None
]:
    """A case's part of the ledger: its status and categories, its referrals' rows, its
    services by (unit, kind), and its health row (None when healthy)."""
    status = "closed" if s["closed"] else "open"
    rows = []
    for rid, r in sorted(s["referrals"].items()):
        hours = response_hours(r["referred_at"], r["first_service_at"])
        waiting = None
        if r["first_service_at"] is None and r["status"] == "open":
            waiting = (today - day_of(r["referred_at"])).days  # type: ignore[operator]
        rows.append({
            "case_number": s["case_number"], "referral_id": rid, "unit": r["unit"], "duty": r["duty"],
            "referred_at": r["referred_at"], "status": "未结束" if r["status"] == "open" else "已结束",
            "first_service_at": r["first_service_at"], "hours_to_first_service": hours,
            "days_waiting": waiting, "acceptance": ACCEPTANCE_LABELS[acceptance(r)],
            "accepted_at": r.get("accepted_at"), "hours_to_acceptance": response_hours(r["referred_at"], r.get("accepted_at")),
        })
    problems = health_problems(s, today, thresholds)
    health = ({"case_number": s["case_number"], "street": s["street"],
               "registering_unit": s["registering_unit"], "problems": "；".join(problems)} if problems else None)
    return status, categories_of(s), rows, [(x["unit"], x["kind"]) for x in s["services"]], health


def ledger_view(cases: list[Summary], now: datetime, thresholds: Thresholds, kept: Any = None) -> dict[str, Any]:
    """The information ledger; ``kept`` (projections.kept.Kept) reuses each case's part."""
    today = day_of(now)
    assert today is not None

    def chunk(cases: list[Summary]) -> tuple[dict[tuple[str, str], Counter[str]], list[dict[str, Any]],
                                             Counter[tuple[str, str]], list[dict[str, Any]]]:
        table: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        referrals, services, health = [], Counter[tuple[str, str]](), []
        for s in cases:
            status, categories, rows, provided, problems = contribution(
                kept, "ledger", s, (today, thresholds), lambda: _ledger_part(s, today, thresholds))
            for category in categories:
                table[(s["street"], category)][status] += 1
            referrals.extend(rows)
            services.update(provided)
            if problems is not None:
                health.append(problems)
        return table, referrals, services, health

    table: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    referral_parts, services, health = [], Counter[tuple[str, str]](), []
    # In case number order, a chunk at a time (projections.kept: one chunk again after a write).
    for part_table, part_referrals, part_services, part_health in chunked_parts(
            kept, "ledger", cases, (today, thresholds), chunk, lambda c: (c["case_number"], c["id"])):
        for key, counts in part_table.items():
            table[key].update(counts)
        referral_parts.append(part_referrals)
        services.update(part_services)
        health.extend(part_health)
    referrals = Rows(referral_parts)
    order = {c: i for i, c in enumerate(("left_behind", *CATEGORIES, "unclassified"))}
    rows = [
        {"street": street, "category": CATEGORY_LABELS[category], "open": counts["open"],
         "closed": counts["closed"], "total": counts["open"] + counts["closed"]}
        for (street, category), counts in sorted(table.items(), key=lambda kv: (kv[0][0], order[kv[0][1]]))
    ]
    return {
        "columns": _cols([("street", "街道（乡镇）"), ("category", "类别"), ("open", "在册"),
                          ("closed", "已结案"), ("total", "合计")]),
        "rows": rows,
        "sections": {
            "转介与响应": {"columns": _cols([
                ("case_number", "个案编号"), ("referral_id", "转介编号"), ("unit", "接收单位"), ("duty", "职责"),
                ("referred_at", "转介时间"), ("status", "状态"), ("first_service_at", "首次服务时间"),
                ("hours_to_first_service", "响应时长（小时）"), ("days_waiting", "已等待天数"),
                ("acceptance", "接收情况"), ("accepted_at", "接收时间"), ("hours_to_acceptance", "接收用时（小时）")]),
                "rows": referrals},
            "关爱服务": {"columns": _cols([("unit", "服务单位"), ("kind", "服务类型"), ("count", "次数")]),
                     "rows": [{"unit": u, "kind": SERVICE_LABELS.get(k, k), "count": n}
                              for (u, k), n in sorted(services.items())]},
            "台账完整性": {"columns": _cols([("case_number", "个案编号"), ("street", "街道（乡镇）"),
                                       ("registering_unit", "登记单位"), ("problems", "缺失或未更新")]),
                      "rows": health},
        },
        "revisit_days": thresholds.revisit_days,
    }
