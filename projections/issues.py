"""The fold of a rectification issue's events into a JSON-able summary.

``fold(summary | None, event) -> summary`` is pure: it never reads the store or the clock.
With ``in_place=True`` it changes and answers the summary it was given instead of a copy:
the views' batches own the summaries they load, and copying a summary (entries included)
for every event was most of a rebuild's time.
The summary mirrors what the aggregate knows (tests compare the two) plus what only the
events know: when each entry was recorded and the time its recorder claimed for it.
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any

from domain.extension_request import APPROVED, PENDING, REFUSED
from domain.issue import MEASURE_COMPLETED, MEASURE_OPEN, RectificationIssue
from domain.issue_corrections import CORRECTIONS
from projections.indicators import day_of, lateness_days

KIND = "issue"
Summary = dict[str, Any]

EVENT_CLASSES = (
    RectificationIssue.Registered,
    RectificationIssue.Assigned,
    RectificationIssue.MeasureAdopted,
    RectificationIssue.ProgressReported,
    RectificationIssue.MeasureCompleted,
    RectificationIssue.DeadlineExtended,
    RectificationIssue.Urged,
    RectificationIssue.EvaluatedAtYearEnd,
    RectificationIssue.Closed,
    RectificationIssue.Reopened,
    RectificationIssue.EntryCorrected,
    RectificationIssue.UrgingReplied,
    RectificationIssue.ExtensionRequested,
    RectificationIssue.ExtensionDecided,
)
TOPICS = tuple(f"{cls.__module__}:{cls.__qualname__}" for cls in EVENT_CLASSES)


def _iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def handles(domain_event: object) -> bool:
    return isinstance(domain_event, RectificationIssue.Event)


def fold(summary: Summary | None, e: Any, *, in_place: bool = False) -> Summary:
    """The summary after ``e``; the argument is left untouched unless ``in_place``."""
    kind = type(e).__name__
    if kind == "Registered":
        if summary is not None:
            raise ValueError("issue registered twice")
        s: Summary = {
            "kind": KIND,
            "id": str(e.originator_id),
            "plan_id": str(e.plan_id),
            "seq": e.seq,
            "duty": e.duty,
            "problem": e.problem,
            "remarks": e.remarks,
            "units": list(e.units),
            # RectificationIssue's rule: the units are listed lead first.
            "lead_unit": e.units[0] if e.units else None,
            "co_units": list(e.units[1:]),
            "contact_person": None,
            "deadline": None,
            "nodes": [],
            "measures": {},
            "urgings": [],
            "extensions": [],
            "evaluations": {},
            "closed": False,
            "closed_at": None,
            "closure_summary": None,
            "registered_at": _iso(e.timestamp),
            "entries": {},
            "lateness": {},
        }
    else:
        if summary is None:
            raise ValueError(f"{kind} before Registered")
        s = summary if in_place else copy.deepcopy(summary)
    version = e.originator_version
    entry: dict[str, Any] = {
        "type": kind,
        "unit": e.unit,
        "user": e.user,
        "recorded_at": _iso(e.timestamp),
        "occurred_at": _iso(e.occurred_at),
    }
    if kind == "Assigned":
        s["lead_unit"] = e.lead_unit
        s["co_units"] = list(e.co_units)
        s["units"] = [e.lead_unit, *e.co_units]
        s["contact_person"] = e.contact_person
        s["deadline"] = _iso(e.deadline)
        s["nodes"] = [_iso(n) for n in e.nodes]
    elif kind == "MeasureAdopted":
        entry["measure_id"] = e.measure_id
        s["measures"][e.measure_id] = {
            "measure_id": e.measure_id,
            "unit": e.owner,
            "text": e.text,
            "due": _iso(e.due),
            "status": MEASURE_OPEN,
            "adopted_at": _iso(e.occurred_at),
            "progress": [],
            "completed_at": None,
            "completed_recorded_at": None,
            "completion_summary": None,
        }
    elif kind == "ProgressReported":
        entry["measure_id"] = e.measure_id
        s["measures"][e.measure_id]["progress"].append(
            {"version": version, "summary": e.summary, "occurred_at": _iso(e.occurred_at)}
        )
    elif kind == "MeasureCompleted":
        entry["measure_id"] = e.measure_id
        measure = s["measures"][e.measure_id]
        measure["status"] = MEASURE_COMPLETED
        measure["completed_at"] = _iso(e.occurred_at)
        measure["completed_recorded_at"] = _iso(e.timestamp)
        measure["completion_summary"] = e.summary
    elif kind == "DeadlineExtended":
        s["extensions"].append(
            {"previous": _iso(e.previous), "deadline": _iso(e.deadline), "reason": e.reason,
             "approved_by": e.user, "recorded_at": _iso(e.timestamp)}
        )
        s["deadline"] = _iso(e.deadline)
    elif kind == "Urged":
        s["urgings"].append(
            {"version": version, "unit": e.target, "message": e.message,
             "reply_by": _iso(e.reply_by), "occurred_at": _iso(e.occurred_at),
             "recorded_at": _iso(e.timestamp)}
        )
    elif kind == "UrgingReplied":
        entry["urging_id"] = e.urging_id
        for urging in s["urgings"]:
            if str(urging["version"]) == e.urging_id:
                urging.update(reply=e.message, replied_at=_iso(e.occurred_at), reply_late=e.late)
    elif kind == "ExtensionRequested":
        entry["request_id"] = e.request_id
        s.setdefault("extension_requests", {})[e.request_id] = {
            "request_id": e.request_id, "unit": e.unit, "deadline": _iso(e.deadline), "previous": s["deadline"],
            "reason": e.reason, "requested_at": _iso(e.occurred_at), "status": PENDING, "decided_at": None,
        }
    elif kind == "ExtensionDecided":
        entry["request_id"] = e.request_id
        s["extension_requests"][e.request_id].update(
            status=APPROVED if e.approved else REFUSED, decided_at=_iso(e.occurred_at))
    elif kind == "EvaluatedAtYearEnd":
        entry["year"] = e.year
        s["evaluations"][str(e.year)] = {
            "year": e.year, "grade": e.grade, "score": e.score, "findings": e.findings,
            "rubric_version": e.rubric_version,
        }
    elif kind == "Closed":
        s["closed"] = True
        s["closure_summary"] = e.summary
        s["closed_at"] = _iso(e.occurred_at)
    elif kind == "Reopened":
        s["closed"] = False
        s["closure_summary"] = None
    elif kind == "EntryCorrected":
        CORRECTIONS.fold(s, e.corrected_version, e.changes)
    s["entries"][str(version)] = entry
    if "lateness" in s:  # summaries stored before it was kept have it added by brief()
        count_lateness(s["lateness"], entry)
    s["version"] = version
    return s


def count_lateness(lateness: dict[str, Any], entry: dict[str, Any]) -> None:
    """Adds an entry to the counts of late entries: unit -> recorded year -> days late ->
    count (entries recorded no later than they claim are not counted). A correction
    never changes an entry's claimed time, so an entry's count never moves."""
    days = lateness_days(entry["recorded_at"], entry["occurred_at"])
    if days:
        year = str(day_of(entry["recorded_at"]).year)  # type: ignore[union-attr]
        by_days = lateness.setdefault(entry["unit"], {}).setdefault(year, {})
        by_days[str(days)] = by_days.get(str(days), 0) + 1


def brief(s: Summary) -> Summary:
    """What the views and lists read of an issue (projections.queries): the summary's
    shape, without the timeline, the texts nobody lists, and all but each measure's
    latest progress report. An issue's summary grows with every entry; this stays small."""
    lateness = s.get("lateness")
    if lateness is None:
        lateness = {}
        for entry in s["entries"].values():
            count_lateness(lateness, entry)
    return {
        "kind": KIND, "id": s["id"], "plan_id": s["plan_id"], "seq": s["seq"], "duty": s["duty"],
        "problem": s["problem"], "units": s["units"], "lead_unit": s["lead_unit"], "co_units": s["co_units"],
        "deadline": s["deadline"], "nodes": s["nodes"], "closed": s["closed"], "version": s["version"],
        "measures": {
            k: {"measure_id": m["measure_id"], "unit": m["unit"], "due": m["due"], "status": m["status"],
                "completed_at": m["completed_at"], "completion_summary": m["completion_summary"],
                # max() keeps the first of equals, as indicators.last_progress does over all.
                "progress": [max(m["progress"], key=lambda p: p["occurred_at"])] if m["progress"] else []}
            for k, m in s["measures"].items()
        },
        # What the urgings' replies and the extension requests need (projections.todo); a brief
        # stored before they were kept lacks them until its issue changes or the views are rebuilt.
        "urgings": [{"unit": u["unit"], "occurred_at": u["occurred_at"], "urging_id": str(u["version"]),
                     "message": u["message"], "reply_by": u["reply_by"], "replied_at": u.get("replied_at"),
                     "reply_late": u.get("reply_late")} for u in s["urgings"]],
        "extension_requests": {
            k: {"unit": r["unit"], "deadline": r["deadline"], "requested_at": r["requested_at"], "status": r["status"]}
            for k, r in s.get("extension_requests", {}).items()
        },
        "evaluations": {y: {"grade": v["grade"]} for y, v in s["evaluations"].items()},
        "lateness": lateness,
    }


def status_of(s: Summary) -> str:
    """The aggregate's own ``status`` rule, on a summary."""
    from domain.issue import ASSIGNED, AWAITING_CLOSURE, CLOSED, RECTIFYING, REGISTERED

    if s["closed"]:
        return CLOSED
    measures = s["measures"].values()
    if measures and all(m["status"] == MEASURE_COMPLETED for m in measures):
        return AWAITING_CLOSURE
    if measures:
        return RECTIFYING
    if s["deadline"]:
        return ASSIGNED
    return REGISTERED


def state_of_summary(s: Summary) -> dict[str, Any]:
    """The part of a summary the aggregate also knows, in one comparable shape."""
    return {
        "id": s["id"], "seq": s["seq"], "duty": s["duty"], "problem": s["problem"],
        "remarks": s["remarks"], "units": s["units"], "lead_unit": s["lead_unit"],
        "co_units": s["co_units"], "deadline": s["deadline"], "nodes": s["nodes"],
        "status": status_of(s), "closed": s["closed"], "version": s["version"],
        "measures": {
            k: {"unit": m["unit"], "text": m["text"], "due": m["due"], "status": m["status"],
                "completed_at": m["completed_at"], "progress": [p["summary"] for p in m["progress"]]}
            for k, m in s["measures"].items()
        },
        "urgings": [(u["unit"], u["reply_by"], u["message"], u.get("replied_at")) for u in s["urgings"]],
        "extension_requests": {k: (r["unit"], r["deadline"], r["status"])
                               for k, r in s.get("extension_requests", {}).items()},
        "evaluations": {k: (v["grade"], v["score"]) for k, v in s["evaluations"].items()},
    }


def state_of_aggregate(issue: RectificationIssue) -> dict[str, Any]:
    return {
        "id": str(issue.id), "seq": issue.seq, "duty": issue.duty, "problem": issue.problem,
        "remarks": issue.remarks, "units": list(issue.units), "lead_unit": issue.lead_unit,
        "co_units": list(issue.co_units), "deadline": _iso(issue.deadline),
        "nodes": [_iso(n) for n in issue.nodes], "status": issue.status, "closed": issue.closed,
        "version": issue.version,
        "measures": {
            k: {"unit": m["unit"], "text": m["text"], "due": _iso(m["due"]), "status": m["status"],
                "completed_at": _iso(m["completed_at"]),
                "progress": [p["summary"] for p in m["progress"]]}
            for k, m in issue.measures.items()
        },
        "urgings": [(u["unit"], _iso(u["reply_by"]), u["message"], _iso(u.get("replied_at"))) for u in issue.urgings],
        "extension_requests": {k: (r["unit"], _iso(r["deadline"]), r["status"])
                               for k, r in issue.extension_requests.items()},
        "evaluations": {str(k): (v["grade"], v["score"]) for k, v in issue.evaluations.items()},
    }
