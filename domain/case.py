"""儿童个案: one child in the information ledger (信息台账), and what each unit did about them.

One aggregate, one consistency boundary, composed of the modules that hold its concerns:
classification (domain.assessment), mandatory reports and the police response
(domain.mandatory_report), referrals and services (domain.referral), personal data and
its erasure (domain.case_personal), evaluations (domain.evaluation) and corrections
(domain.case_corrections). Personal data never reaches them in clear: the events carry
only the opaque ``sealed`` text, and the year and month of birth.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain import assessment, case_personal, evaluation, guardianship, mandatory_report, referral, referral_acceptance
from domain.base import LedgerAggregate, RuleViolated, Stamp, check_code, check_text, found, versioned
from domain.case_corrections import CORRECTIONS, checked_changes
from domain.case_personal import case_id, check_new_personal_data, month_of
from domain.correction import CorrectableAggregate
from domain.free_text import check_free_text
from domain.person import beijing_day, is_under

CLOSURE_REASONS = ("aged_16", "parents_returned", "moved_away", "hardship_resolved")
OPEN, CLOSED = "open", "closed"


@versioned(Registered=1, Classified=1, Reassessed=1, GuardianshipRecorded=1, MandatoryReportFiled=1,
           ReportAccepted=1, PoliceDispatched=1, Referred=1, ReferralClosed=1, ServiceProvided=2, Visited=1,
           EvaluatedAtYearEnd=1, Closed=1, Reopened=1, PersonalDataErased=1, EntryCorrected=1, ReferralAccepted=1)
class ChildCase(referral_acceptance.ReferralAcceptance, evaluation.YearEndEvaluations, CorrectableAggregate):
    evaluated_noun = "个案"
    closed_rule = "closed_case_takes_only_reopening_evaluation_correction"
    closed_noun = "个案已结案"
    correction_table = CORRECTIONS
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
        cls, stamp: Stamp, *, case_number: str, street: str, community: str,
        household_local: bool, birth_date: date, registering_unit: str, sealed: str,
    ) -> ChildCase:
        case_personal.check_case_number(case_number)
        case_personal.check_registration(
            stamp, street=street, community=community, household_local=household_local,
            birth_date=birth_date, registering_unit=registering_unit,
        )
        case_personal.check_sealed(sealed)
        # The exact date is in ``sealed`` (the application seals it with the person); the
        # event keeps only its month, so erasure leaves no exact date behind.
        return cls(
            **stamp.fields(), case_number=case_number, street=street, community=community,
            household_local=household_local, birth_date=None, birth_month=month_of(birth_date),
            registering_unit=registering_unit, sealed=sealed,
        )

    @event("Registered")
    def __init__(
        self, *, user: str, unit: str, occurred_at: datetime, case_number: str, street: str,
        community: str, household_local: bool, birth_date: date | None, registering_unit: str,
        sealed: str, birth_month: str | None = None,
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
        # Every classification and reassessment by version (domain.assessment).
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
        return case_personal.birth_month(self.clear_birth_month, self.birth_date)

    def age_basis(self, birth_date: date | None) -> date:
        """The birth date the age rules count from, given the exact date the application
        opened from the seal (None when the key is gone)."""
        return case_personal.age_basis(self.birth_date, self.birth_month, birth_date)

    @property
    def status(self) -> str:
        return CLOSED if self.closed else OPEN

    @property
    def classification(self) -> dict[str, Any] | None:
        """The current classification: the latest of Classified and Reassessed."""
        return assessment.current(self.assessments)

    @property
    def left_behind(self) -> bool:
        return bool(self.classification and self.classification["left_behind"])

    @property
    def categories(self) -> list[str]:
        return list(self.classification["categories"]) if self.classification else []

    def open_referral_units(self) -> set[str]:
        return referral.open_units(self.referrals)

    def is_referred_to(self, unit: str) -> bool:
        """Whether ``unit`` has an open referral: what lets an agency read personal data."""
        return unit in self.open_referral_units()

    def report(self, report_id: str) -> dict[str, Any]:
        return found(self.reports, report_id)

    def referral(self, referral_id: str) -> dict[str, Any]:
        return found(self.referrals, referral_id)

    # ---- classification ------------------------------------------------------------

    def classify(
        self, stamp: Stamp, *, left_behind: bool, categories: list[str], evidence: list[str],
        birth_date: date | None = None,
    ) -> None:
        self._must_be_open("认定类别")
        if self.assessments:
            raise RuleViolated("classify_once_then_reassess", "个案已认定类别，请用重新评估")
        self._classified(**self._assessment(stamp, left_behind, categories, evidence, True, birth_date))

    @event("Classified")
    def _classified(
        self, *, user: str, unit: str, occurred_at: datetime, left_behind: bool,
        categories: list[str], evidence: list[str],
    ) -> None:
        self._note_entry("Classified", user, unit)
        assessment.add(self.assessments, self.version + 1, left_behind, categories, evidence, occurred_at)

    def reassess(
        self, stamp: Stamp, *, left_behind: bool, categories: list[str], evidence: list[str],
        birth_date: date | None = None,
    ) -> None:
        """动态更新: may find the child no longer in need (no category), a reason to close."""
        self._must_be_open("重新评估")
        if not self.assessments:
            raise RuleViolated("reassessment_follows_classification", "个案尚未认定类别，不能重新评估")
        self._reassessed(**self._assessment(stamp, left_behind, categories, evidence, False, birth_date))

    @event("Reassessed")
    def _reassessed(
        self, *, user: str, unit: str, occurred_at: datetime, left_behind: bool,
        categories: list[str], evidence: list[str],
    ) -> None:
        self._note_entry("Reassessed", user, unit)
        assessment.add(self.assessments, self.version + 1, left_behind, categories, evidence, occurred_at)

    def _assessment(
        self, stamp: Stamp, left_behind: bool, categories: list[str], evidence: list[str],
        needs_one: bool, birth_date: date | None,
    ) -> dict[str, Any]:
        """The event of a classification or a reassessment, once checked."""
        categories = assessment.checked(
            left_behind, categories, evidence, needs_one=needs_one,
            birth_date=self.age_basis(birth_date), household_local=self.household_local,
            day=beijing_day(stamp.occurred_at),
        )
        return {**stamp.fields(), "left_behind": left_behind, "categories": categories, "evidence": evidence}

    # ---- guardianship --------------------------------------------------------------

    def record_guardianship(self, stamp: Stamp, *, arrangement: str, sealed: str) -> None:
        self._must_be_open("记录监护情况")
        guardianship.check_arrangement(arrangement)
        check_new_personal_data(self.erased, sealed)
        self._guardianship_recorded(**stamp.fields(), arrangement=arrangement, sealed=sealed)

    @event("GuardianshipRecorded")
    def _guardianship_recorded(
        self, *, user: str, unit: str, occurred_at: datetime, arrangement: str, sealed: str
    ) -> None:
        self._note_entry("GuardianshipRecorded", user, unit)
        self.guardianships.append(guardianship.new_guardianship(self.version + 1, arrangement, sealed, occurred_at))

    # ---- mandatory reports: 及时受理，第一时间出警 ------------------------------------------

    def file_mandatory_report(self, stamp: Stamp, *, reporter: str, nature: str, sealed: str | None = None) -> str:
        """The stamp's ``occurred_at`` is when the report was made: response times count from it."""
        self._must_be_open("登记强制报告")
        mandatory_report.check_codes(reporter, nature)
        check_new_personal_data(self.erased, sealed, optional=True)
        report_id = f"MR{len(self.reports) + 1}"
        self._report_filed(**stamp.fields(), report_id=report_id, reporter=reporter, nature=nature, sealed=sealed)
        return report_id

    @event("MandatoryReportFiled")
    def _report_filed(
        self, *, user: str, unit: str, occurred_at: datetime, report_id: str, reporter: str,
        nature: str, sealed: str | None,
    ) -> None:
        self._note_entry("MandatoryReportFiled", user, unit, report_id=report_id)
        self.reports[report_id] = mandatory_report.new_report(report_id, reporter, nature, sealed, occurred_at)

    def accept_report(self, stamp: Stamp, *, report_id: str) -> int:
        """Answers the seconds from the report to its acceptance."""
        self._must_be_open("受理强制报告")
        seconds = mandatory_report.seconds_to_acceptance(self.report(report_id), stamp)
        self._report_accepted(**stamp.fields(), report_id=report_id, seconds_since_report=seconds)
        return seconds

    @event("ReportAccepted")
    def _report_accepted(
        self, *, user: str, unit: str, occurred_at: datetime, report_id: str,
        seconds_since_report: int,
    ) -> None:
        self._note_entry("ReportAccepted", user, unit, report_id=report_id)
        mandatory_report.accepted(self.reports[report_id], occurred_at, unit, seconds_since_report)

    def dispatch_police(self, stamp: Stamp, *, report_id: str) -> int:
        """Answers the seconds from the report to the dispatch (第一时间出警)."""
        self._must_be_open("登记出警")
        seconds = mandatory_report.seconds_to_dispatch(self.report(report_id), stamp)
        self._police_dispatched(**stamp.fields(), report_id=report_id, seconds_since_report=seconds)
        return seconds

    @event("PoliceDispatched")
    def _police_dispatched(
        self, *, user: str, unit: str, occurred_at: datetime, report_id: str,
        seconds_since_report: int,
    ) -> None:
        self._note_entry("PoliceDispatched", user, unit, report_id=report_id)
        mandatory_report.dispatched(self.reports[report_id], occurred_at, unit, seconds_since_report)

    # ---- referrals and services ----------------------------------------------------

    def refer(self, stamp: Stamp, *, to_unit: str, duty: str) -> str:
        self._must_be_open("转介")
        referral.check_new(self.referrals, to_unit, duty)
        referral_id = f"RF{len(self.referrals) + 1}"
        self._referred(**stamp.fields(), referral_id=referral_id, to_unit=to_unit, duty=duty)
        return referral_id

    @event("Referred")
    def _referred(
        self, *, user: str, unit: str, occurred_at: datetime, referral_id: str, to_unit: str,
        duty: str,
    ) -> None:
        self._note_entry("Referred", user, unit, referral_id=referral_id)
        self.referrals[referral_id] = referral.new_referral(referral_id, to_unit, duty, occurred_at)

    def close_referral(self, stamp: Stamp, *, referral_id: str, outcome: str) -> None:
        """Ends the referral, and with it the referred unit's access to personal data."""
        self._must_be_open("结束转介")
        referral.check_closing(self.referral(referral_id), outcome, stamp)
        self._referral_closed(**stamp.fields(), referral_id=referral_id, outcome=outcome)

    @event("ReferralClosed")
    def _referral_closed(
        self, *, user: str, unit: str, occurred_at: datetime, referral_id: str, outcome: str
    ) -> None:
        self._note_entry("ReferralClosed", user, unit, referral_id=referral_id)
        self.referrals[referral_id].update(status=referral.REFERRAL_CLOSED, closed_at=occurred_at, outcome=outcome)

    def provide_service(
        self, stamp: Stamp, *, kind: str, referral_id: str | None = None, sealed: str | None = None,
        evidence: Sequence[str] = (),
    ) -> int | None:
        """The providing unit is the stamp's unit. Answers the seconds from the referral when
        this is the referred unit's first service for it (the unit's response time)."""
        self._must_be_open("登记服务")
        referral.check_kind(kind)
        seconds = None
        if referral_id is not None:
            seconds = referral.seconds_to_first_service(self.referral(referral_id), stamp)
        check_new_personal_data(self.erased, sealed, optional=True)
        assessment.check_evidence(list(evidence))
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
        self, *, user: str, unit: str, occurred_at: datetime, kind: str,
        referral_id: str | None, sealed: str | None, seconds_since_referral: int | None,
        evidence: list[str],
    ) -> None:
        self._note_entry("ServiceProvided", user, unit)
        self.services.append(referral.new_service(
            self.version + 1, unit, kind, referral_id, sealed, occurred_at, seconds_since_referral, evidence
        ))
        if referral_id is not None and seconds_since_referral is not None:
            self.referrals[referral_id]["seconds_to_first_service"] = seconds_since_referral

    def visit(self, stamp: Stamp, *, sealed: str | None = None) -> None:
        self._must_be_open("登记走访")
        check_new_personal_data(self.erased, sealed, optional=True)
        self._visited(**stamp.fields(), sealed=sealed)

    @event("Visited")
    def _visited(self, *, user: str, unit: str, occurred_at: datetime, sealed: str | None) -> None:
        self._note_entry("Visited", user, unit)
        self.visits.append(
            {"version": self.version + 1, "unit": unit, "sealed": sealed, "occurred_at": occurred_at}
        )

    # ---- evaluation, closure, erasure ----------------------------------------------

    def close(self, stamp: Stamp, *, reason: str, birth_date: date | None = None) -> None:
        self._must_be_open("再次结案")
        check_code(reason, CLOSURE_REASONS, "closure_reason_is_known", "结案原因")
        if self.open_referral_units():
            raise RuleViolated("no_closure_while_referral_open", "仍有未结束的转介，不能结案")
        if reason == "aged_16" and is_under(self.age_basis(birth_date), 16, beijing_day(stamp.occurred_at)):
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
        check_text(reason, "reopening_needs_reason", "重新打开须说明理由")
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
        case_personal.check_erasure(self.erased, reason)
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
        clear only once it is erased (domain.case_corrections)."""
        kind = CORRECTIONS.entry(self.entries, corrected_version)["type"]
        changes = checked_changes(
            self, stamp, kind, corrected_version, changes, reason=reason,
            sealed_reason=sealed_reason, birth_date=birth_date,
        )
        self._entry_corrected(
            **stamp.fields(), corrected_version=corrected_version, corrected_position=position,
            corrected_type=kind, changes=changes, reason=reason, sealed_reason=sealed_reason,
        )

    @event("EntryCorrected")
    def _entry_corrected(
        self, *, user: str, unit: str, occurred_at: datetime, corrected_version: int,
        corrected_position: int, corrected_type: str, changes: dict[str, Any],
        reason: str | None, sealed_reason: str | None = None,
    ) -> None:
        self._correction_applied(
            user, unit, corrected_version=corrected_version, corrected_position=corrected_position,
            changes=changes, reason=reason, sealed_reason=sealed_reason,
        )
