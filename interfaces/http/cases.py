"""儿童个案 endpoints. Personal fields travel only in `person`-style blocks, to those allowed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from application.commands import Accepted as CommandAccepted, Command
from application.evidence import named_digests
from domain.assessment import CATEGORIES
from domain.case import CLOSURE_REASONS, ChildCase
from domain.guardianship import GUARDIANSHIPS
from domain.mandatory_report import NATURES, REPORTERS
from domain.person import MAX_NAME_LENGTH, MAX_TEXT_LENGTH
from domain.referral import SERVICE_KINDS
from domain.referral_acceptance import shown as shown_referral
from interfaces.bootstrap import Services
from interfaces.http.deps import ActorDep, AsOfDep, CommandDep, ServicesDep, created, described, with_time
from interfaces.http.evidence import EVIDENCE_IS_STORED
from interfaces.http.inputs import Code, Day, Moment, Name, RequiredText, Text, line
from interfaces.http.problems import refused_by
from interfaces.http.schemas import UNIT_NAME, Accepted, Body, CorrectionIn, EvaluationIn, HistoryEntry

router = APIRouter(prefix="/api/v1/cases", tags=["儿童个案"])

Category = Literal[CATEGORIES]  # type: ignore[valid-type]


class PersonIn(Body):
    name: line(MAX_NAME_LENGTH)  # type: ignore[valid-type]
    id_number: str = Field(min_length=15, max_length=24)
    address: Text | None = Field(default=None, max_length=MAX_TEXT_LENGTH)
    guardian: Text | None = Field(default=None, max_length=MAX_TEXT_LENGTH)


class CaseIn(Body):
    street: Name
    community: Name
    household_local: bool
    birth_date: Day
    person: PersonIn
    occurred_at: Moment | None = None


class CaseAccepted(Accepted):
    case_number: str


class ClassificationIn(Body):
    left_behind: bool
    categories: list[Category] = Field(default_factory=list, max_length=7)
    evidence: list[Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]] = Field(
        default_factory=list, max_length=50, description="证明材料的 SHA-256 摘要（小写十六进制）；材料本身不入台账")
    occurred_at: Moment | None = None


class FirstClassificationIn(ClassificationIn):
    # The domain's rule (classification_names_a_category), stated: a first classification names
    # the child left-behind or at least one category.
    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"properties": {"left_behind": {"const": True}}},
        {"properties": {"categories": {"minItems": 1}}, "required": ["categories"]},
    ]})


class GuardianIn(Body):
    name: Name
    relation: Text | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=32, pattern=r"^[0-9+\- ]*$")


class GuardianshipIn(Body):
    arrangement: Literal[GUARDIANSHIPS]  # type: ignore[valid-type]
    guardian: GuardianIn
    occurred_at: Moment | None = None


class MandatoryReportIn(Body):
    reporter: Literal[REPORTERS]  # type: ignore[valid-type]
    nature: Literal[NATURES]  # type: ignore[valid-type]
    details: Text | None = Field(default=None, max_length=5000)
    occurred_at: Moment


class ReportStepIn(Body):
    occurred_at: Moment | None = None


class ReportAccepted(Accepted):
    report_id: str


class TimedAccepted(Accepted):
    seconds_since_report: int


class ReferralIn(Body):
    unit: Code
    duty: RequiredText
    occurred_at: Moment | None = None


class ReferralAccepted(Accepted):
    referral_id: str


class ReferralTakenOn(Accepted):
    seconds_since_referral: int = Field(description="自转介至接收的秒数")


class ReferralClosureIn(Body):
    outcome: Literal["completed", "withdrawn"]
    occurred_at: Moment | None = None


class ServiceIn(Body):
    kind: Literal[SERVICE_KINDS]  # type: ignore[valid-type]
    referral_id: str | None = Field(default=None, max_length=16)
    notes: Text | None = Field(default=None, max_length=5000)
    evidence: list[str] = Field(default_factory=list, max_length=50, description="该儿童个案已上传材料的 sha256")
    occurred_at: Moment | None = None


class ServiceAccepted(Accepted):
    seconds_since_referral: int | None = None


class VisitIn(Body):
    notes: Text | None = Field(default=None, max_length=5000)
    occurred_at: Moment | None = None


class CaseClosureIn(Body):
    reason: Literal[CLOSURE_REASONS]  # type: ignore[valid-type]
    occurred_at: Moment | None = None


class ReasonIn(Body):
    reason: RequiredText
    occurred_at: Moment | None = None


class CaseOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: UUID
    version: int
    case_number: str
    street: str
    community: str
    household_local: bool
    birth_month: str = Field(description="出生年月（YYYY-MM）；出生日期为个人信息，加密保存")
    registering_unit: str
    registering_unit_name: str = Field(description=UNIT_NAME)
    status: Literal["open", "closed"]
    left_behind: bool
    categories: list[str]
    referrals: list[dict[str, Any]]
    reports: list[dict[str, Any]]
    services: list[dict[str, Any]]
    visits: int
    erased: bool
    personal: dict[str, Any] | None = Field(
        default=None, description="个人信息：仅督查督办、巡察和转介中的单位可见，每次查阅均留痕"
    )
    as_of: datetime | None = None


class AccessEntry(BaseModel):
    user: str
    unit: str
    unit_name: str = Field(description=UNIT_NAME)
    role: str
    endpoint: str
    at: datetime
    reason: str | None = Field(default=None, description="查阅人填写的理由（工作台查看个人信息时必填；此前的查阅没有）")


def _without_sealed(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "sealed"}


def describe_case(case: ChildCase) -> dict[str, Any]:
    return {
        **described(case, "case_number", "street", "community", "household_local", "birth_month", "registering_unit",
                    "status", "left_behind", "categories"),
        "referrals": [shown_referral(r) for r in case.referrals.values()],
        "reports": [_without_sealed(r) for r in case.reports.values()],
        "services": [_without_sealed(s) for s in case.services],
        "visits": len(case.visits),
        "erased": case.erased,
    }


@router.post("", response_model=CaseAccepted, status_code=201, summary="登记儿童个案", responses=refused_by(
    422, id_number_has_18_characters="去掉空格和连字符后，身份证号码不是 18 位",
    id_number_passes_checksum="身份证号码的校验位、出生日期或地区码不正确",
    id_number_agrees_with_birth_date="身份证号码中的出生日期与 birth_date 不一致",
    birth_date_not_in_future="birth_date 晚于登记日（服务器当前日期）", case_is_for_a_minor="登记日儿童已满十八周岁"))
def register_case(body: CaseIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return svc.cases.register_case(
        with_time(cmd, body.occurred_at), street=body.street, community=body.community,
        household_local=body.household_local, birth_date=body.birth_date,
        person=body.person.model_dump(),
    ).answer()


@router.get("/{case_id}", response_model=CaseOut, summary="查看儿童个案（可按时间点回放）")
def get_case(case_id: UUID, caller: ActorDep, svc: ServicesDep, when: AsOfDep, request: Request) -> Any:
    case, personal = svc.cases.read_case(caller, case_id, endpoint=request.url.path, as_of=when)
    return {**svc.ledger.unit_names.annotate(describe_case(case)), "personal": personal, "as_of": when}


@router.get("/{case_id}/events", response_model=list[HistoryEntry], summary="儿童个案的全部记录（个人信息不显示）")
def case_events(case_id: UUID, caller: ActorDep, svc: ServicesDep) -> Any:
    return svc.ledger.unit_names.annotate([
        {**{k: v for k, v in e.items() if k != "fields"}, **e["fields"]}
        for e in svc.cases.case_history(caller, case_id)
    ])


@router.get("/{case_id}/access-log", response_model=list[AccessEntry], summary="个人信息查阅记录")
def access_log(case_id: UUID, caller: ActorDep, svc: ServicesDep) -> Any:
    return svc.ledger.unit_names.annotate(svc.cases.case_access_log(caller, case_id))


@router.post("/{case_id}/classifications", response_model=Accepted, status_code=201, summary="认定类别",
             responses=EVIDENCE_IS_STORED)
def classify(case_id: UUID, body: FirstClassificationIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return _assessing(svc.cases.classify_case, case_id, body, cmd, svc)


@router.post("/{case_id}/reassessments", response_model=Accepted, status_code=201, summary="重新评估",
             responses=EVIDENCE_IS_STORED)
def reassess(case_id: UUID, body: ClassificationIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return _assessing(svc.cases.reassess_case, case_id, body, cmd, svc)


def _assessing(
    command: Callable[..., CommandAccepted], case_id: UUID, body: ClassificationIn, cmd: Command, svc: Services,
) -> Any:
    """A classification or reassessment: the categories and the stored files it names."""
    return created(svc.evidence.naming(cmd.actor, named_digests(body.evidence), case_id, lambda: command(
        with_time(cmd, body.occurred_at), case_id, left_behind=body.left_behind,
        categories=list(body.categories), evidence=body.evidence), case_id=case_id))


@router.post("/{case_id}/guardianship", response_model=Accepted, status_code=201, summary="登记监护情况")
def guardianship(case_id: UUID, body: GuardianshipIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return created(svc.cases.record_guardianship(with_time(cmd, body.occurred_at), case_id, arrangement=body.arrangement,
                                         guardian=body.guardian.model_dump()))


@router.post("/{case_id}/mandatory-reports", response_model=ReportAccepted, status_code=201, summary="登记强制报告")
def mandatory_report(case_id: UUID, body: MandatoryReportIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return svc.cases.file_mandatory_report(with_time(cmd, body.occurred_at), case_id, reporter=body.reporter,
                                           nature=body.nature, details=body.details).answer()


@router.post("/{case_id}/mandatory-reports/{report_id}/acceptance", response_model=TimedAccepted,
             status_code=201, summary="受理强制报告")
def accept_report(case_id: UUID, report_id: str, body: ReportStepIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return svc.cases.accept_report(with_time(cmd, body.occurred_at), case_id, report_id[:16]).answer()


@router.post("/{case_id}/mandatory-reports/{report_id}/dispatch", response_model=TimedAccepted,
             status_code=201, summary="出警")
def dispatch(case_id: UUID, report_id: str, body: ReportStepIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return svc.cases.dispatch_police(with_time(cmd, body.occurred_at), case_id, report_id[:16]).answer()


@router.post("/{case_id}/referrals", response_model=ReferralAccepted, status_code=201, summary="转介")
def refer(case_id: UUID, body: ReferralIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return svc.cases.refer_case(with_time(cmd, body.occurred_at), case_id, unit=body.unit, duty=body.duty).answer()


@router.post("/{case_id}/referrals/{referral_id}/acceptance", response_model=ReferralTakenOn, status_code=201,
             summary="接收转介", responses=refused_by(
                 409, only_referred_unit_accepts="不是转介给本单位的", referral_accepted_once="该转介已接收",
                 only_open_referral_accepted="该转介已结束",
                 acceptance_not_before_referral="occurred_at 早于转介时间"))
def accept_referral(case_id: UUID, referral_id: str, body: ReportStepIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return svc.cases.accept_referral(with_time(cmd, body.occurred_at), case_id, referral_id[:16]).answer()


@router.post("/{case_id}/referrals/{referral_id}/closure", response_model=Accepted, status_code=201,
             summary="结束转介")
def close_referral(case_id: UUID, referral_id: str, body: ReferralClosureIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return created(svc.cases.close_referral(with_time(cmd, body.occurred_at), case_id, referral_id[:16],
                                     outcome=body.outcome))


@router.post("/{case_id}/services", response_model=ServiceAccepted, status_code=201, summary="登记关爱服务或救助")
def service(case_id: UUID, body: ServiceIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return svc.evidence.naming(cmd.actor, named_digests(body.evidence), case_id, lambda: svc.cases.provide_service(
        with_time(cmd, body.occurred_at), case_id, kind=body.kind, referral_id=body.referral_id, notes=body.notes,
        evidence=body.evidence), case_id=case_id).answer()


@router.post("/{case_id}/visits", response_model=Accepted, status_code=201, summary="走访")
def visit(case_id: UUID, body: VisitIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return created(svc.cases.visit_case(with_time(cmd, body.occurred_at), case_id, notes=body.notes))


@router.post("/{case_id}/evaluations", response_model=Accepted, status_code=201, summary="年终考核")
def evaluate(case_id: UUID, body: EvaluationIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return created(svc.cases.evaluate_case(with_time(cmd, body.occurred_at), case_id, year=body.year, grade=body.grade,
                                    score=body.score, findings=body.findings))


@router.post("/{case_id}/closure", response_model=Accepted, status_code=201, summary="结案")
def close(case_id: UUID, body: CaseClosureIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return created(svc.cases.close_case(with_time(cmd, body.occurred_at), case_id, reason=body.reason))


@router.post("/{case_id}/reopening", response_model=Accepted, status_code=201, summary="重新打开")
def reopen(case_id: UUID, body: ReasonIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return created(svc.cases.reopen_case(with_time(cmd, body.occurred_at), case_id, reason=body.reason))


@router.post("/{case_id}/erasure", response_model=Accepted, status_code=201, summary="删除个人信息（销毁密钥）")
def erase(case_id: UUID, body: ReasonIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return created(svc.cases.erase_personal_data(with_time(cmd, body.occurred_at), case_id, reason=body.reason))


@router.post(
    "/{case_id}/corrections", response_model=Accepted, status_code=201, summary="更正记录",
    description="个人信息字段（登记：name、id_number、birth_date、address、guardian；监护：guardian；"
    "强制报告：details；服务、走访：notes）及更正理由加密保存，与个人信息同样可见、查阅留痕、删除后一并销毁。"
    "个人信息删除后，更正理由以明文保存，不得含身份证号码或手机号码。",
)
def correct(case_id: UUID, body: CorrectionIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return svc.evidence.naming(cmd.actor, named_digests(body.changes.get("evidence")), case_id, lambda: svc.cases.correct_case_entry(
        with_time(cmd, body.occurred_at), case_id, position=body.position, changes=body.changes, reason=body.reason,
    ), case_id=case_id).answer()
