"""What the dashboard's templates show, shaped from the views and the ledger's history.

Pure functions over the views' answers: no I/O, so the pages' rules (which row is overdue,
where a bar ends) are tested without a server. What a reader may see is decided before:
the views answer only the rows application.read_policy lets the reader read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from domain.issue import RectificationIssue
from interfaces.web.event_kinds import event_label
from projections.queries import STATUS_LABELS

BEIJING = timezone(timedelta(hours=8))

# Which of an event's own fields say what happened, in the order a reader wants them.
EVENT_TEXT = ("summary", "text", "message", "reason", "findings", "problem")

Names = Callable[[str], str]


def beijing(moment: datetime | str | None) -> str:
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


# ---- charts: server-rendered SVG, no script --------------------------------------------


@dataclass
class Bar:
    label: str
    segments: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""
    flagged: bool = False


def stacked(bars: list[Bar], *, width: int = 560) -> dict[str, Any]:
    """Places each bar's segments end to end on one scale; the longest bar fills ``width``."""
    longest = max((sum(s["value"] for s in b.segments) for b in bars), default=0) or 1
    for bar in bars:
        x = 0.0
        for segment in bar.segments:
            segment["x"] = round(x, 1)
            segment["width"] = round(segment["value"] / longest * width, 1)
            x += segment["width"]
        bar.note = bar.note or str(sum(s["value"] for s in bar.segments))
    return {"bars": bars, "width": width, "height": 28 * len(bars) + 8}


# ---- overview -------------------------------------------------------------------------

UNIT_COUNTS = ("open", "overdue", "done_on_time", "done_late", "urgings")


def overview(units: dict[str, Any], supervision: dict[str, Any], names: Names) -> dict[str, Any]:
    shown = [
        {**r, "name": names(r["unit"]), "is_overdue": r["overdue"] > 0} for r in units["rows"]
    ]
    shown.sort(key=lambda r: (-r["overdue"], -r["open"], r["name"]))
    bars = [
        Bar(r["name"], [
            {"value": r["overdue"], "kind": "overdue", "label": "逾期"},
            {"value": max(0, r["open"] - r["overdue"]), "kind": "open", "label": "未完成（未逾期）"},
            {"value": r["done_on_time"], "kind": "on-time", "label": "按期完成"},
            {"value": r["done_late"], "kind": "late", "label": "逾期完成"},
        ], flagged=r["is_overdue"])
        for r in shown
    ]
    issues = supervision["rows"]
    return {
        "rows": shown,
        "totals": {k: sum(r[k] for r in shown) for k in UNIT_COUNTS},
        "chart": stacked(bars),
        "overdue_issues": sum(1 for i in issues if i["days_overdue"] > 0),
        "issues": len(issues),
        "today": units["today"],
    }


# ---- issue list -----------------------------------------------------------------------


def units_of(row: dict[str, Any]) -> list[str]:
    co = row.get("co_units") or ""
    return [u for u in [row.get("lead_unit"), *co.split("、")] if u]


@dataclass(frozen=True)
class IssueFilter:
    plan: str | None = None
    unit: str | None = None
    status: str | None = None
    overdue: bool = False

    def keeps(self, row: dict[str, Any]) -> bool:
        return (
            (not self.plan or row["plan"] == self.plan)
            and (not self.unit or self.unit in units_of(row))
            and (not self.status or row["status"] == self.status)
            and (not self.overdue or row["days_overdue"] > 0)
        )


ISSUES_PER_PAGE = 100


def issue_list(
    supervision: dict[str, Any], where: IssueFilter, names: Names, page: int = 1
) -> dict[str, Any]:
    """The issues of the view that pass the filter, a page of ISSUES_PER_PAGE at a time (a
    district's thousands of issues do not belong on one page)."""
    mine = supervision["rows"]
    # At 10⁶ events a district has 19,000 issues: no per-row work the page does not need.
    matched = [r for r in mine if where.keeps(r)] if where != IssueFilter() else mine
    pages = max(1, -(-len(matched) // ISSUES_PER_PAGE))
    page = min(max(1, page), pages)
    shown = matched[(page - 1) * ISSUES_PER_PAGE:page * ISSUES_PER_PAGE]
    rows = [
        {**r, "lead_name": names(r["lead_unit"]) if r["lead_unit"] else "",
         "co_names": "、".join(names(u) for u in units_of(r)[1:]),
         "is_overdue": r["days_overdue"] > 0}
        for r in shown
    ]
    # Rows share a few lead units and co-unit lists: each distinct one is split once.
    units = sorted({r["lead_unit"] for r in mine if r["lead_unit"]}
                   | {u for co in {r["co_units"] for r in mine} if co for u in co.split("、") if u})
    query = {k: v for k, v in (("plan", where.plan), ("unit", where.unit), ("status", where.status),
                               ("overdue", "true" if where.overdue else None)) if v}
    link = lambda n: "/issues?" + urlencode({**query, "page": n})  # noqa: E731
    return {
        "rows": rows,
        "matched": len(matched),
        "first": (page - 1) * ISSUES_PER_PAGE + 1 if rows else 0,
        "last": (page - 1) * ISSUES_PER_PAGE + len(rows),
        "page": page,
        "pages": pages,
        "previous": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page < pages else None,
        "where": where,
        "plans": sorted({r["plan"] for r in mine if r["plan"]}),
        "units": [(u, names(u)) for u in units],
        "statuses": [label for label in STATUS_LABELS.values()],
        "total": len(mine),
        "today": supervision["today"],
    }


# ---- one issue: its state and timeline ------------------------------------------------


def _event_text(entry: dict[str, Any]) -> str:
    fields = entry["fields"]
    parts = [str(fields[k]) for k in EVENT_TEXT if fields.get(k)]
    if entry["type"] == "Assigned":
        parts.append(f"整改期限 {fields.get('deadline')}")
    elif entry["type"] == "DeadlineExtended":
        parts.insert(0, f"延期至 {fields.get('deadline')}")
    elif entry["type"] == "EvaluatedAtYearEnd":
        parts.insert(0, f"{fields.get('year')} 年度：{fields.get('grade')}（{fields.get('score')} 分）")
    elif entry["type"] == "Urged":
        parts.append(f"须于 {fields.get('reply_by')} 前回复")
    elif entry["type"] == "EntryCorrected":
        changes = fields.get("changes") or {}
        parts.insert(0, "；".join(f"{k} 改为 {v}" for k, v in changes.items()))
    return "；".join(p for p in parts if p)


def timeline(entries: list[dict[str, Any]], late_entry_days: int, names: Names,
             aggregate_type: str = "RectificationIssue") -> list[dict[str, Any]]:
    """Each entry with who wrote it and when, both clocks; a correction links to the entry it
    corrects and that entry back to it, since neither is ever edited."""
    corrected_by: dict[int, list[int]] = defaultdict(list)
    for e in entries:
        if e["type"] == "EntryCorrected":
            corrected_by[e["fields"]["corrected_version"]].append(e["version"])
    late_after = timedelta(days=late_entry_days)
    shaped = []
    for e in entries:
        lateness = e["recorded_at"] - e["occurred_at"]
        shaped.append({
            "version": e["version"],
            "position": e["position"],
            "type": e["type"],
            "label": event_label(aggregate_type, e["type"]),
            "recorder": e["recorder"],
            "unit": names(e["unit"]),
            "recorded_at": beijing(e["recorded_at"]),
            "occurred_at": beijing(e["occurred_at"]),
            "late": lateness > late_after,
            "late_days": lateness.days,
            "text": _event_text(e),
            "measure": e["fields"].get("measure_id"),
            "corrects": e["fields"].get("corrected_version") if e["type"] == "EntryCorrected" else None,
            "corrected_by": corrected_by.get(e["version"], []),
        })
    return shaped


def issue_state(issue: RectificationIssue, names: Names) -> dict[str, Any]:
    return {
        "seq": issue.seq,
        "duty": issue.duty,
        "problem": issue.problem,
        "status": STATUS_LABELS.get(issue.status, issue.status),
        "lead": names(issue.lead_unit) if issue.lead_unit else "（未交办）",
        "co": "、".join(names(u) for u in issue.co_units),
        "deadline": issue.deadline,
        "measures": [
            {**m, "unit_name": names(m.get("unit") or ""), "done": m.get("status") == "completed"}
            for m in issue.measures.values()
        ],
        "urgings": len(issue.urgings),
    }


def day_of(as_of: datetime | None) -> str:
    return as_of.astimezone(BEIJING).date().isoformat() if as_of else ""


# ---- year-end evaluation --------------------------------------------------------------


def evaluation(view: dict[str, Any], names: Names) -> dict[str, Any]:
    rows = [
        {**r, "name": names(r["unit"]),
         "rate": None if r["on_time_rate"] is None else round(r["on_time_rate"] * 100)}
        for r in view["rows"]
    ]
    bars = [
        Bar(r["name"], [{"value": r["rate"] or 0, "kind": "flagged" if r["flagged"] else "rate",
                         "label": "按期完成率"}],
            note="—" if r["rate"] is None else f"{r['rate']}%", flagged=r["flagged"])
        for r in rows
    ]
    chart = stacked(bars + [Bar("", [{"value": 100, "kind": "scale", "label": ""}])])
    chart["bars"] = chart["bars"][:-1]  # the invisible 100% bar only fixed the scale
    chart["height"] = 28 * len(rows) + 8
    return {"rows": rows, "chart": chart, "flagged": sum(1 for r in rows if r["flagged"]),
            "late_entry_days": view["late_entry_days"], "today": view["today"]}


def year_choices(evaluated: list[int], today: date) -> list[int]:
    first = min(evaluated, default=today.year)
    return list(range(today.year, first - 1, -1))


# ---- child information ledger: counts only ---------------------------------------------


# The last ledger's shaped statistics, by the identity of the sections they were made from:
# the views keep an answer until a case changes (infrastructure.view_runner), and summing
# its tens of thousands of referral rows again for every request would be most of the page.
_LEDGER_SHAPED: list[tuple[Any, Names, dict[str, Any]]] = []


def child_ledger(view: dict[str, Any], names: Names) -> dict[str, Any]:
    """Statistics of the information ledger. Case numbers are pseudonymous, but a page of
    them is still a list of children: this page shows only counts and durations."""
    sections = view["sections"]
    if _LEDGER_SHAPED and _LEDGER_SHAPED[0][0] is sections and _LEDGER_SHAPED[0][1] is names:
        return {**_LEDGER_SHAPED[0][2], "today": view["today"]}
    shaped = _child_ledger(view, names)
    _LEDGER_SHAPED[:] = [(sections, names, shaped)]
    return shaped


def _child_ledger(view: dict[str, Any], names: Names) -> dict[str, Any]:
    sections = view["sections"]
    by_unit: dict[str, dict[str, Any]] = {}
    for r in sections["转介与响应"]["rows"]:
        u = by_unit.setdefault(r["unit"], {"name": names(r["unit"]), "referred": 0, "acted": 0,
                                           "hours": [], "waiting": 0, "longest_wait": 0})
        u["referred"] += 1
        if r.get("hours_to_first_service") is not None:
            u["acted"] += 1
            u["hours"].append(r["hours_to_first_service"])
        elif r.get("days_waiting") is not None:
            u["waiting"] += 1
            u["longest_wait"] = max(u["longest_wait"], r["days_waiting"])
    referrals = [
        {**u, "mean_hours": round(sum(u["hours"]) / len(u["hours"]), 1) if u["hours"] else None}
        for u in sorted(by_unit.values(), key=lambda u: u["name"])
    ]
    streets: dict[str, int] = defaultdict(int)
    for r in sections["台账完整性"]["rows"]:
        streets[r["street"]] += 1
    by_category: dict[str, int] = defaultdict(int)
    for r in view["rows"]:
        by_category[r["category"]] += r["open"]
    bars = [Bar(c, [{"value": n, "kind": "open", "label": "在册"}]) for c, n in sorted(by_category.items())]
    return {
        "rows": view["rows"],
        "referrals": referrals,
        "services": [{**r, "unit_name": names(r["unit"])} for r in sections["关爱服务"]["rows"]],
        "incomplete": sorted(streets.items()),
        "chart": stacked(bars),
        "revisit_days": view["revisit_days"],
        "today": view["today"],
    }
