"""Request and answer bodies of the issue API (published in /openapi.json)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from interfaces.http.inputs import Code, Day, Moment, Name, RequiredText, Text, Year

# Each field naming units by code has their names beside it (application.unit_names).
UNIT_NAME = "单位名称（与左侧单位代码对应；未登记的代码原样给出）"
UNIT_NAMES = "单位名称，与单位代码逐一对应"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Accepted(BaseModel):
    id: UUID
    version: int
    position: int


class PlanIn(Body):
    number: Name
    title: Name
    issuer_unit: Code
    year: Year


class MeasureDraft(Body):
    unit: Code | None = None
    text: RequiredText
    due: Day | None = None


class IssueIn(Body):
    plan_id: UUID
    seq: int = Field(ge=1, le=100_000)
    duty: RequiredText
    problem: RequiredText
    units: list[Code] = Field(min_length=1, max_length=50)
    measures: list[RequiredText | MeasureDraft] = Field(default_factory=list, max_length=50)
    remarks: Text = ""


class IssueAccepted(Accepted):
    measure_ids: list[str] = Field(default_factory=list)


class AssignmentIn(Body):
    lead_unit: Code
    co_units: list[Code] = Field(default_factory=list, max_length=50)
    contact_person: Name
    deadline: Day
    nodes: list[Day] = Field(default_factory=list, max_length=50)
    occurred_at: Moment | None = None


class MeasureIn(Body):
    unit: Code
    text: RequiredText
    due: Day | None = None
    occurred_at: Moment | None = None


class MeasureAccepted(Accepted):
    measure_id: str


class Evidence(Body):
    name: Name
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")


class ProgressIn(Body):
    summary: RequiredText
    evidence: list[Evidence] = Field(default_factory=list, max_length=100)
    occurred_at: Moment | None = None


class CompletionIn(Body):
    summary: RequiredText
    evidence: list[Evidence] = Field(default_factory=list, max_length=100)
    occurred_at: Moment | None = None


class UrgingIn(Body):
    unit: Code
    message: RequiredText
    reply_by: Day
    occurred_at: Moment | None = None


class UrgingAccepted(Accepted):
    urging_id: str = Field(description="催办编号：该催办事件在本问题中的版本号")


class UrgingReplyIn(Body):
    message: RequiredText
    occurred_at: Moment | None = None


class UrgingReplyAccepted(Accepted):
    late: bool = Field(description="回复晚于回复期限 reply_by（按北京时间的日期）")


class ExtensionRequestAccepted(Accepted):
    request_id: str


class ExtensionDecisionIn(Body):
    approved: bool
    reason: RequiredText
    occurred_at: Moment | None = None


class ExtensionIn(Body):
    deadline: Day
    reason: RequiredText
    occurred_at: Moment | None = None


class EvaluationIn(Body):
    year: Year
    grade: Literal["优秀", "良好", "合格", "不合格"]
    score: float = Field(ge=0, le=100, allow_inf_nan=False)
    findings: Text = ""
    occurred_at: Moment | None = None


class ClosureIn(Body):
    summary: RequiredText
    occurred_at: Moment | None = None


class ReopeningIn(Body):
    reason: RequiredText
    occurred_at: Moment | None = None


class CorrectionIn(Body):
    position: int = Field(ge=1, le=2**53 - 1)  # exact in every JSON reader
    changes: dict[str, Any] = Field(min_length=1, max_length=20)
    reason: RequiredText
    occurred_at: Moment | None = None


class ProgressOut(BaseModel):
    version: int
    summary: str
    evidence: list[dict[str, str]]
    occurred_at: datetime


class MeasureOut(BaseModel):
    measure_id: str
    unit: str
    unit_name: str = Field(description=UNIT_NAME)
    text: str
    due: date | None
    status: Literal["open", "completed"]
    progress: list[ProgressOut]
    completed_at: datetime | None
    completion_summary: str | None


class UrgingOut(BaseModel):
    urging_id: str
    unit: str
    unit_name: str = Field(description=UNIT_NAME)
    message: str
    reply_by: date
    occurred_at: datetime
    reply_status: Literal["awaiting_reply", "replied_on_time", "replied_late"] = Field(
        description="待回复、按期回复或逾期回复")
    reply: str | None = None
    replied_at: datetime | None = None
    replied_by: str | None = None
    reply_late: bool | None = None


class ExtensionRequestOut(BaseModel):
    request_id: str
    unit: str
    unit_name: str = Field(description=UNIT_NAME)
    deadline: date = Field(description="申请延至的期限")
    previous: date = Field(description="申请时的整改期限")
    reason: str
    requested_at: datetime
    status: Literal["pending", "approved", "refused"] = Field(description="待审批、已批准或未批准")
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None


class ExtensionOut(BaseModel):
    previous: date
    deadline: date
    reason: str
    approved_by: str


class EvaluationOut(BaseModel):
    year: int
    grade: str
    score: float
    findings: str
    rubric_version: str


class CorrectionOut(BaseModel):
    version: int
    corrected_version: int
    corrected_position: int
    changes: dict[str, Any]
    reason: str


class IssueOut(BaseModel):
    id: UUID
    version: int
    plan_id: UUID
    seq: int
    duty: str
    problem: str
    remarks: str
    status: Literal["registered", "assigned", "rectifying", "awaiting_closure", "closed"]
    units: list[str]
    unit_names: list[str] = Field(description=UNIT_NAMES)
    lead_unit: str | None
    lead_unit_name: str | None = Field(description=UNIT_NAME)
    co_units: list[str]
    co_unit_names: list[str] = Field(description=UNIT_NAMES)
    contact_person: str | None
    deadline: date | None
    nodes: list[date]
    measures: list[MeasureOut]
    urgings: list[UrgingOut]
    extensions: list[ExtensionOut]
    extension_requests: list[ExtensionRequestOut]
    evaluations: list[EvaluationOut]
    corrections: list[CorrectionOut]
    recorded_at: datetime = Field(description="登记时间（服务器时钟）")
    modified_at: datetime = Field(description="最后一条记录的登记时间")
    as_of: datetime | None = None


class IssueSummary(BaseModel):
    id: UUID
    version: int
    plan_id: UUID
    seq: int
    duty: str
    status: str
    units: list[str]
    unit_names: list[str] = Field(description=UNIT_NAMES)
    lead_unit: str | None
    lead_unit_name: str | None = Field(description=UNIT_NAME)
    deadline: date | None
    measures_total: int
    measures_done: int


class HistoryEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    aggregate: UUID
    version: int
    position: int | None
    recorded_at: datetime
    occurred_at: datetime
    recorder: str
    unit: str
    unit_name: str = Field(description=UNIT_NAME)


class PlanOut(BaseModel):
    id: UUID
    version: int
    number: str
    title: str
    issuer_unit: str
    issuer_unit_name: str = Field(description=UNIT_NAME)
    year: int


class ImportedRow(BaseModel):
    model_config = ConfigDict(extra="allow")

    lines: list[int]
    seq: int | None
    units: list[str]
    duty: str
    problem: str
    measures: list[dict[str, str]]
    remarks: str
    warnings: list[str]
    refused: str | None
    fingerprint: str
    outcome: Literal["created", "would_create", "unchanged", "changed", "refused"]
    issue_id: UUID | None = None


class ImportReport(BaseModel):
    plan_id: UUID
    dry_run: bool
    rows_read: int
    counts: dict[str, int]
    rows: list[ImportedRow]
