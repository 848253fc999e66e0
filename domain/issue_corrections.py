"""What a correction may change in a rectification issue, and the checks its values pass.

Any entry's time may be corrected (an issue's times are the claims of those who recorded
them; a correction is itself recorded, and its recorder named).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from domain import evaluation
from domain.base import InvalidCommand
from domain.correction import VERSION, Correctable, Corrections, Ref, check_time
from domain.evidence import checked_evidence
from domain.free_text import check_free_text

_MEASURE = ("measures", Ref("measure_id"))

CORRECTIONS = Corrections(
    "问题",
    {
        "Registered": Correctable(frozenset({"duty", "problem", "remarks"})),
        "Assigned": Correctable(frozenset({"contact_person", "deadline", "nodes"})),
        "MeasureAdopted": Correctable(frozenset({"text", "due"}), at=_MEASURE),
        "ProgressReported": Correctable(
            frozenset({"summary", "evidence"}), at=(*_MEASURE, "progress", VERSION)
        ),
        "MeasureCompleted": Correctable(
            frozenset({"summary", "evidence"}), at=_MEASURE,
            renamed={"summary": "completion_summary", "evidence": "completion_evidence"},
        ),
        # No state keeps a corrected extension or reopening reason: the entries show it.
        "DeadlineExtended": Correctable(frozenset({"reason"}), at=None),
        "Urged": Correctable(frozenset({"message", "reply_by"}), at=("urgings", VERSION)),
        "EvaluatedAtYearEnd": Correctable(
            frozenset({"grade", "score", "findings"}), at=("evaluations", Ref("year"))
        ),
        # A reopened issue has no closure summary for the correction to change.
        "Closed": Correctable(
            frozenset({"summary"}), renamed={"summary": "closure_summary"}, only_while="closed"
        ),
        "Reopened": Correctable(frozenset({"reason"}), at=None),
        "EntryCorrected": Correctable(frozenset({"reason"}), at=None),
    },
    dates=frozenset({"deadline", "due", "reply_by"}),
    date_lists=frozenset({"nodes"}),
)
# The correctable fields that are free text, and so refuse ID and mobile numbers.
FREE_TEXT = frozenset({"duty", "problem", "remarks", "text", "summary", "reason", "message", "findings"})
_TEXT = FREE_TEXT | {"grade", "contact_person"}


def checked(
    entry: dict[str, Any], changes: dict[str, Any], *, reason: str, recorded_at: datetime,
    evaluations: dict[int, dict[str, Any]],
) -> dict[str, Any]:
    """The changes to ``entry`` as the issue records them, once checked."""
    kind = entry["type"]
    if not reason.strip():
        raise InvalidCommand("correction_needs_reason", "更正须说明理由")
    CORRECTIONS.check_fields(kind, changes)
    _check_values(changes, recorded_at=recorded_at)
    if "evidence" in changes:
        changes = {**changes, "evidence": checked_evidence(changes["evidence"], rule="correction_values_valid")}
    # Only the texts and evidence names: evidence hashes may hold digit runs, and
    # contact_person is an official's work contact, kept as given (not the child's data).
    check_free_text("更正理由和更正内容", reason, [changes[k] for k in FREE_TEXT & changes.keys()])
    if kind == "EvaluatedAtYearEnd":
        evaluation.check_corrected(evaluations[entry["year"]], changes)
    return changes


def _check_values(changes: dict[str, Any], *, recorded_at: datetime) -> None:
    """Corrected values must be as valid as the originals; they are stored as JSON text."""
    try:
        for key in CORRECTIONS.dates & changes.keys():
            date.fromisoformat(str(changes[key]))
        for node in changes.get("nodes", []):
            date.fromisoformat(str(node))
        if "score" in changes and not isinstance(changes["score"], (int, float)):
            raise ValueError("score")
        if any(not isinstance(changes[key], str) for key in _TEXT & changes.keys()):
            raise ValueError("text")
    except (TypeError, ValueError):
        raise InvalidCommand("correction_values_valid", "更正后的值格式不正确") from None
    check_time(changes, recorded_at=recorded_at)
