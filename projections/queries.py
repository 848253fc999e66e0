"""The views, computed from the summaries and the moment asked. Pure: no store, no clock.

Each view answers a dict with ``columns`` (key and Chinese header, in order, shared with
the spreadsheets) and ``rows``; row values are JSON scalars.

Each view is a sum over summaries of what each one contributes; given a ``Kept``, the
contribution of a summary is computed once and reused while the same summary object is
asked with the same inputs (day, year, thresholds, plan label). A process holding the
briefs in memory replaces a brief's object when it changes, so after one write a view
recomputes one contribution, not thousands.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from itertools import chain, groupby
from operator import itemgetter
from typing import Any, TypeVar

from domain.issue import MEASURE_COMPLETED
from domain.urging import AWAITING_REPLY, REPLIED_LATE, REPLIED_ON_TIME, reply_status
from projections import cases, indicators as ind
from projections.indicators import Thresholds, day_of
from projections.issues import status_of
from projections.kept import Kept, Rows, Summary, chunked_parts, contribution, whole

T = TypeVar("T")

STATUS_LABELS = {
    "registered": "已登记", "assigned": "已交办", "rectifying": "整改中",
    "awaiting_closure": "待销号", "closed": "已销号",
}

SUPERVISION_COLUMNS = [
    ("plan", "实施方案"), ("seq", "序号"), ("problem", "存在问题"), ("lead_unit", "牵头单位"),
    ("co_units", "配合单位"), ("measures_adopted", "整改措施数"), ("measures_done", "已完成措施数"),
    ("last_progress_at", "最近进展时间"), ("last_progress", "最近进展"), ("deadline", "整改期限"),
    ("days_overdue", "逾期天数"), ("urgings", "催办次数"), ("urgings_awaiting_reply", "待回复催办"),
    ("urgings_replied_on_time", "按期回复催办"), ("urgings_replied_late", "逾期回复催办"),
    ("status", "状态"), ("light", "红黄绿灯"),
    ("node_missed", "未按期报送的节点"), ("id", "问题编号"),
]
DUE_SOON_COLUMNS = [
    ("plan", "实施方案"), ("seq", "序号"), ("measure_id", "整改措施"), ("unit", "责任单位"),
    ("due", "到期日"), ("days_left", "剩余天数"), ("id", "问题编号"),
]
UNIT_COLUMNS = [
    ("unit", "单位"), ("open", "未完成"), ("overdue", "逾期"), ("done_on_time", "按期完成"),
    ("done_late", "逾期完成"), ("urgings", "被催办次数"),
]
EVALUATION_COLUMNS = [
    ("unit", "单位"), ("measures_due", "当年到期措施数"), ("done_on_time", "按期完成数"),
    ("on_time_rate", "按期完成率"), ("overdue_at_year_end", "年底逾期项数"),
    ("urgings", "被催办次数"), ("late_entries", "补录（迟报）条数"),
    ("case_responses", "个案响应事项数"), ("case_response_hours", "个案平均响应时长（小时）"),
    ("grades", "考核等次"), ("flagged", "等次存疑"), ("flags", "存疑说明"),
]


def columns(spec: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"key": key, "label": label} for key, label in spec]


def of_kind(summaries: Iterable[Summary], kind: str) -> list[Summary]:
    return [s for s in summaries if s["kind"] == kind]


def by_kind(summaries: Iterable[Summary]) -> dict[str, list[Summary]]:
    """The summaries split by kind, in one pass (a view at 10⁶ events reads 40,000)."""
    grouped = getattr(summaries, "by_kind", None)
    if grouped is not None:  # the brief cache's lists come already split (infrastructure.brief_cache)
        return defaultdict(list, grouped)
    found: dict[str, list[Summary]] = defaultdict(list)
    # Grouped in C: the briefs come kind by kind, so this is a few runs, not 40,000 appends.
    for kind, run in groupby(summaries, key=itemgetter("kind")):
        found[kind].extend(run)
    return found


def _plans(kinds: dict[str, list[Summary]]) -> dict[str, str]:
    return {p["id"]: p["number"] for p in kinds["plan"]}


def _issue_order(plans: dict[str, str]) -> Any:
    """Issues in the order of the plans' numbers and their own sequence numbers (the id
    only tells apart what nothing else does, and lets a kept order check it)."""
    return lambda s: (plans.get(s["plan_id"], s["plan_id"]), s["seq"], s["id"])


def _flat(parts: list[list[T]]) -> list[T]:
    return list(chain.from_iterable(parts))


def _moment(now: datetime) -> dict[str, Any]:
    return {"as_of": now.isoformat(), "today": day_of(now).isoformat()}  # type: ignore[union-attr]


# ---- 督查督办台账 --------------------------------------------------------------------


def supervision(summaries: list[Summary], now: datetime, thresholds: Thresholds,
                kept: Kept | None = None) -> dict[str, Any]:
    today = day_of(now)
    assert today is not None
    kinds = by_kind(summaries)
    plans = _plans(kinds)

    def chunk_rows(chunk: list[Summary]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rows, soon = [], []
        for s in chunk:
            plan = plans.get(s["plan_id"], s["plan_id"])
            row, items = contribution(kept, "supervision", s, (today, thresholds, plan),
                                      lambda: _supervision_row(s, plan, today, thresholds))
            rows.append(row)
            soon.extend(items)
        return rows, soon

    parts = chunked_parts(kept, "supervision", kinds["issue"], (today, thresholds, plans), chunk_rows,
                          _issue_order(plans))
    rows = Rows([part[0] for part in parts])
    soon = sorted(_flat([part[1] for part in parts]),
                  key=lambda r: (r["due"], r["plan"], r["seq"], r["measure_id"] or ""))
    return {
        **_moment(now),
        "columns": columns(SUPERVISION_COLUMNS), "rows": rows,
        "due_soon": {"columns": columns(DUE_SOON_COLUMNS), "rows": soon},
        "due_soon_days": thresholds.due_soon_days,
    }


def _supervision_row(
    s: Summary, plan: str, today: date, thresholds: Thresholds
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    latest = ind.last_progress(s)
    measures = s["measures"].values()
    row = {
        "plan": plan, "seq": s["seq"], "problem": s["problem"],
        "lead_unit": s["lead_unit"] or (s["units"][0] if s["units"] else None),
        "co_units": "、".join(s["co_units"] if s["lead_unit"] else s["units"][1:]) or None,
        "measures_adopted": len(measures),
        "measures_done": sum(1 for m in measures if m["status"] == MEASURE_COMPLETED),
        "last_progress_at": latest["occurred_at"] if latest else None,
        "last_progress": latest["summary"] if latest else None,
        "deadline": s["deadline"],
        "days_overdue": ind.issue_overdue_days(s, today),
        "urgings": len(s["urgings"]),
        **{f"urgings_{status}": sum(1 for u in s["urgings"] if reply_status(u) == status)
           for status in (AWAITING_REPLY, REPLIED_ON_TIME, REPLIED_LATE)},
        "status": STATUS_LABELS[status_of(s)],
        "light": ind.light(s, today, thresholds),
        "node_missed": ind.node_missed(s, today),
        "id": s["id"],
    }
    soon = [{"plan": plan, "seq": s["seq"], **item, "id": s["id"]} for item in ind.due_soon(s, today, thresholds)]
    return row, soon


UNIT_COUNTS = ("open", "overdue", "done_on_time", "done_late", "urgings")


def units(summaries: list[Summary], now: datetime, kept: Kept | None = None) -> dict[str, Any]:
    """Per unit, over the measures it owns: open, overdue, done on time, done late; and the
    urgings it received (all time)."""
    today = day_of(now)
    assert today is not None

    def chunk_counts(chunk: list[Summary]) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(UNIT_COUNTS, 0))
        for s in chunk:
            for unit, counts in contribution(kept, "units", s, today, lambda: _unit_counts(s, today)):
                _add(table[unit], counts)
        return table

    table: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(UNIT_COUNTS, 0))
    for part in chunked_parts(kept, "units", by_kind(summaries)["issue"], today, chunk_counts):
        for unit, counts in part.items():
            _add(table[unit], counts)
    rows = [{"unit": unit, **row} for unit, row in sorted(table.items())]
    return {**_moment(now), "columns": columns(UNIT_COLUMNS), "rows": rows}


def _add(row: dict[str, int], counts: dict[str, int]) -> None:
    for key, value in counts.items():
        row[key] += value


def _unit_counts(s: Summary, today: date) -> list[tuple[str, dict[str, int]]]:
    table: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(UNIT_COUNTS, 0))
    for m in s["measures"].values():
        row = table[m["unit"]]
        on_time = ind.measure_on_time(s, m)
        if on_time is None:
            row["open"] += 1
            row["overdue"] += int(ind.measure_overdue_days(s, m, today) > 0)
        elif on_time:
            row["done_on_time"] += 1
        else:
            row["done_late"] += 1
    for u in s["urgings"]:
        table[u["unit"]]["urgings"] += 1
    return list(table.items())


# ---- 年终考核 ------------------------------------------------------------------------


EVALUATION_COUNTS = ("measures_due", "done_on_time", "overdue_at_year_end", "urgings", "late_entries")


def evaluation(
    summaries: list[Summary], year: int, thresholds: Thresholds, now: datetime | None = None,
    kept: Kept | None = None,
) -> dict[str, Any]:
    blank = lambda: {  # noqa: E731
        **dict.fromkeys(EVALUATION_COUNTS, 0), "case_responses": 0, "response": [], "grades": [], "flags": [],
    }
    kinds = by_kind(summaries)
    plans = _plans(kinds)

    def chunk_counts(chunk: list[Summary]) -> dict[str, dict[str, Any]]:
        table: dict[str, dict[str, Any]] = defaultdict(blank)
        for s in chunk:
            plan = plans.get(s["plan_id"], "")
            counts, graded = contribution(kept, "evaluation", s, (year, thresholds, plan),
                                          lambda: _evaluation_counts(s, year, thresholds, f"{plan}第{s['seq']}项"))
            for unit, row_counts in counts:
                _add(table[unit], row_counts)
            if graded is not None:
                unit, grade, flag = graded
                row = table[unit]
                row["grades"].append(grade)
                if flag:
                    row["flags"].append(flag)
        return table

    table: dict[str, dict[str, Any]] = defaultdict(blank)
    # Chunks in issue order, so each unit's grades are listed in that order.
    for part in chunked_parts(kept, f"evaluation {year}", kinds["issue"], (year, thresholds, plans), chunk_counts,
                              _issue_order(plans)):
        for unit, found in part.items():
            row = table[unit]
            _add(row, {k: found[k] for k in EVALUATION_COUNTS})
            row["grades"].extend(found["grades"])
            row["flags"].extend(found["flags"])
    cases = kinds["case"]
    for unit, (count, hours) in whole(kept, "responses", cases, year, lambda: _responses(cases, year, kept)).items():
        row = table[unit]
        row["case_responses"] += count
        row["response"].extend(hours)
    rows = []
    for unit, row in sorted(table.items()):
        if not any(row[k] for k in ("measures_due", "overdue_at_year_end", "urgings", "late_entries",
                                    "case_responses", "grades")):
            continue
        response = row["response"]
        rows.append({
            "unit": unit, "measures_due": row["measures_due"], "done_on_time": row["done_on_time"],
            "on_time_rate": ind.on_time_rate(row["done_on_time"], row["measures_due"]),
            "overdue_at_year_end": row["overdue_at_year_end"], "urgings": row["urgings"],
            "late_entries": row["late_entries"], "case_responses": row["case_responses"],
            # Summed in order of size, so the answer does not hang on the order cases come in.
            "case_response_hours": round(sum(sorted(response)) / len(response), 2) if response else None,
            "grades": "；".join(row["grades"]) or None, "flagged": bool(row["flags"]),
            "flags": "；".join(row["flags"]) or None,
        })
    answer = {"year": year, "columns": columns(EVALUATION_COLUMNS), "rows": rows,
              "late_entry_days": thresholds.late_entry_days}
    if now is not None:
        answer.update(_moment(now))
    return answer


def evaluated_years(summaries: list[Summary], kept: Kept | None = None) -> list[int]:
    """The years any of the issues was graded in (the choices of the evaluation page)."""
    parts = chunked_parts(kept, "evaluated years", by_kind(summaries)["issue"], None,
                          lambda chunk: {int(y) for s in chunk for y in s["evaluations"]})
    return sorted(set().union(*parts))


def _evaluation_counts(
    s: Summary, year: int, thresholds: Thresholds, label: str
) -> tuple[list[tuple[str, dict[str, int]]], tuple[str, str, str | None] | None]:
    """An issue's part of the year-end evaluation: counts per unit, and its grade (the
    unit it counts for, the text shown, the flag when the record does not support it)."""
    units = set(s["units"]) | {m["unit"] for m in s["measures"].values()}
    units |= {u["unit"] for u in s["urgings"]} | set(s["lateness"])
    counts = []
    for unit in sorted(units):
        due = ind.measures_due_in_year(s, unit, year)
        found = {
            "measures_due": len(due),
            "done_on_time": sum(1 for m in due if ind.measure_on_time(s, m)),
            "overdue_at_year_end": sum(
                1 for m in s["measures"].values() if m["unit"] == unit and ind.overdue_at_year_end(s, m, year)),
            "urgings": ind.urgings_received(s, unit, year),
            "late_entries": ind.late_entries(s, unit, year, thresholds),
        }
        if any(found.values()):  # most issues have nothing in a given year: nothing to add
            counts.append((unit, found))
    graded = s["evaluations"].get(str(year))
    if not graded:
        return counts, None
    flag = ind.grade_flag(graded["grade"], ind.grade_ceiling(s, year))
    return counts, (ind.graded_unit(s), f"{label}：{graded['grade']}", f"{label}{flag}" if flag else None)


def _responses(cases: list[Summary], year: int, kept: Kept | None) -> dict[str, tuple[int, list[float]]]:
    """Per unit, over every case: the responses asked of it in ``year`` and their hours."""

    def chunk_responses(chunk: list[Summary]) -> list[tuple[str, float | None]]:
        found: list[tuple[str, float | None]] = []
        for case in chunk:
            found.extend(contribution(kept, "responses", case, year, lambda: case_responses(case, year)))
        return found

    counts: dict[str, int] = defaultdict(int)
    hours_of: dict[str, list[float]] = defaultdict(list)
    for part in chunked_parts(kept, f"responses {year}", cases, year, chunk_responses):
        for unit, hours in part:
            counts[unit] += 1
            if hours is not None:
                hours_of[unit].append(hours)
    return {unit: (count, hours_of[unit]) for unit, count in counts.items()}


def case_responses(case: Summary, year: int) -> list[tuple[str, float | None]]:
    """(unit, hours) for each response the case asked of a unit in ``year``: indicators E6."""
    return cases.responses(case, year)


# ---- 信息台账 ------------------------------------------------------------------------


def child_ledger(summaries: list[Summary], now: datetime, thresholds: Thresholds,
                 kept: Kept | None = None) -> dict[str, Any]:
    return {**_moment(now), **cases.ledger_view(by_kind(summaries)["case"], now, thresholds, kept)}
