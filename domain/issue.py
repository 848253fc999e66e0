"""整改问题: one row of a rectification problem list, and everything done about it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain import evaluation, issue_corrections
from domain.base import InvalidCommand, LedgerAggregate, RuleViolated, Stamp, found, ledger_id, versioned
from domain.correction import CorrectableAggregate
from domain.evidence import checked_evidence
from domain.extension_request import ExtensionRequests
from domain.free_text import check_free_text
from domain.issue_corrections import CORRECTIONS
from domain.urging import UrgingReplies, urging_id

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

def issue_id(plan_id: UUID, seq: int) -> UUID:
    """One issue per plan and sequence number: the store's key refuses a second."""
    return ledger_id("issue", plan_id, seq)


@versioned(
    Registered=1, Assigned=1, MeasureAdopted=1, ProgressReported=1, MeasureCompleted=2,
    DeadlineExtended=1, Urged=1, EvaluatedAtYearEnd=1, Closed=1, Reopened=1, EntryCorrected=1,
    UrgingReplied=1, ExtensionRequested=1, ExtensionDecided=1,
)
class RectificationIssue(UrgingReplies, ExtensionRequests, evaluation.YearEndEvaluations, CorrectableAggregate):
    evaluated_noun = "问题"
    closed_rule = "closed_issue_takes_only_reopening_evaluation_correction"
    closed_noun = "问题已销号"
    correction_table = CORRECTIONS
    # Version 2 of the state (snapshots): each measure keeps its completion evidence.
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        for measure in state["measures"].values():
            measure["completion_evidence"] = []

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
        return found(self.measures, measure_id)

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
            "completion_evidence": [],
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

    def complete_measure(
        self, stamp: Stamp, *, measure_id: str, summary: str, evidence: list[dict[str, str]]
    ) -> None:
        self._open_measure(measure_id, "办结")
        check_free_text("办结情况", summary)
        evidence = checked_evidence(evidence)
        self._measure_completed(**stamp.fields(), measure_id=measure_id, summary=summary, evidence=evidence)

    class MeasureCompleted(LedgerAggregate.Event):
        """Version 2 names the files that show the measure done, as progress does."""

        class_version = 2
        measure_id: str
        summary: str
        evidence: list[dict[str, str]]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["evidence"] = []  # completed before completion named evidence

    @event(MeasureCompleted)
    def _measure_completed(
        self, *, user: str, unit: str, occurred_at: datetime, measure_id: str, summary: str,
        evidence: list[dict[str, str]],
    ) -> None:
        self._note_entry("MeasureCompleted", user, unit, measure_id=measure_id)
        measure = self.measures[measure_id]
        measure["status"] = MEASURE_COMPLETED
        measure["completed_at"] = occurred_at
        measure["completion_summary"] = summary
        measure["completion_evidence"] = list(evidence)

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

    def urge(self, stamp: Stamp, *, target: str, message: str, reply_by: date) -> str:
        self._must_be_open("催办")
        if not self.is_responsible(target):
            raise InvalidCommand("urge_a_responsible_unit", "只能向该问题的责任单位催办")
        if reply_by < stamp.recorded_at.date():
            raise InvalidCommand("reply_by_not_in_past", "回复期限不能早于今天")
        check_free_text("催办内容", message)
        self._urged(**stamp.fields(), target=target, message=message, reply_by=reply_by)
        return urging_id(self.urgings[-1])

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
        entry = CORRECTIONS.entry(self.entries, corrected_version)
        changes = issue_corrections.checked(
            entry, changes, reason=reason, recorded_at=stamp.recorded_at, evaluations=self.evaluations
        )
        self._entry_corrected(
            **stamp.fields(), corrected_version=corrected_version, corrected_position=position,
            corrected_type=entry["type"], changes=changes, reason=reason,
        )

    @event("EntryCorrected")
    def _entry_corrected(
        self, *, user: str, unit: str, occurred_at: datetime, corrected_version: int,
        corrected_position: int, corrected_type: str, changes: dict[str, Any], reason: str,
    ) -> None:
        self._correction_applied(
            user, unit, corrected_version=corrected_version, corrected_position=corrected_position,
            changes=changes, reason=reason,
        )
