"""儿童个案: one child in the information ledger (信息台账), and what each unit did about them.

Personal data (name, ID number, exact birth date, address, guardian, health and abuse
details, and the free text written on the case: report details, service and visit notes,
correction reasons) never reaches this module in clear. The application seals it under the
case's own key and the events carry only the opaque ``sealed`` text; erasing that key erases
the data while every event, and the ledger's tamper evidence, stays intact. The year and
month of birth stay in clear; the age rules get the exact date from the application, which
opens it from the seal (cases registered before it was sealed keep it in clear).

Free text that stays clear (street, community, duty, findings, reopening and erasure
reasons) is refused when it holds an ID or mobile number (domain.free_text).
"""

from __future__ import annotations

import calendar
import re
import secrets
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import InvalidCommand, LedgerAggregate, RuleViolated, Stamp, ledger_id, versioned
from domain.free_text import check_free_text
from domain.issue import check_grade
from domain.person import beijing_day, is_under

# 困境儿童 categories, in the plan's order.
CATEGORIES = (
    "poverty",  # 家庭贫困导致生活、就医、就学等困难
    "registered_poor",  # 农村建档立卡贫困家庭未成年子女
    "disability",  # 自身残疾导致康复、照料、护理和社会融入等困难
    "guardianship_failure",  # 监护缺失或监护不当遭受虐待、遗弃、意外伤害、不法侵害
    "guardian_unable",  # 监护人服刑、吸毒、重病等原因实际无人监护
    "trafficked_or_employed",  # 被拐卖、非法雇佣等原因面临生存危机
    "temporary_crisis",  # 突发性、紧迫性、临时性原因导致基本生活陷入困境
)
# "临时儿童不受户籍限制": only temporary hardship is open to children registered elsewhere.
NOT_BOUND_TO_HOUSEHOLD = frozenset({"temporary_crisis"})

# The bodies the law obliges to report (强制报告主体).
REPORTERS = (
    "school",  # 中小学校
    "kindergarten",  # 幼儿园
    "medical_institution",  # 医疗机构
    "villagers_committee",  # 村民委员会
    "residents_committee",  # 居民委员会
    "social_work_agency",  # 社会工作服务机构
    "rescue_agency",  # 救助管理机构
    "welfare_institution",  # 福利机构
)
# What was reported: codes, so no free text can carry a name into a plain column.
NATURES = (
    "abuse",  # 虐待
    "abandonment",  # 遗弃
    "accidental_injury",  # 意外伤害
    "unlawful_harm",  # 不法侵害
    "unattended",  # 实际无人监护
    "trafficking",  # 被拐卖
    "illegal_employment",  # 非法雇佣
    "other",
)
GUARDIANSHIPS = (
    "statutory",  # 监护人
    "entrusted",  # 受委托监护人
    "court_appointed",  # 法院指定监护人
)
SERVICE_KINDS = (
    "legal_aid",  # 法律援助
    "judicial_aid",  # 司法救助
    "legal_education",  # 法治宣传教育
    "counselling",  # 心理疏导
    "schooling_support",  # 控辍保学、教育资助
    "subsidy",  # 生活补助、临时救助
    "medical_care",  # 医疗救治
    "rehabilitation",  # 康复救助
    "housing_subsidy",  # 住房租赁补贴
    "family_education_guidance",  # 家庭教育指导
    "day_care",  # 假期日间照料、托管
    "tutoring",  # 课后辅导
    "emergency_protection",  # 带离护送、应急处置
    "other",
)
REFERRAL_OUTCOMES = ("completed", "withdrawn")
CLOSURE_REASONS = ("aged_16", "parents_returned", "moved_away", "hardship_resolved")

OPEN, CLOSED = "open", "closed"
REFERRAL_OPEN, REFERRAL_CLOSED = "open", "closed"

# Sealed text as application.personal_data writes it: a version tag, then base64url.
SEALED_PREFIX = "sealed.v1."
_SEALED = re.compile(re.escape(SEALED_PREFIX) + r"[A-Za-z0-9_-]{40,}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_BIRTH_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")

# Crockford's base32: no I, L, O or U, so a number read aloud or copied by hand survives.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CASE_NUMBER = re.compile(r"ET\d{4}-[" + _CROCKFORD + r"]{8}")

# Which fields of which entry a correction may change.
CORRECTABLE: dict[str, frozenset[str]] = {
    # The exact birth date is corrected inside ``sealed``; its clear month alongside.
    "Registered": frozenset({"street", "community", "household_local", "birth_month", "sealed"}),
    "Classified": frozenset({"left_behind", "categories", "evidence"}),
    "Reassessed": frozenset({"left_behind", "categories", "evidence"}),
    "GuardianshipRecorded": frozenset({"arrangement", "sealed"}),
    "MandatoryReportFiled": frozenset({"reporter", "nature", "sealed"}),
    "Referred": frozenset({"duty"}),
    "ServiceProvided": frozenset({"kind", "sealed"}),
    "Visited": frozenset({"sealed"}),
    "EvaluatedAtYearEnd": frozenset({"grade", "score", "findings"}),
    "Reopened": frozenset({"reason"}),
    "PersonalDataErased": frozenset({"reason"}),
    # A correction's reason is sealed while the key lives, clear (and checked) after erasure.
    "EntryCorrected": frozenset({"reason", "sealed_reason"}),
}
# Changes that carry sealed text, and so need the case key alive.
SEALED_CHANGES = frozenset({"sealed", "sealed_reason"})
# Only these entries' times may be corrected: the others' times are what response times
# and the age rules were computed from, and a unit must not shorten its own response time.
RETIMABLE = frozenset({"GuardianshipRecorded", "Visited", "EvaluatedAtYearEnd", "Reopened"})


def case_id(case_number: str) -> UUID:
    """One case per case number: the store's key refuses a second."""
    return ledger_id("case", case_number)


def new_case_number(year: int) -> str:
    """Random, so the number says nothing of the child's name, ID number, address or order."""
    return f"ET{year:04d}-" + "".join(secrets.choice(_CROCKFORD) for _ in range(8))


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and _SEALED.fullmatch(value) is not None


def _check_sealed(sealed: object) -> None:
    if not is_sealed(sealed):
        raise InvalidCommand("personal_data_arrives_sealed", "个人信息须加密后记录")


def _check_code(value: object, known: tuple[str, ...], rule: str, what: str) -> None:
    if value not in known:
        raise InvalidCommand(rule, f"{what}须为{'、'.join(known)}之一")


def _check_text(value: object, rule: str, message: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidCommand(rule, message)


def _check_classification_values(
    left_behind: object, categories: object, evidence: object
) -> None:
    if not isinstance(left_behind, bool):
        raise InvalidCommand("left_behind_is_yes_or_no", "是否留守须为是或否")
    if not isinstance(categories, list) or any(c not in CATEGORIES for c in categories):
        raise InvalidCommand(
            "categories_are_known", f"困境儿童类别须为{'、'.join(CATEGORIES)}之一"
        )
    _check_evidence(evidence)


def _check_evidence(evidence: object) -> None:
    if not isinstance(evidence, list) or not all(
        isinstance(e, str) and _SHA256.fullmatch(e) for e in evidence
    ):
        # The documents are personal data and stay out of the ledger; it holds their hashes.
        raise InvalidCommand("evidence_is_content_hashes", "证明材料须以SHA-256摘要登记")


def _check_classification_rules(
    *, birth_date: date, household_local: bool, left_behind: bool, categories: list[str],
    day: date,
) -> None:
    if left_behind and not is_under(birth_date, 16, day):
        raise RuleViolated(
            "left_behind_child_is_under_16", "认定为留守儿童时，儿童须不满十六周岁"
        )
    if not household_local and set(categories) - NOT_BOUND_TO_HOUSEHOLD:
        raise RuleViolated(
            "difficulty_categories_need_local_household",
            "非本区户籍的儿童只能认定为临时困境儿童",
        )


@versioned(
    Registered=1, Classified=1, Reassessed=1, GuardianshipRecorded=1, MandatoryReportFiled=1,
    ReportAccepted=1, PoliceDispatched=1, Referred=1, ReferralClosed=1, ServiceProvided=2,
    Visited=1, EvaluatedAtYearEnd=1, Closed=1, Reopened=1, PersonalDataErased=1,
    EntryCorrected=1,
)
class ChildCase(LedgerAggregate):
    # Version 2 of the state (snapshots): each service keeps its evidence.
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        for service in state["services"]:
            service["evidence"] = []

    @staticmethod
    def create_id(*, case_number: str, **_: Any) -> UUID:
        return case_id(case_number)

    @classmethod
    def register(
        cls,
        stamp: Stamp,
        *,
        case_number: str,
        street: str,
        community: str,
        household_local: bool,
        birth_date: date,
        registering_unit: str,
        sealed: str,
    ) -> ChildCase:
        if not isinstance(case_number, str) or not _CASE_NUMBER.fullmatch(case_number):
            raise InvalidCommand("case_number_is_pseudonymous", "个案编号格式不正确")
        cls.check_registration(
            stamp, street=street, community=community, household_local=household_local,
            birth_date=birth_date, registering_unit=registering_unit,
        )
        _check_sealed(sealed)
        # The exact date is in ``sealed`` (the application seals it with the person); the
        # event keeps only its month, so erasure leaves no exact date behind.
        return cls(
            **stamp.fields(),
            case_number=case_number,
            street=street,
            community=community,
            household_local=household_local,
            birth_date=None,
            birth_month=month_of(birth_date),
            registering_unit=registering_unit,
            sealed=sealed,
        )

    @staticmethod
    def check_registration(
        stamp: Stamp, *, street: str, community: str, household_local: bool, birth_date: date,
        registering_unit: str,
    ) -> None:
        """The registration rules that need no sealed text: the application runs them before
        it makes the case's key, so a refused registration leaves no key behind."""
        _check_text(street, "case_needs_street", "须填写街道（乡镇）")
        _check_text(community, "case_needs_community", "须填写村（社区）")
        _check_text(registering_unit, "case_needs_registering_unit", "须写明登记单位")
        check_free_text("街道（乡镇）和村（社区）", street, community)
        if not isinstance(household_local, bool):
            raise InvalidCommand("household_local_is_yes_or_no", "是否本区户籍须为是或否")
        day = beijing_day(stamp.occurred_at)
        if birth_date > day:
            raise InvalidCommand("birth_date_not_in_future", "出生日期不能晚于登记日期")
        if not is_under(birth_date, 18, day):
            raise InvalidCommand("case_is_for_a_minor", "登记时儿童须未满十八周岁")

    @event("Registered")
    def __init__(
        self,
        *,
        user: str,
        unit: str,
        occurred_at: datetime,
        case_number: str,
        street: str,
        community: str,
        household_local: bool,
        birth_date: date | None,
        registering_unit: str,
        sealed: str,
        birth_month: str | None = None,
    ) -> None:
        self.case_number = case_number
        self.street = street
        self.community = community
        self.household_local = household_local
        # Cases registered before the date was sealed keep it here, in clear; newer ones None.
        self.birth_date = birth_date
        if birth_month is not None:
            # Set only when given, so a case folded from the older events has the same state
            # as its snapshots taken before (the class default answers for it).
            self.clear_birth_month = birth_month
        self.registering_unit = registering_unit
        self.sealed = sealed
        self.registered_at = occurred_at
        # Every classification and reassessment by version; the latest is the current one.
        self.assessments: dict[int, dict[str, Any]] = {}
        self.guardianships: list[dict[str, Any]] = []
        self.reports: dict[str, dict[str, Any]] = {}
        self.referrals: dict[str, dict[str, Any]] = {}
        self.services: list[dict[str, Any]] = []
        self.visits: list[dict[str, Any]] = []
        self.evaluations: dict[int, dict[str, Any]] = {}
        self.corrections: list[dict[str, Any]] = []
        self.closed = False
        self.closure_reason: str | None = None
        self.closed_at: datetime | None = None
        self.erased = False
        self.erasure_reason: str | None = None
        # What each version recorded, so corrections can name it and be checked. The library
        # has already set version 1 when this body runs, unlike in the other event methods.
        self.entries: dict[int, dict[str, Any]] = {
            self.version: {"type": "Registered", "user": user, "unit": unit}
        }

    # The year and month of birth kept in clear (see ``birth_month``).
    clear_birth_month: str | None = None

    # ---- queries -------------------------------------------------------------------

    @property
    def birth_month(self) -> str:
        """"YYYY-MM", in clear: enough for ages in reports, and what the age rules fall back
        on once the exact date is erased (see ``age_basis``)."""
        if self.clear_birth_month is not None:
            return self.clear_birth_month
        assert self.birth_date is not None
        return month_of(self.birth_date)

    def age_basis(self, birth_date: date | None) -> date:
        """The birth date the age rules count from. ``birth_date`` is the exact date the
        application opened from the seal (None when the key is gone). Without it only the
        month is known, and the child counts as born on its last day: as young as they can
        be, so no rule treats a child as older than they are."""
        if self.birth_date is not None:
            return self.birth_date
        if birth_date is not None:
            if month_of(birth_date) != self.birth_month:
                raise InvalidCommand("birth_date_agrees_with_month", "出生日期与登记的出生年月不一致")
            return birth_date
        year, month = (int(part) for part in self.birth_month.split("-"))
        return date(year, month, calendar.monthrange(year, month)[1])

    @property
    def status(self) -> str:
        return CLOSED if self.closed else OPEN

    @property
    def classification(self) -> dict[str, Any] | None:
        """The current classification: the latest of Classified and Reassessed."""
        return self.assessments[max(self.assessments)] if self.assessments else None

    @property
    def left_behind(self) -> bool:
        current = self.classification
        return bool(current and current["left_behind"])

    @property
    def categories(self) -> list[str]:
        current = self.classification
        return list(current["categories"]) if current else []

    def open_referral_units(self) -> set[str]:
        return {r["unit"] for r in self.referrals.values() if r["status"] == REFERRAL_OPEN}

    def is_referred_to(self, unit: str) -> bool:
        """Whether ``unit`` has an open referral: what lets an agency read personal data."""
        return unit in self.open_referral_units()

    def report(self, report_id: str) -> dict[str, Any]:
        try:
            return self.reports[report_id]
        except KeyError:
            raise LookupError(report_id) from None

    def referral(self, referral_id: str) -> dict[str, Any]:
        try:
            return self.referrals[referral_id]
        except KeyError:
            raise LookupError(referral_id) from None

    def recorder_of(self, version: int) -> dict[str, Any] | None:
        return self.entries.get(version)

    def _note_entry(self, kind: str, user: str, unit: str, **refs: Any) -> None:
        # The version being applied is the one after the current version.
        self.entries[self.version + 1] = {"type": kind, "user": user, "unit": unit, **refs}

    def _must_be_open(self, what: str) -> None:
        if self.closed:
            raise RuleViolated(
                "closed_case_takes_only_reopening_evaluation_correction",
                f"个案已结案，不能{what}；只能重新打开、年终考核或更正",
            )

    def _check_new_personal_data(self, sealed: object) -> None:
        if self.erased:
            raise RuleViolated(
                "no_personal_data_after_erasure", "个人信息已删除，不能再记录新的个人信息"
            )
        _check_sealed(sealed)

    # ---- classification ------------------------------------------------------------

    def classify(
        self, stamp: Stamp, *, left_behind: bool, categories: list[str], evidence: list[str],
        birth_date: date | None = None,
    ) -> None:
        self._must_be_open("认定类别")
        if self.assessments:
            raise RuleViolated("classify_once_then_reassess", "个案已认定类别，请用重新评估")
        categories = self._checked_assessment(
            stamp, left_behind, categories, evidence, needs_one=True, birth_date=birth_date
        )
        self._classified(
            **stamp.fields(), left_behind=left_behind, categories=categories, evidence=evidence
        )

    @event("Classified")
    def _classified(
        self,
        *,
        user: str,
        unit: str,
        occurred_at: datetime,
        left_behind: bool,
        categories: list[str],
        evidence: list[str],
    ) -> None:
        self._note_entry("Classified", user, unit)
        self._assess(occurred_at, left_behind, categories, evidence)

    def reassess(
        self, stamp: Stamp, *, left_behind: bool, categories: list[str], evidence: list[str],
        birth_date: date | None = None,
    ) -> None:
        """动态更新: may find the child no longer in need (no category), a reason to close."""
        self._must_be_open("重新评估")
        if not self.assessments:
            raise RuleViolated(
                "reassessment_follows_classification", "个案尚未认定类别，不能重新评估"
            )
        categories = self._checked_assessment(
            stamp, left_behind, categories, evidence, needs_one=False, birth_date=birth_date
        )
        self._reassessed(
            **stamp.fields(), left_behind=left_behind, categories=categories, evidence=evidence
        )

    @event("Reassessed")
    def _reassessed(
        self,
        *,
        user: str,
        unit: str,
        occurred_at: datetime,
        left_behind: bool,
        categories: list[str],
        evidence: list[str],
    ) -> None:
        self._note_entry("Reassessed", user, unit)
        self._assess(occurred_at, left_behind, categories, evidence)

    def _checked_assessment(
        self, stamp: Stamp, left_behind: bool, categories: list[str], evidence: list[str], *,
        needs_one: bool, birth_date: date | None,
    ) -> list[str]:
        """The rules a classification and a reassessment share; answers the categories, deduplicated."""
        categories = list(dict.fromkeys(categories)) if isinstance(categories, list) else categories
        _check_classification_values(left_behind, categories, evidence)
        if needs_one and not left_behind and not categories:
            raise InvalidCommand(
                "classification_names_a_category", "须认定为留守儿童或至少一类困境儿童"
            )
        _check_classification_rules(
            birth_date=self.age_basis(birth_date),
            household_local=self.household_local,
            left_behind=left_behind,
            categories=categories,
            day=beijing_day(stamp.occurred_at),
        )
        return categories

    def _assess(
        self, occurred_at: datetime, left_behind: bool, categories: list[str], evidence: list[str]
    ) -> None:
        self.assessments[self.version + 1] = {
            "version": self.version + 1,
            "left_behind": left_behind,
            "categories": list(categories),
            "evidence": list(evidence),
            "day": beijing_day(occurred_at),
        }

    # ---- guardianship --------------------------------------------------------------

    def record_guardianship(self, stamp: Stamp, *, arrangement: str, sealed: str) -> None:
        self._must_be_open("记录监护情况")
        _check_code(arrangement, GUARDIANSHIPS, "guardianship_arrangement_is_known", "监护类型")
        self._check_new_personal_data(sealed)
        self._guardianship_recorded(**stamp.fields(), arrangement=arrangement, sealed=sealed)

    @event("GuardianshipRecorded")
    def _guardianship_recorded(
        self, *, user: str, unit: str, occurred_at: datetime, arrangement: str, sealed: str
    ) -> None:
        self._note_entry("GuardianshipRecorded", user, unit)
        self.guardianships.append(
            {"version": self.version + 1, "arrangement": arrangement, "sealed": sealed,
             "occurred_at": occurred_at}
        )

    # ---- mandatory reports: 及时受理，第一时间出警 ------------------------------------------

    def file_mandatory_report(
        self, stamp: Stamp, *, reporter: str, nature: str, sealed: str | None = None
    ) -> str:
        """The stamp's ``occurred_at`` is when the report was made: response times count from it."""
        self._must_be_open("登记强制报告")
        _check_code(reporter, REPORTERS, "reporter_is_a_mandatory_reporter", "报告主体")
        _check_code(nature, NATURES, "report_nature_is_known", "报告事项")
        if sealed is not None:
            self._check_new_personal_data(sealed)
        report_id = f"MR{len(self.reports) + 1}"
        self._report_filed(
            **stamp.fields(), report_id=report_id, reporter=reporter, nature=nature, sealed=sealed
        )
        return report_id

    @event("MandatoryReportFiled")
    def _report_filed(
        self,
        *,
        user: str,
        unit: str,
        occurred_at: datetime,
        report_id: str,
        reporter: str,
        nature: str,
        sealed: str | None,
    ) -> None:
        self._note_entry("MandatoryReportFiled", user, unit, report_id=report_id)
        self.reports[report_id] = {
            "report_id": report_id,
            "reporter": reporter,
            "nature": nature,
            "sealed": sealed,
            "reported_at": occurred_at,
            "accepted_at": None,
            "accepted_by": None,
            "seconds_to_acceptance": None,
            "dispatched_at": None,
            "dispatched_by": None,
            "seconds_to_dispatch": None,
        }

    def accept_report(self, stamp: Stamp, *, report_id: str) -> int:
        """Answers the seconds from the report to its acceptance."""
        self._must_be_open("受理强制报告")
        report = self.report(report_id)
        if report["accepted_at"] is not None:
            raise RuleViolated("report_accepted_once", "该强制报告已受理")
        if stamp.occurred_at < report["reported_at"]:
            raise RuleViolated("acceptance_not_before_report", "受理时间不能早于报告时间")
        seconds = int((stamp.occurred_at - report["reported_at"]).total_seconds())
        self._report_accepted(**stamp.fields(), report_id=report_id, seconds_since_report=seconds)
        return seconds

    @event("ReportAccepted")
    def _report_accepted(
        self, *, user: str, unit: str, occurred_at: datetime, report_id: str,
        seconds_since_report: int,
    ) -> None:
        self._note_entry("ReportAccepted", user, unit, report_id=report_id)
        self.reports[report_id].update(
            accepted_at=occurred_at, accepted_by=unit, seconds_to_acceptance=seconds_since_report
        )

    def dispatch_police(self, stamp: Stamp, *, report_id: str) -> int:
        """Answers the seconds from the report to the dispatch (第一时间出警)."""
        self._must_be_open("登记出警")
        report = self.report(report_id)
        if report["accepted_at"] is None:
            raise RuleViolated(
                "report_accepted_before_dispatch", "强制报告须先受理，才能登记出警"
            )
        if report["dispatched_at"] is not None:
            raise RuleViolated("police_dispatched_once", "该强制报告已登记出警")
        if stamp.occurred_at < report["accepted_at"]:
            raise RuleViolated("dispatch_not_before_acceptance", "出警时间不能早于受理时间")
        seconds = int((stamp.occurred_at - report["reported_at"]).total_seconds())
        self._police_dispatched(
            **stamp.fields(), report_id=report_id, seconds_since_report=seconds
        )
        return seconds

    @event("PoliceDispatched")
    def _police_dispatched(
        self, *, user: str, unit: str, occurred_at: datetime, report_id: str,
        seconds_since_report: int,
    ) -> None:
        self._note_entry("PoliceDispatched", user, unit, report_id=report_id)
        self.reports[report_id].update(
            dispatched_at=occurred_at, dispatched_by=unit, seconds_to_dispatch=seconds_since_report
        )

    # ---- referrals and services ----------------------------------------------------

    def refer(self, stamp: Stamp, *, to_unit: str, duty: str) -> str:
        self._must_be_open("转介")
        _check_text(to_unit, "referral_names_a_unit", "转介须写明接收单位")
        _check_text(duty, "referral_names_a_duty", "转介须写明所依据的职责")
        check_free_text("转介职责", duty)
        if any(
            r["unit"] == to_unit and r["duty"] == duty and r["status"] == REFERRAL_OPEN
            for r in self.referrals.values()
        ):
            raise RuleViolated(
                "one_open_referral_per_unit_and_duty", "已就该职责向该单位转介，尚未结束"
            )
        referral_id = f"RF{len(self.referrals) + 1}"
        self._referred(**stamp.fields(), referral_id=referral_id, to_unit=to_unit, duty=duty)
        return referral_id

    @event("Referred")
    def _referred(
        self, *, user: str, unit: str, occurred_at: datetime, referral_id: str, to_unit: str,
        duty: str,
    ) -> None:
        self._note_entry("Referred", user, unit, referral_id=referral_id)
        self.referrals[referral_id] = {
            "referral_id": referral_id,
            "unit": to_unit,
            "duty": duty,
            "status": REFERRAL_OPEN,
            "referred_at": occurred_at,
            "closed_at": None,
            "outcome": None,
            "seconds_to_first_service": None,
        }

    def close_referral(self, stamp: Stamp, *, referral_id: str, outcome: str) -> None:
        """Ends the referral, and with it the referred unit's access to personal data."""
        self._must_be_open("结束转介")
        referral = self.referral(referral_id)
        if referral["status"] != REFERRAL_OPEN:
            raise RuleViolated("only_open_referral_closes", "该转介已结束")
        _check_code(outcome, REFERRAL_OUTCOMES, "referral_outcome_is_known", "转介结果")
        if stamp.occurred_at < referral["referred_at"]:
            raise RuleViolated("referral_closes_after_it_opens", "结束时间不能早于转介时间")
        self._referral_closed(**stamp.fields(), referral_id=referral_id, outcome=outcome)

    @event("ReferralClosed")
    def _referral_closed(
        self, *, user: str, unit: str, occurred_at: datetime, referral_id: str, outcome: str
    ) -> None:
        self._note_entry("ReferralClosed", user, unit, referral_id=referral_id)
        self.referrals[referral_id].update(
            status=REFERRAL_CLOSED, closed_at=occurred_at, outcome=outcome
        )

    def provide_service(
        self, stamp: Stamp, *, kind: str, referral_id: str | None = None,
        sealed: str | None = None, evidence: Sequence[str] = (),
    ) -> int | None:
        """The providing unit is the stamp's unit. Answers the seconds from the referral when
        this is the referred unit's first service for it (the unit's response time)."""
        self._must_be_open("登记服务")
        _check_code(kind, SERVICE_KINDS, "service_kind_is_known", "服务类型")
        seconds: int | None = None
        if referral_id is not None:
            referral = self.referral(referral_id)
            if referral["status"] != REFERRAL_OPEN:
                raise RuleViolated("service_answers_open_referral", "该转介已结束")
            if referral["unit"] != stamp.unit:
                raise RuleViolated(
                    "service_answers_referral_to_own_unit", "只能就转介给本单位的事项登记服务"
                )
            if stamp.occurred_at < referral["referred_at"]:
                raise RuleViolated("service_not_before_referral", "服务时间不能早于转介时间")
            if referral["seconds_to_first_service"] is None:
                seconds = int((stamp.occurred_at - referral["referred_at"]).total_seconds())
        if sealed is not None:
            self._check_new_personal_data(sealed)
        _check_evidence(list(evidence))
        self._service_provided(
            **stamp.fields(), kind=kind, referral_id=referral_id, sealed=sealed,
            seconds_since_referral=seconds, evidence=list(evidence),
        )
        return seconds

    class ServiceProvided(LedgerAggregate.Event):
        """Version 2 names the files that show the service given (the child's, by digest)."""

        class_version = 2
        kind: str
        referral_id: str | None
        sealed: str | None
        seconds_since_referral: int | None
        evidence: list[str]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["evidence"] = []  # given before services named evidence

    @event(ServiceProvided)
    def _service_provided(
        self,
        *,
        user: str,
        unit: str,
        occurred_at: datetime,
        kind: str,
        referral_id: str | None,
        sealed: str | None,
        seconds_since_referral: int | None,
        evidence: list[str],
    ) -> None:
        self._note_entry("ServiceProvided", user, unit)
        self.services.append(
            {"version": self.version + 1, "unit": unit, "kind": kind, "referral_id": referral_id,
             "sealed": sealed, "occurred_at": occurred_at,
             "seconds_since_referral": seconds_since_referral, "evidence": list(evidence)}
        )
        if seconds_since_referral is not None:
            self.referrals[referral_id]["seconds_to_first_service"] = seconds_since_referral  # type: ignore[index]

    def visit(self, stamp: Stamp, *, sealed: str | None = None) -> None:
        self._must_be_open("登记走访")
        if sealed is not None:
            self._check_new_personal_data(sealed)
        self._visited(**stamp.fields(), sealed=sealed)

    @event("Visited")
    def _visited(self, *, user: str, unit: str, occurred_at: datetime, sealed: str | None) -> None:
        self._note_entry("Visited", user, unit)
        self.visits.append(
            {"version": self.version + 1, "unit": unit, "sealed": sealed, "occurred_at": occurred_at}
        )

    # ---- evaluation, closure, erasure ----------------------------------------------

    def evaluate(
        self, stamp: Stamp, *, year: int, grade: str, score: float, findings: str,
        rubric_version: str,
    ) -> None:
        check_grade(grade, score)
        check_free_text("考核意见", findings)
        if year in self.evaluations:
            raise RuleViolated("one_evaluation_per_year", f"该个案{year}年度已有年终考核，请用更正")
        self._evaluated(
            **stamp.fields(), year=year, grade=grade, score=score, findings=findings,
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
            "year": year, "grade": grade, "score": score, "findings": findings,
            "rubric_version": rubric_version,
        }

    def close(self, stamp: Stamp, *, reason: str, birth_date: date | None = None) -> None:
        self._must_be_open("再次结案")
        _check_code(reason, CLOSURE_REASONS, "closure_reason_is_known", "结案原因")
        if self.open_referral_units():
            raise RuleViolated("no_closure_while_referral_open", "仍有未结束的转介，不能结案")
        if reason == "aged_16" and is_under(
            self.age_basis(birth_date), 16, beijing_day(stamp.occurred_at)
        ):
            raise RuleViolated("aged_16_closure_needs_child_of_16", "儿童尚未满十六周岁")
        self._closed(**stamp.fields(), reason=reason)

    @event("Closed")
    def _closed(self, *, user: str, unit: str, occurred_at: datetime, reason: str) -> None:
        self._note_entry("Closed", user, unit)
        self.closed = True
        self.closure_reason = reason
        self.closed_at = occurred_at

    def reopen(self, stamp: Stamp, *, reason: str) -> None:
        if not self.closed:
            raise RuleViolated("only_closed_case_reopens", "个案尚未结案，无需重新打开")
        _check_text(reason, "reopening_needs_reason", "重新打开须说明理由")
        check_free_text("重新打开理由", reason)
        self._reopened(**stamp.fields(), reason=reason)

    @event("Reopened")
    def _reopened(self, *, user: str, unit: str, occurred_at: datetime, reason: str) -> None:
        self._note_entry("Reopened", user, unit)
        self.closed = False
        self.closure_reason = None
        self.closed_at = None

    def erase_personal_data(self, stamp: Stamp, *, reason: str) -> None:
        """Records that the case key was destroyed; the application deletes the key first.

        Allowed on a closed case too: the end of the work is when erasure usually comes."""
        if self.erased:
            raise RuleViolated("personal_data_erased_once", "个人信息已删除")
        _check_text(reason, "erasure_needs_reason", "删除个人信息须说明理由")
        # The reason outlives the key, so it is the one text that must stay readable: clear.
        check_free_text("删除理由", reason)
        self._erased(**stamp.fields(), reason=reason)

    @event("PersonalDataErased")
    def _erased(self, *, user: str, unit: str, occurred_at: datetime, reason: str) -> None:
        self._note_entry("PersonalDataErased", user, unit)
        self.erased = True
        self.erasure_reason = reason

    # ---- corrections ---------------------------------------------------------------

    def correct(
        self, stamp: Stamp, *, corrected_version: int, position: int, changes: dict[str, Any],
        reason: str | None = None, sealed_reason: str | None = None,
        birth_date: date | None = None,
    ) -> None:
        """The reason arrives sealed while the case key lives (``sealed_reason``), and in
        clear only once it is erased. ``birth_date`` is the exact date the corrected case
        has (the new one when the correction changes it), for the age rules."""
        entry = self.entries.get(corrected_version)
        if entry is None:
            raise RuleViolated("correction_names_earlier_event", "更正须指向本个案较早的一条记录")
        if self.erased:
            if sealed_reason is not None:
                self._check_new_personal_data(sealed_reason)
            _check_text(reason, "correction_needs_reason", "更正须说明理由")
            check_free_text("更正理由", reason)
        else:
            if reason is not None:
                raise InvalidCommand("case_free_text_arrives_sealed", "个案的更正理由须加密后记录")
            if sealed_reason is None:
                raise InvalidCommand("correction_needs_reason", "更正须说明理由")
            _check_sealed(sealed_reason)
        if not isinstance(changes, dict) or not changes:
            raise InvalidCommand("correction_needs_changes", "更正须写明要更正的内容")
        kind = entry["type"]
        allowed = CORRECTABLE.get(kind, frozenset()) | (
            {"occurred_at"} if kind in RETIMABLE else set()
        )
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise InvalidCommand(
                "correction_changes_correctable_fields",
                f"该记录不能更正这些字段：{'、'.join(unknown)}",
            )
        for key in SEALED_CHANGES & changes.keys():
            self._check_new_personal_data(changes[key])
        if kind == "EntryCorrected" and "reason" in changes and not self.erased:
            raise InvalidCommand("case_free_text_arrives_sealed", "个案的更正理由须加密后记录")
        if "birth_month" in changes and "sealed" not in changes:
            # The exact date lives in the sealed person fields: both change together.
            raise InvalidCommand(
                "birth_date_corrected_with_personal_fields", "出生日期须随个人信息一并更正"
            )
        changes = _checked_changes(changes, recorded_at=stamp.recorded_at)
        if "birth_month" in changes:
            if birth_date is None or month_of(birth_date) != changes["birth_month"]:
                raise InvalidCommand("birth_date_agrees_with_month", "出生日期与登记的出生年月不一致")
            basis = birth_date
        else:
            basis = self.age_basis(birth_date)
        self._check_corrected_state(kind, corrected_version, _corrected_values(changes), basis)
        self._entry_corrected(
            **stamp.fields(),
            corrected_version=corrected_version,
            corrected_position=position,
            corrected_type=kind,
            changes=changes,
            reason=reason,
            sealed_reason=sealed_reason,
        )

    def _check_corrected_state(
        self, kind: str, version: int, values: dict[str, Any], birth_date: date
    ) -> None:
        """A correction may not leave the case in a state its rules would have refused;
        ``birth_date`` is the one the corrected case has."""
        if kind == "EvaluatedAtYearEnd" and ({"grade", "score"} & values.keys()):
            current = self.evaluations[self.entries[version]["year"]]
            check_grade(values.get("grade", current["grade"]), values.get("score", current["score"]))
        if kind not in ("Registered", "Classified", "Reassessed"):
            return
        household_local = (
            values.get("household_local", self.household_local)
            if kind == "Registered" else self.household_local
        )
        if kind == "Registered" and "birth_month" in values:
            day = beijing_day(self.registered_at)
            if birth_date > day:
                raise InvalidCommand("birth_date_not_in_future", "出生日期不能晚于登记日期")
            if not is_under(birth_date, 18, day):
                raise InvalidCommand("case_is_for_a_minor", "登记时儿童须未满十八周岁")
        for assessed_version, assessment in self.assessments.items():
            proposed = {**assessment, **values} if assessed_version == version else assessment
            if assessed_version == version and kind == "Classified" and not (
                proposed["left_behind"] or proposed["categories"]
            ):
                raise InvalidCommand(
                    "classification_names_a_category", "须认定为留守儿童或至少一类困境儿童"
                )
            _check_classification_rules(
                birth_date=birth_date,
                household_local=household_local,
                left_behind=proposed["left_behind"],
                categories=proposed["categories"],
                day=assessment["day"],
            )

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
        reason: str | None,
        sealed_reason: str | None = None,
    ) -> None:
        self._note_entry("EntryCorrected", user, unit)
        correction = {
            "version": self.version + 1,
            "corrected_version": corrected_version,
            "corrected_position": corrected_position,
            "changes": dict(changes),
            "reason": reason,
        }
        if sealed_reason is not None:
            # Only when present, so older corrections fold to the state their snapshots hold.
            correction["sealed_reason"] = sealed_reason
        self.corrections.append(correction)
        self._apply_changes(corrected_version, _corrected_values(changes))

    def _apply_changes(self, version: int, values: dict[str, Any]) -> None:
        entry = self.entries[version]
        kind = entry["type"]
        values = {k: v for k, v in values.items() if k != "occurred_at"}
        if kind == "Registered":
            for key, value in values.items():
                if key == "birth_month":
                    # The exact date is now only in the corrected seal.
                    self.clear_birth_month, self.birth_date = value, None
                else:
                    setattr(self, key, value)
        elif kind in ("Classified", "Reassessed"):
            self.assessments[version].update(values)
        elif kind == "GuardianshipRecorded":
            self._by_version(self.guardianships, version).update(values)
        elif kind == "MandatoryReportFiled":
            self.reports[entry["report_id"]].update(values)
        elif kind == "Referred":
            self.referrals[entry["referral_id"]].update(values)
        elif kind == "ServiceProvided":
            self._by_version(self.services, version).update(values)
        elif kind == "Visited":
            self._by_version(self.visits, version).update(values)
        elif kind == "EvaluatedAtYearEnd":
            self.evaluations[entry["year"]].update(values)
        elif kind == "PersonalDataErased" and "reason" in values:
            self.erasure_reason = values["reason"]

    @staticmethod
    def _by_version(items: list[dict[str, Any]], version: int) -> dict[str, Any]:
        return next(item for item in items if item["version"] == version)


def _corrected_values(changes: dict[str, Any]) -> dict[str, Any]:
    """Changes are stored as JSON values, so dates arrive as ISO text (``birth_date`` only in
    corrections recorded before the exact date was sealed)."""
    values = dict(changes)
    if "birth_date" in values:
        values["birth_date"] = date.fromisoformat(str(values["birth_date"]))
    return values


def _checked_changes(changes: dict[str, Any], *, recorded_at: datetime) -> dict[str, Any]:
    """Corrected values must be as valid as the originals; answers them as they are stored."""
    try:
        if "birth_month" in changes and not (
            isinstance(changes["birth_month"], str) and _BIRTH_MONTH.fullmatch(changes["birth_month"])
        ):
            raise ValueError("birth_month")
        if "occurred_at" in changes:
            claimed = datetime.fromisoformat(str(changes["occurred_at"]))
            if claimed.tzinfo is None or claimed > recorded_at:
                raise ValueError("occurred_at")
    except (TypeError, ValueError):
        raise InvalidCommand("correction_values_valid", "更正后的值格式不正确") from None
    for key in ("household_local", "left_behind"):
        if key in changes and not isinstance(changes[key], bool):
            raise InvalidCommand("correction_values_valid", "更正后的值格式不正确")
    if {"left_behind", "categories", "evidence"} & changes.keys():
        _check_classification_values(
            changes.get("left_behind", False), changes.get("categories", []),
            changes.get("evidence", []),
        )
    for key, known, rule, what in (
        ("arrangement", GUARDIANSHIPS, "guardianship_arrangement_is_known", "监护类型"),
        ("reporter", REPORTERS, "reporter_is_a_mandatory_reporter", "报告主体"),
        ("nature", NATURES, "report_nature_is_known", "报告事项"),
        ("kind", SERVICE_KINDS, "service_kind_is_known", "服务类型"),
    ):
        if key in changes:
            _check_code(changes[key], known, rule, what)
    for key in ("street", "community", "duty", "findings", "reason"):
        if key in changes:
            _check_text(changes[key], "correction_values_valid", "更正后的值格式不正确")
            check_free_text("更正内容", changes[key])
    if "score" in changes and (
        isinstance(changes["score"], bool) or not isinstance(changes["score"], (int, float))
    ):
        raise InvalidCommand("correction_values_valid", "更正后的值格式不正确")
    if "categories" in changes:
        return {**changes, "categories": list(dict.fromkeys(changes["categories"]))}
    return dict(changes)
