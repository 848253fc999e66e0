"""整改问题: one row of a rectification problem list, and everything done about it."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import InvalidCommand, LedgerAggregate, RuleViolated, Stamp, ledger_id
from domain.free_text import check_free_text

GRADES = ("优秀", "良好", "合格", "不合格")

# Status values are identifiers; their Chinese labels live with the views.
REGISTERED, ASSIGNED, RECTIFYING, AWAITING_CLOSURE, CLOSED = (
    "registered",
    "assigned",
    "rectifying",
    "awaiting_closure",
    "closed",
)
STATUSES = (REGISTERED, ASSIGNED, RECTIFYING, AWAITING_CLOSURE, CLOSED)

MEASURE_OPEN, MEASURE_COMPLETED = "open", "completed"

# Which fields of which entry a correction may change; `occurred_at` of any entry.
CORRECTABLE: dict[str, frozenset[str]] = {
    "Registered": frozenset({"duty", "problem", "remarks"}),
    "Assigned": frozenset({"contact_person", "deadline", "nodes"}),
    "MeasureAdopted": frozenset({"text", "due"}),
    "ProgressReported": frozenset({"summary", "evidence"}),
    "MeasureCompleted": frozenset({"summary"}),
    "DeadlineExtended": frozenset({"reason"}),
    "Urged": frozenset({"message", "reply_by"}),
    "EvaluatedAtYearEnd": frozenset({"grade", "score", "findings"}),
    "Closed": frozenset({"summary"}),
    "Reopened": frozenset({"reason"}),
    "EntryCorrected": frozenset({"reason"}),
}
DATE_FIELDS = frozenset({"deadline", "due", "reply_by"})
# The correctable fields that are free text, and so refuse ID and mobile numbers.
FREE_TEXT = frozenset({"duty", "problem", "remarks", "text", "summary", "reason", "message", "findings"})
# Evidence as a progress report takes it (interfaces.http.schemas.Evidence): a file name and
# the document's SHA-256; the document itself stays out of the ledger.
MAX_EVIDENCE, MAX_EVIDENCE_NAME = 100, 200
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def issue_id(plan_id: UUID, seq: int) -> UUID:
    """One issue per plan and sequence number: the store's key refuses a second."""
    return ledger_id("issue", plan_id, seq)


def check_grade(grade: str, score: float) -> None:
    if grade not in GRADES:
        raise InvalidCommand("grade_is_known", f"等次须为{'、'.join(GRADES)}之一")
    if not 0 <= score <= 100:
        raise InvalidCommand("score_between_0_and_100", "分数须在0到100之间")


def checked_evidence(evidence: object, *, rule: str = "evidence_valid") -> list[dict[str, str]]:
    """Evidence of a progress report or of its correction, hashes in lower case; the names
    are clear free text (checked for ID and mobile numbers), the hashes are not."""
    invalid = InvalidCommand(rule, "证明材料须为名称和 SHA-256 摘要的列表")
    if not isinstance(evidence, list) or len(evidence) > MAX_EVIDENCE:
        raise invalid
    checked = []
    for item in evidence:
        if not isinstance(item, dict) or set(item) != {"name", "sha256"}:
            raise invalid
        name, sha256 = item["name"], item["sha256"]
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_EVIDENCE_NAME or _CONTROL.search(name):
            raise invalid
        if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
            raise invalid
        checked.append({"name": name, "sha256": sha256.lower()})
    check_free_text("证明材料名称", [item["name"] for item in checked])
    return checked


def _check_change_values(changes: dict[str, Any], *, recorded_at: datetime) -> None:
    """Corrected values must be as valid as the originals; they are stored as JSON text."""
    try:
        for key in DATE_FIELDS & changes.keys():
            date.fromisoformat(str(changes[key]))
        for node in changes.get("nodes", []):
            date.fromisoformat(str(node))
        if "occurred_at" in changes:
            claimed = datetime.fromisoformat(str(changes["occurred_at"]))
            if claimed.tzinfo is None or claimed > recorded_at:
                raise ValueError("occurred_at")
        if "score" in changes and not isinstance(changes["score"], (int, float)):
            raise ValueError("score")
        for key in ("summary", "text", "duty", "problem", "remarks", "reason", "message",
                    "findings", "grade", "contact_person"):
            if key in changes and not isinstance(changes[key], str):
                raise ValueError(key)
    except (TypeError, ValueError):
        raise InvalidCommand("correction_values_valid", "更正后的值格式不正确") from None


class RectificationIssue(LedgerAggregate):
    @staticmethod
    def create_id(*, plan_id: UUID, seq: int, **_: Any) -> UUID:
        return issue_id(plan_id, seq)

    @classmethod
    def register(
        cls,
        stamp: Stamp,
        *,
        plan_id: UUID,
        seq: int,
        duty: str,
        problem: str,
        units: list[str],
        remarks: str = "",
        source_row: dict[str, Any] | None = None,
    ) -> RectificationIssue:
        if seq < 1:
            raise InvalidCommand("seq_is_positive", "序号须为正整数")
        if not units:
            raise InvalidCommand("issue_needs_a_responsible_unit", "整改问题至少要有一个责任单位")
        if not duty.strip() or not problem.strip():
            raise InvalidCommand("duty_and_problem_required", "工作职责和存在问题不能为空")
        check_free_text("工作职责、存在问题和备注", duty, problem, remarks)
        return cls(
            **stamp.fields(),
            plan_id=plan_id,
            seq=seq,
            duty=duty,
            problem=problem,
            units=list(dict.fromkeys(units)),
            remarks=remarks,
            source_row=source_row,
        )

    @event("Registered")
    def __init__(
        self,
        *,
        user: str,
        unit: str,
        occurred_at: datetime,
        plan_id: UUID,
        seq: int,
        duty: str,
        problem: str,
        units: list[str],
        remarks: str,
        source_row: dict[str, Any] | None,
    ) -> None:
        self.plan_id = plan_id
        self.seq = seq
        self.duty = duty
        self.problem = problem
        self.units = list(units)
        self.remarks = remarks
        self.source_row = source_row
        # The responsible units are listed lead first (a problem list's 责任单位 column names
        # its 牵头单位 first, or marks it), so an issue has a lead before it is assigned.
        self.lead_unit: str | None = self.units[0] if self.units else None
        self.co_units: list[str] = self.units[1:]
        self.contact_person: str | None = None
        self.deadline: date | None = None
        self.nodes: list[date] = []
        self.measures: dict[str, dict[str, Any]] = {}
        self.urgings: list[dict[str, Any]] = []
        self.extensions: list[dict[str, Any]] = []
        self.evaluations: dict[int, dict[str, Any]] = {}
        self.corrections: list[dict[str, Any]] = []
        self.closed = False
        self.closed_at: datetime | None = None
        self.closure_summary: str | None = None
        # What each version recorded, so corrections can name it and be checked.
        # The library has set version 1 before this body runs (unlike in the other event
        # methods, where the version is bumped after).
        self.entries: dict[int, dict[str, Any]] = {
            self.version: {"type": "Registered", "user": user, "unit": unit}
        }

    # ---- queries -------------------------------------------------------------------

    @property
    def status(self) -> str:
        if self.closed:
            return CLOSED
        if self.measures and all(m["status"] == MEASURE_COMPLETED for m in self.measures.values()):
            return AWAITING_CLOSURE
        if self.measures:
            return RECTIFYING
        if self.deadline is not None:  # only an assignment sets the first deadline
            return ASSIGNED
        return REGISTERED

    def is_responsible(self, unit: str) -> bool:
        return unit in self.units

    def measure(self, measure_id: str) -> dict[str, Any]:
        try:
            return self.measures[measure_id]
        except KeyError:
            raise LookupError(measure_id) from None

    def _note_entry(self, kind: str, user: str, unit: str, **refs: Any) -> None:
        # The version being applied is the one after the current version.
        self.entries[self.version + 1] = {"type": kind, "user": user, "unit": unit, **refs}

    def _must_be_open(self, what: str) -> None:
        if self.closed:
            raise RuleViolated(
                "closed_issue_takes_only_reopening_evaluation_correction",
                f"问题已销号，不能{what}；只能重新打开、年终考核或更正",
            )

    # ---- commands ------------------------------------------------------------------

    def assign(
        self,
        stamp: Stamp,
        *,
        lead_unit: str,
        co_units: list[str],
        contact_person: str,
        deadline: date,
        nodes: list[date],
    ) -> None:
        self._must_be_open("交办")
        units = list(dict.fromkeys([lead_unit, *co_units]))
        orphaned = {m["unit"] for m in self.measures.values()} - set(units)
        if orphaned:
            raise RuleViolated(
                "assignment_keeps_measure_owners",
                "交办后的责任单位须包含已有整改措施的责任单位",
            )
        if any(n > deadline for n in nodes):
            raise InvalidCommand("nodes_before_deadline", "时间节点不能晚于整改期限")
        self._assigned(
            **stamp.fields(),
            lead_unit=lead_unit,
            co_units=units[1:],
            contact_person=contact_person,
            deadline=deadline,
            nodes=sorted(set(nodes)),
        )

    @event("Assigned")
    def _assigned(
        self,
        *,
        user: str,
        unit: str,
        occurred_at: datetime,
        lead_unit: str,
        co_units: list[str],
        contact_person: str,
        deadline: date,
        nodes: list[date],
    ) -> None:
        self._note_entry("Assigned", user, unit)
        self.lead_unit = lead_unit
        self.co_units = list(co_units)
        self.units = [lead_unit, *co_units]
        self.contact_person = contact_person
        self.deadline = deadline
        self.nodes = list(nodes)

    def adopt_measure(self, stamp: Stamp, *, owner: str, text: str, due: date | None) -> str:
        self._must_be_open("制定整改措施")
        if not self.is_responsible(owner):
            raise RuleViolated(
                "only_responsible_unit_may_adopt", "只有该问题的责任单位可以制定整改措施"
            )
        if not text.strip():
            raise InvalidCommand("measure_text_required", "整改措施内容不能为空")
        check_free_text("整改措施", text)
        measure_id = f"M{len(self.measures) + 1}"
        self._measure_adopted(
            **stamp.fields(), measure_id=measure_id, owner=owner, text=text, due=due
        )
        return measure_id

    @event("MeasureAdopted")
    def _measure_adopted(
        self,
        *,
        user: str,
        unit: str,
        occurred_at: datetime,
        measure_id: str,
        owner: str,
        text: str,
        due: date | None,
    ) -> None:
        self._note_entry("MeasureAdopted", user, unit, measure_id=measure_id)
        self.measures[measure_id] = {
            "measure_id": measure_id,
            "unit": owner,
            "text": text,
            "due": due,
            "status": MEASURE_OPEN,
            "adopted_at": occurred_at,
            "progress": [],
            "completed_at": None,
            "completion_summary": None,
        }

    def _open_measure(self, measure_id: str, doing: str) -> dict[str, Any]:
        self._must_be_open(doing)
        measure = self.measure(measure_id)
        if measure["status"] != MEASURE_OPEN:
            raise RuleViolated(
                "progress_only_on_open_measure", f"该整改措施已完成，不能再{doing}"
            )
        return measure

    def report_progress(
        self, stamp: Stamp, *, measure_id: str, summary: str, evidence: list[dict[str, str]]
    ) -> None:
        self._open_measure(measure_id, "报送进展")
        if not summary.strip():
            raise InvalidCommand("summary_required", "阶段性工作总结不能为空")
        check_free_text("阶段性工作总结", summary)
        evidence = checked_evidence(evidence)
        self._progress_reported(
            **stamp.fields(), measure_id=measure_id, summary=summary, evidence=evidence
        )

    @event("ProgressReported")
    def _progress_reported(
        self,
        *,
        user: str,
        unit: str,
        occurred_at: datetime,
        measure_id: str,
        summary: str,
        evidence: list[dict[str, str]],
    ) -> None:
        self._note_entry("ProgressReported", user, unit, measure_id=measure_id)
        self.measures[measure_id]["progress"].append(
            {
                "version": self.version + 1,
                "summary": summary,
                "evidence": list(evidence),
                "occurred_at": occurred_at,
            }
        )

    def complete_measure(self, stamp: Stamp, *, measure_id: str, summary: str) -> None:
        self._open_measure(measure_id, "办结")
        check_free_text("办结情况", summary)
        self._measure_completed(**stamp.fields(), measure_id=measure_id, summary=summary)

    @event("MeasureCompleted")
    def _measure_completed(
        self, *, user: str, unit: str, occurred_at: datetime, measure_id: str, summary: str
    ) -> None:
        self._note_entry("MeasureCompleted", user, unit, measure_id=measure_id)
        measure = self.measures[measure_id]
        measure["status"] = MEASURE_COMPLETED
        measure["completed_at"] = occurred_at
        measure["completion_summary"] = summary

    def extend_deadline(self, stamp: Stamp, *, deadline: date, reason: str) -> None:
        self._must_be_open("延期")
        if self.deadline is None:
            raise RuleViolated("extension_needs_a_deadline", "尚未交办、没有整改期限，不能延期")
        if deadline <= self.deadline:
            raise InvalidCommand("extension_moves_deadline_later", "延期后的期限须晚于原期限")
        if not reason.strip():
            raise InvalidCommand("extension_needs_reason", "延期须说明理由")
        check_free_text("延期理由", reason)
        self._deadline_extended(
            **stamp.fields(), previous=self.deadline, deadline=deadline, reason=reason
        )

    @event("DeadlineExtended")
    def _deadline_extended(
        self,
        *,
        user: str,
        unit: str,
        occurred_at: datetime,
        previous: date,
        deadline: date,
        reason: str,
    ) -> None:
        self._note_entry("DeadlineExtended", user, unit)
        self.extensions.append(
            {"previous": previous, "deadline": deadline, "reason": reason, "approved_by": user}
        )
        self.deadline = deadline

    def urge(self, stamp: Stamp, *, target: str, message: str, reply_by: date) -> None:
        self._must_be_open("催办")
        if not self.is_responsible(target):
            raise InvalidCommand("urge_a_responsible_unit", "只能向该问题的责任单位催办")
        if reply_by < stamp.recorded_at.date():
            raise InvalidCommand("reply_by_not_in_past", "回复期限不能早于今天")
        check_free_text("催办内容", message)
        self._urged(**stamp.fields(), target=target, message=message, reply_by=reply_by)

    @event("Urged")
    def _urged(
        self,
        *,
        user: str,
        unit: str,
        occurred_at: datetime,
        target: str,
        message: str,
        reply_by: date,
    ) -> None:
        self._note_entry("Urged", user, unit)
        self.urgings.append(
            {"version": self.version + 1, "unit": target, "message": message, "reply_by": reply_by,
             "occurred_at": occurred_at}
        )

    def evaluate(
        self,
        stamp: Stamp,
        *,
        year: int,
        grade: str,
        score: float,
        findings: str,
        rubric_version: str,
    ) -> None:
        check_grade(grade, score)
        check_free_text("考核意见", findings)
        if year in self.evaluations:
            raise RuleViolated("one_evaluation_per_year", f"该问题{year}年度已有年终考核，请用更正")
        self._evaluated(
            **stamp.fields(),
            year=year,
            grade=grade,
            score=score,
            findings=findings,
            rubric_version=rubric_version,
        )

    @event("EvaluatedAtYearEnd")
    def _evaluated(
        self,
        *,
        user: str,
        unit: str,
        occurred_at: datetime,
        year: int,
        grade: str,
        score: float,
        findings: str,
        rubric_version: str,
    ) -> None:
        self._note_entry("EvaluatedAtYearEnd", user, unit, year=year)
        self.evaluations[year] = {
            "year": year,
            "grade": grade,
            "score": score,
            "findings": findings,
            "rubric_version": rubric_version,
        }

    def close(self, stamp: Stamp, *, summary: str) -> None:
        self._must_be_open("再次销号")
        if not self.measures:
            raise RuleViolated("closure_needs_a_measure", "没有整改措施的问题不能销号")
        if any(m["status"] == MEASURE_OPEN for m in self.measures.values()):
            raise RuleViolated("no_closure_while_measure_open", "仍有未完成的整改措施，不能销号")
        check_free_text("销号说明", summary)
        self._closed(**stamp.fields(), summary=summary)

    @event("Closed")
    def _closed(self, *, user: str, unit: str, occurred_at: datetime, summary: str) -> None:
        self._note_entry("Closed", user, unit)
        self.closed = True
        self.closure_summary = summary
        self.closed_at = occurred_at

    def reopen(self, stamp: Stamp, *, reason: str) -> None:
        if not self.closed:
            raise RuleViolated("only_closed_issue_reopens", "问题尚未销号，无需重新打开")
        if not reason.strip():
            raise InvalidCommand("reopening_needs_reason", "重新打开须说明理由")
        check_free_text("重新打开理由", reason)
        self._reopened(**stamp.fields(), reason=reason)

    @event("Reopened")
    def _reopened(self, *, user: str, unit: str, occurred_at: datetime, reason: str) -> None:
        self._note_entry("Reopened", user, unit)
        self.closed = False
        self.closure_summary = None

    def correct(
        self, stamp: Stamp, *, corrected_version: int, position: int, changes: dict[str, Any],
        reason: str,
    ) -> None:
        entry = self.entries.get(corrected_version)
        if entry is None:
            raise RuleViolated(
                "correction_names_earlier_event", "更正须指向本问题较早的一条记录"
            )
        if not reason.strip():
            raise InvalidCommand("correction_needs_reason", "更正须说明理由")
        if not changes:
            raise InvalidCommand("correction_needs_changes", "更正须写明要更正的内容")
        allowed = CORRECTABLE.get(entry["type"], frozenset()) | {"occurred_at"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise InvalidCommand(
                "correction_changes_correctable_fields",
                f"该记录不能更正这些字段：{'、'.join(unknown)}",
            )
        _check_change_values(changes, recorded_at=stamp.recorded_at)
        if "evidence" in changes:
            changes = {**changes, "evidence": checked_evidence(changes["evidence"], rule="correction_values_valid")}
        # Only the texts and evidence names: evidence hashes may hold digit runs, and
        # contact_person is an official's work contact, kept as given (not the child's data).
        check_free_text("更正理由和更正内容", reason, [changes[k] for k in FREE_TEXT & changes.keys()])
        if entry["type"] == "EvaluatedAtYearEnd" and ("grade" in changes or "score" in changes):
            current = self.evaluations[entry["year"]]
            check_grade(changes.get("grade", current["grade"]), changes.get("score", current["score"]))
        self._entry_corrected(
            **stamp.fields(),
            corrected_version=corrected_version,
            corrected_position=position,
            corrected_type=entry["type"],
            changes=changes,
            reason=reason,
        )

    def recorder_of(self, version: int) -> dict[str, Any] | None:
        return self.entries.get(version)

    @event("EntryCorrected")
    def _entry_corrected(
        self,
        *,
        user: str,
        unit: str,
        occurred_at: datetime,
        corrected_version: int,
        corrected_position: int,
        corrected_type: str,
        changes: dict[str, Any],
        reason: str,
    ) -> None:
        self._note_entry("EntryCorrected", user, unit)
        self.corrections.append(
            {
                "version": self.version + 1,
                "corrected_version": corrected_version,
                "corrected_position": corrected_position,
                "changes": dict(changes),
                "reason": reason,
            }
        )
        self._apply_changes(self.entries[corrected_version], changes)

    def _apply_changes(self, entry: dict[str, Any], changes: dict[str, Any]) -> None:
        kind = entry["type"]
        values: dict[str, Any] = {k: (date.fromisoformat(v) if k in DATE_FIELDS and isinstance(v, str) else v)
                  for k, v in changes.items() if k != "occurred_at"}
        if kind == "Registered":
            for key, value in values.items():
                setattr(self, key, value)
        elif kind == "Assigned":
            for key, value in values.items():
                if key == "nodes":
                    value = sorted(date.fromisoformat(str(n)) for n in value)
                setattr(self, key, value)
        elif kind == "MeasureAdopted":
            self.measures[entry["measure_id"]].update(values)
        elif kind == "MeasureCompleted" and "summary" in values:
            self.measures[entry["measure_id"]]["completion_summary"] = values["summary"]
        elif kind == "ProgressReported":
            for item in self.measures[entry["measure_id"]]["progress"]:
                if item["version"] == self._version_of(entry):
                    item.update(values)
        elif kind == "Urged":
            for item in self.urgings:
                if item["version"] == self._version_of(entry):
                    item.update(values)
        elif kind == "EvaluatedAtYearEnd":
            self.evaluations[entry["year"]].update(values)
        elif kind == "Closed" and "summary" in values and self.closed:
            self.closure_summary = values["summary"]

    def _version_of(self, entry: dict[str, Any]) -> int:
        return next(v for v, e in self.entries.items() if e is entry)
