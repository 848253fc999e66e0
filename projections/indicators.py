"""Every indicator of the views, defined once (docs/EVALUATION.md says the same in words).

Each function takes summaries (see projections.issues) and the moment or year asked,
never the store or the clock. Dates are calendar days in Asia/Shanghai.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from domain.issue import MEASURE_COMPLETED

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
GRADE_RANK = {"不合格": 0, "合格": 1, "良好": 2, "优秀": 3}


@dataclass(frozen=True)
class Thresholds:
    due_soon_days: int = 14
    late_entry_days: int = 7
    # An open case not visited, or not reassessed, for this many days is flagged (L1).
    revisit_days: int = 90


def day_of(moment: str | datetime | None) -> date | None:
    """The Shanghai calendar day of a moment (ISO text or aware datetime)."""
    if moment is None:
        return None
    if isinstance(moment, str):
        return _day_of_text(moment)
    return moment.astimezone(SHANGHAI).date()


# A view asks the day of the same recorded times many times over (a unit's urgings for each
# of an issue's units, say): parsing them was a third of a year-end evaluation's time.
@lru_cache(maxsize=1 << 16)
def _day_of_text(moment: str) -> date:
    return datetime.fromisoformat(moment).astimezone(SHANGHAI).date()


def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


# ---- measures ------------------------------------------------------------------------


def measure_due(issue: dict[str, Any], measure: dict[str, Any]) -> date | None:
    """D1 A measure's due date: its own ``due``, else the issue's (possibly extended) deadline."""
    return _date(measure["due"]) or _date(issue["deadline"])


def measure_done_on(measure: dict[str, Any]) -> date | None:
    """D2 The day a measure was completed: the completion's claimed time, in Shanghai."""
    return day_of(measure["completed_at"]) if measure["status"] == MEASURE_COMPLETED else None


def measure_on_time(issue: dict[str, Any], measure: dict[str, Any]) -> bool | None:
    """D3 Done on time: completed on or before its due date (no due date: on time)."""
    done = measure_done_on(measure)
    if done is None:
        return None
    due = measure_due(issue, measure)
    return due is None or done <= due


def measure_overdue_days(issue: dict[str, Any], measure: dict[str, Any], today: date) -> int:
    """D4 Days overdue: an open measure (of an issue not closed) past its due date, else 0."""
    due = measure_due(issue, measure)
    if due is None or issue["closed"] or measure_done_on(measure) is not None:
        return 0
    return max(0, (today - due).days)


# ---- issues --------------------------------------------------------------------------


def issue_done(issue: dict[str, Any]) -> bool:
    """D5 An issue's work is done when it is closed, or every one of its measures is completed."""
    measures = issue["measures"].values()
    return issue["closed"] or (bool(measures) and all(m["status"] == MEASURE_COMPLETED for m in measures))


def issue_overdue_days(issue: dict[str, Any], today: date) -> int:
    """D6 Days overdue of an issue: past its deadline with the work not done, or the largest
    overdue of its open measures, whichever is more."""
    own = 0
    deadline = _date(issue["deadline"])
    if deadline is not None and not issue_done(issue):
        own = max(0, (today - deadline).days)
    return max([own, *(measure_overdue_days(issue, m, today) for m in issue["measures"].values())])



def overdue_units(issue: dict[str, Any], today: date) -> list[str]:
    """D11 Who is late on an issue (whom 催办 presses): each unit owning an open measure past
    its due date; when none does but the issue is past its deadline with the work not done,
    its lead unit (else its first responsible unit). In the order of the measures."""
    late = [m["unit"] for m in issue["measures"].values() if measure_overdue_days(issue, m, today) > 0]
    if not late and issue_overdue_days(issue, today) > 0:
        late = [issue["lead_unit"] or issue["units"][0]]
    return list(dict.fromkeys(late))

def last_progress(issue: dict[str, Any]) -> dict[str, Any] | None:
    """The latest progress report or completion of any measure, by claimed time."""
    reports = [
        {"measure_id": m["measure_id"], "occurred_at": p["occurred_at"], "summary": p["summary"]}
        for m in issue["measures"].values() for p in m["progress"]
    ] + [
        {"measure_id": m["measure_id"], "occurred_at": m["completed_at"], "summary": m["completion_summary"]}
        for m in issue["measures"].values() if m["completed_at"]
    ]
    return max(reports, key=lambda r: r["occurred_at"], default=None)


def node_missed(issue: dict[str, Any], today: date) -> str | None:
    """D7 A schedule node is missed when the latest node before today has passed with no
    progress report or completion dated after the node before it (any, for the first node).
    Answers the missed node."""
    if issue_done(issue):
        return None
    passed = [n for n in issue["nodes"] if date.fromisoformat(n) < today]
    if not passed:
        return None
    since = date.fromisoformat(passed[-2]) if len(passed) > 1 else None
    latest = last_progress(issue)
    reported = day_of(latest["occurred_at"]) if latest else None
    if reported is not None and (since is None or reported > since):
        return None
    return passed[-1]


def light(issue: dict[str, Any], today: date, thresholds: Thresholds) -> str:
    """D8 The traffic light: 红 overdue; 黄 due within ``due_soon_days`` (an issue deadline or
    an open measure's due date) or a schedule node missed; 绿 otherwise, and for done work."""
    if issue_done(issue):
        return "绿"
    if issue_overdue_days(issue, today) > 0:
        return "红"
    if node_missed(issue, today) or due_soon(issue, today, thresholds):
        return "黄"
    return "绿"


def due_soon(issue: dict[str, Any], today: date, thresholds: Thresholds) -> list[dict[str, Any]]:
    """D9 What falls due soon (临近提醒): the issue deadline and each open measure's due date
    that lies from today up to ``due_soon_days`` days ahead."""
    if issue_done(issue):
        return []
    horizon = today + timedelta(days=thresholds.due_soon_days)
    found: list[dict[str, Any]] = []
    deadline = _date(issue["deadline"])
    if deadline is not None and today <= deadline <= horizon:
        found.append({"measure_id": None, "unit": issue["lead_unit"], "due": deadline.isoformat(),
                      "days_left": (deadline - today).days})
    for m in issue["measures"].values():
        due = _date(m["due"])
        if m["status"] != MEASURE_COMPLETED and due is not None and today <= due <= horizon:
            found.append({"measure_id": m["measure_id"], "unit": m["unit"], "due": due.isoformat(),
                          "days_left": (due - today).days})
    return found


# ---- year-end indicators per unit ----------------------------------------------------


def measures_due_in_year(issue: dict[str, Any], unit: str, year: int) -> list[dict[str, Any]]:
    """E1 The unit's measures whose due date falls in ``year``."""
    return [m for m in issue["measures"].values()
            if m["unit"] == unit and (d := measure_due(issue, m)) is not None and d.year == year]


def overdue_at_year_end(issue: dict[str, Any], measure: dict[str, Any], year: int) -> bool:
    """E3 A measure overdue at year end: due on or before 31 December of ``year`` and not
    completed by then."""
    due = measure_due(issue, measure)
    if due is None or due > date(year, 12, 31):
        return False
    done = measure_done_on(measure)
    return done is None or done > date(year, 12, 31)


def urgings_received(issue: dict[str, Any], unit: str, year: int) -> int:
    """E4 Urgings addressed to the unit, dated in ``year``."""
    return sum(1 for u in issue["urgings"] if u["unit"] == unit and day_of(u["occurred_at"]).year == year)  # type: ignore[union-attr]


def lateness_days(recorded_at: str, occurred_at: str) -> int:
    """How late an entry was recorded, in whole days rounded up (0 when not after the time
    it claims): ``gap > N days`` exactly when this is greater than N, for any whole N >= 0,
    so counts by this number answer E5 for every threshold."""
    gap = datetime.fromisoformat(recorded_at) - datetime.fromisoformat(occurred_at)
    if gap <= timedelta(0):
        return 0
    return gap.days + (1 if gap.seconds or gap.microseconds else 0)


def late_entries(issue: dict[str, Any], unit: str, year: int, thresholds: Thresholds) -> int:
    """E5 Late entries the unit recorded in ``year`` (by recorded day), from the issue's
    ``lateness`` counts (projections.issues: unit -> recorded year -> days late -> count)."""
    counts = issue["lateness"].get(unit, {}).get(str(year), {})
    return sum(n for days, n in counts.items() if int(days) > thresholds.late_entry_days)


def grade_ceiling(issue: dict[str, Any], year: int) -> tuple[str, str]:
    """E7 The best grade the record supports for an issue in ``year``, with the reason:
    合格 when any of its measures was overdue at year end; 良好 when it was urged that
    year or a measure due that year was completed late; 优秀 otherwise."""
    measures = issue["measures"].values()
    if any(overdue_at_year_end(issue, m, year) for m in measures):
        return "合格", "年底有逾期未完成的整改措施"
    urged = any(day_of(u["occurred_at"]).year == year for u in issue["urgings"])  # type: ignore[union-attr]
    late = any(measure_on_time(issue, m) is False and (measure_due(issue, m) or date.min).year == year
               for m in measures)
    if urged:
        return "良好", "当年被催办"
    if late:
        return "良好", "有整改措施逾期完成"
    return "优秀", ""


def grade_flag(grade: str, ceiling: tuple[str, str]) -> str | None:
    """E8 A recorded grade above the ceiling does not match the record: the reason, else None."""
    best, reason = ceiling
    if GRADE_RANK[grade] > GRADE_RANK[best]:
        return f"评为{grade}，但{reason}（依据记录最高为{best}）"
    return None


def graded_unit(issue: dict[str, Any]) -> str:
    """E9 The unit a grade of an issue belongs to: its lead unit, else its first responsible unit."""
    return str(issue["lead_unit"] or issue["units"][0])


def on_time_rate(on_time: int, due: int) -> float | None:
    """E2 On-time rate: measures due in the year and completed on time, over measures due in
    the year (completed or not); none due gives no rate. Rounded to four places."""
    return None if due == 0 else round(on_time / due, 4)


def response_hours(started: str | None, acted: str | None) -> float | None:
    """E6 A response time: hours from a case's report or referral to the unit's first action."""
    if started is None or acted is None:
        return None
    gap = datetime.fromisoformat(acted) - datetime.fromisoformat(started)
    return round(gap.total_seconds() / 3600, 2)
