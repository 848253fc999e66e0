"""The provincial roll-up (省级督查汇总): per district and per kind of unit, the figures the
provincial office supervises districts by. Pure: no store, no clock.

- ``fold`` takes a district's events into a state per aggregate: issues and cases by the
  district views' own folds (projections.issues, projections.cases), so a correction or a
  new event kind changes both alike; units into their code, name and groups.
- ``brief`` is what the roll-up reads of a state, small enough to keep one per change
  (infrastructure.rollup_store keeps them dated, to answer as of a past moment).
- ``table`` computes the rows as of a moment from the briefs of every district, by the
  district views' own rules (projections.queries.units, projections.indicators,
  projections.cases.tagged_responses): for the same moment a district's figures here are
  those of its own views, summed over the units of a kind.

The kind of a unit (单位类别) is the first group the registry put it in (各司法所 → 司法所);
a unit in no group is a kind of its own, named by its registered name (区教育局), so the
same member unit of different districts falls in one kind when the districts name it
alike; a code the registry does not know is its own kind.

No child's personal data reaches a brief: the case fold keeps none (projections.cases), and
the brief keeps only units, times and counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from domain.issue import CLOSED
from domain.registry import Unit
from domain.urging import AWAITING_REPLY, reply_status
from projections import cases, indicators as ind, issues, queries
from projections.indicators import day_of

Summary = dict[str, Any]
UNIT_KIND = "unit"
UNIT_EVENTS = (Unit.Registered, Unit.JoinedGroup)  # type: ignore[attr-defined]
TOPICS: tuple[str, ...] = (
    *issues.TOPICS, *cases.TOPICS, *(f"{cls.__module__}:{cls.__qualname__}" for cls in UNIT_EVENTS),
)
# The kind of an issue without any responsible unit.
NO_UNIT = "未指定单位"

COUNTS = (
    "issues_open", "issues_overdue", "measures_open", "measures_overdue", "done_on_time", "done_late",
    "urgings", "urgings_awaiting_reply", "measures_due_in_year", "done_on_time_in_year", "case_responses",
)
# Which response times each mean is taken over (projections.cases.tagged_responses).
HOURS_OF = {
    "case_response_hours": (cases.REFERRAL, cases.ACCEPTANCE, cases.DISPATCH),
    "report_acceptance_hours": (cases.ACCEPTANCE,),
    "police_dispatch_hours": (cases.DISPATCH,),
    "referral_service_hours": (cases.REFERRAL,),
}
COLUMNS = [
    ("district", "区县代码"), ("district_name", "区县"), ("kind", "单位类别"), ("units", "单位数"),
    ("issues_open", "未销号问题"), ("issues_overdue", "逾期问题"),
    ("measures_open", "未完成措施"), ("measures_overdue", "逾期措施"),
    ("done_on_time", "按期完成措施"), ("done_late", "逾期完成措施"),
    ("urgings", "被催办次数"), ("urgings_awaiting_reply", "待回复催办"),
    ("measures_due_in_year", "当年到期措施数"), ("done_on_time_in_year", "当年按期完成数"),
    ("on_time_rate", "按期完成率"),
    ("case_responses", "个案响应事项数"), ("case_response_hours", "个案平均响应时长（小时）"),
    ("report_acceptance_hours", "强制报告受理平均用时（小时）"),
    ("police_dispatch_hours", "强制报告出警平均用时（小时）"),
    ("referral_service_hours", "转介首次服务平均用时（小时）"),
]


# ---- the fold ---------------------------------------------------------------------------


def fold(state: Summary | None, e: Any, *, in_place: bool = False) -> Summary | None:
    """The state after ``e`` (None when the roll-up takes no such event)."""
    kind = _KIND_OF.get(type(e))
    if kind is None:
        kind = _KIND_OF[type(e)] = _kind_of(e)
    if kind == issues.KIND:
        return issues.fold(state, e, in_place=in_place)
    if kind == cases.KIND:
        return cases.fold(state, e, in_place=in_place)
    if kind == "Registered":
        return {"kind": UNIT_KIND, "id": str(e.originator_id), "code": e.code, "name": e.name, "groups": []}
    if kind == "JoinedGroup" and state is not None:
        s = state if in_place else {**state, "groups": list(state["groups"])}
        s["groups"].append(e.group)
        return s
    return None


# Which fold takes an event, by its class: the library's isinstance checks against an
# aggregate's event class were a sixth of a catch-up's time.
_KIND_OF: dict[type, str] = {}


def _kind_of(e: Any) -> str:
    if issues.handles(e):
        return issues.KIND
    if cases.handles(e):
        return cases.KIND
    return next((cls.__name__ for cls in UNIT_EVENTS if isinstance(e, cls)), "")


def replay(events: Iterable[Any]) -> dict[str, Summary]:
    """The states after ``events`` (from nothing): what a follower's states must equal."""
    states: dict[str, Summary] = {}
    for e in events:
        key = str(e.originator_id)
        folded = fold(states.get(key), e, in_place=True)
        if folded is not None:
            states[key] = folded
    return states


# What a district's folds keep that the roll-up never reads: its free text (problems, measures,
# reports, urgings, replies, reasons, addresses) and who wrote it. Free text can name a child
# (its check looks only for ID and phone numbers), and the province's schema must hold no
# district's content: a district's erasure never reaches a copy there.
NOT_KEPT = frozenset({
    "problem", "remarks", "duty", "contact_person", "text", "summary", "completion_summary",
    "closure_summary", "message", "reason", "findings", "closure_reason", "street", "community",
    "arrangement", "user", "approved_by", "reply", "outcome", "notes", "details",
})


def stored(value: Any) -> Any:
    """A state as the province stores it: every text under a key of NOT_KEPT blanked (the key
    stays, so the folds that go on from the stored state find the shape they made)."""
    if isinstance(value, dict):
        return {k: "" if k in NOT_KEPT and isinstance(v, str) else stored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [stored(v) for v in value]
    return value


def brief(s: Summary) -> Summary:
    """What the roll-up reads of a state: the fields projections.queries.units and the
    indicators read of an issue, the times and units of a case's reports and referrals, a
    unit's code, name and groups."""
    if s["kind"] == issues.KIND:
        return {
            "kind": issues.KIND, "id": s["id"], "units": list(s["units"]), "lead_unit": s["lead_unit"],
            "deadline": s["deadline"], "closed": s["closed"],
            "measures": {k: {"unit": m["unit"], "due": m["due"], "status": m["status"],
                             "completed_at": m["completed_at"]} for k, m in s["measures"].items()},
            "urgings": [{"unit": u["unit"], "occurred_at": u["occurred_at"], "replied_at": u.get("replied_at"),
                         "reply_late": u.get("reply_late")} for u in s["urgings"]],
        }
    if s["kind"] == cases.KIND:
        return {
            "kind": cases.KIND, "id": s["id"],
            "reports": {k: {"reported_at": r["reported_at"], "accepted_at": r["accepted_at"],
                            "accepted_by": r["accepted_by"], "dispatched_at": r["dispatched_at"],
                            "dispatched_by": r["dispatched_by"]} for k, r in s["reports"].items()},
            "referrals": {k: {"unit": r["unit"], "referred_at": r["referred_at"],
                              "first_service_at": r["first_service_at"]} for k, r in s["referrals"].items()},
        }
    return {"kind": UNIT_KIND, "id": s["id"], "code": s["code"], "name": s["name"], "groups": list(s["groups"])}


# ---- the table --------------------------------------------------------------------------


def kinds_of(briefs: Iterable[Summary]) -> dict[str, str]:
    """Unit code → its kind, from a district's unit briefs."""
    return {b["code"]: (b["groups"][0] if b["groups"] else b["name"]) for b in briefs if b["kind"] == UNIT_KIND}


def _blank() -> dict[str, Any]:
    return {**dict.fromkeys(COUNTS, 0), "units": 0, "hours": defaultdict(list)}


def district_figures(briefs: Sequence[Summary], now: datetime, year: int) -> dict[str, dict[str, Any]]:
    """Kind → the district's counts for the units of that kind, and its response times."""
    today = day_of(now)
    assert today is not None
    kinds = kinds_of(briefs)

    def kind(code: str | None) -> str:
        return NO_UNIT if code is None else kinds.get(code, code)

    table: dict[str, dict[str, Any]] = defaultdict(_blank)
    for code in kinds:
        table[kind(code)]["units"] += 1
    found = queries.by_kind(briefs)
    issue_briefs = found[issues.KIND]
    # The district's own unit view, as its supervisors read it.
    for row in queries.units(issue_briefs, now)["rows"]:
        counts = table[kind(row["unit"])]
        for key, column in (("measures_open", "open"), ("measures_overdue", "overdue"),
                            ("done_on_time", "done_on_time"), ("done_late", "done_late"), ("urgings", "urgings")):
            counts[key] += row[column]
    for s in issue_briefs:
        # The supervision view's lead unit (projections.queries._supervision_row).
        lead = table[kind(s["lead_unit"] or (s["units"][0] if s["units"] else None))]
        if issues.status_of(s) != CLOSED:
            lead["issues_open"] += 1
        if ind.issue_overdue_days(s, today) > 0:
            lead["issues_overdue"] += 1
        for u in s["urgings"]:
            if reply_status(u) == AWAITING_REPLY:
                table[kind(u["unit"])]["urgings_awaiting_reply"] += 1
        for m in s["measures"].values():
            # E1 and E2 of the year-end evaluation (projections.indicators).
            due = ind.measure_due(s, m)
            if due is not None and due.year == year:
                counts = table[kind(m["unit"])]
                counts["measures_due_in_year"] += 1
                counts["done_on_time_in_year"] += int(bool(ind.measure_on_time(s, m)))
    for case in found[cases.KIND]:
        for unit, what, hours in cases.tagged_responses(case, year):
            counts = table[kind(unit)]
            counts["case_responses"] += 1
            if hours is not None:
                counts["hours"][what].append(hours)
    return table


def _mean(hours: list[float]) -> float | None:
    # As the evaluation view: summed in order of size, so the order cases come in is no matter.
    return round(sum(sorted(hours)) / len(hours), 2) if hours else None


def _row(district: str | None, name: str | None, kind: str | None, counts: dict[str, Any]) -> dict[str, Any]:
    hours = counts["hours"]
    return {
        "district": district, "district_name": name, "kind": kind, "units": counts["units"], **{k: counts[k] for k in COUNTS},
        "on_time_rate": ind.on_time_rate(counts["done_on_time_in_year"], counts["measures_due_in_year"]),
        **{key: _mean([h for what in tags for h in hours[what]]) for key, tags in HOURS_OF.items()},
    }


def _sum(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    total = _blank()
    for part in parts:
        for key in (*COUNTS, "units"):
            total[key] += part[key]
        for what, hours in part["hours"].items():
            total["hours"][what].extend(hours)
    return total


def table(districts: Mapping[str, Sequence[Summary]], now: datetime, year: int | None = None,
          names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The roll-up as of ``now``: for each district (in code order, named by ``names``) a
    row per kind of unit (in label order), then the district's total (``kind`` None); last
    the province's total (``district`` and ``kind`` None). Response times and the on-time rate are of ``year``
    (default: the year of ``now``, in Shanghai)."""
    today = day_of(now)
    assert today is not None
    year = year or today.year
    rows: list[dict[str, Any]] = []
    totals = []
    for code in sorted(districts):
        figures = district_figures(districts[code], now, year)
        name = (names or {}).get(code, code)
        rows.extend(_row(code, name, kind, figures[kind]) for kind in sorted(figures))
        totals.append(_sum(figures.values()))
        rows.append(_row(code, name, None, totals[-1]))
    rows.append(_row(None, None, None, _sum(totals)))
    return {"as_of": now.isoformat(), "today": today.isoformat(), "year": year,
            "columns": queries.columns(COLUMNS), "rows": rows}
