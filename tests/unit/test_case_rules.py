"""The ChildCase rules, each refused command leaving the case as it was."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from domain.assessment import CATEGORIES
from domain.base import DomainError, InvalidCommand, RuleViolated, Stamp, recording_at
from domain.case import ChildCase
from domain.case_personal import SEALED_PREFIX, case_id, new_case_number

T0 = datetime(2024, 3, 1, 2, 0, tzinfo=timezone.utc)  # 10:00 in Beijing
SEALED = SEALED_PREFIX + "A" * 64
OTHER_SEALED = SEALED_PREFIX + "B" * 64
REASON = SEALED_PREFIX + "R" * 64  # a correction reason, sealed by the application
EVIDENCE = ["ab" * 32]
BORN_2008 = date(2008, 3, 10)


def stamp(at: datetime = T0, *, unit: str = "civil", occurred_at: datetime | None = None) -> Stamp:
    return Stamp.make(user=f"{unit}-clerk", unit=unit, recorded_at=at, occurred_at=occurred_at)


def register(
    *, birth_date: date = date(2015, 6, 1), household_local: bool = True, at: datetime = T0,
    case_number: str = "ET2024-7K3M9QXA",
) -> ChildCase:
    with recording_at(at):
        return ChildCase.register(
            stamp(at),
            case_number=case_number,
            street="径河街道",
            community="三店村",
            household_local=household_local,
            birth_date=birth_date,
            registering_unit="civil",
            sealed=SEALED,
        )


def refused(
    case: ChildCase, error: type[DomainError], rule: str, command: Callable[[], Any]
) -> None:
    version, pending = case.version, len(case.pending_events)
    with pytest.raises(error) as raised:
        command()
    assert raised.value.rule == rule
    assert (case.version, len(case.pending_events)) == (version, pending)


def state(case: ChildCase) -> dict[str, Any]:
    return {k: v for k, v in vars(case).items() if k != "_pending_events"}


def replayed(case: ChildCase) -> ChildCase:
    copy = None
    for e in case.pending_events:
        copy = e.mutate(copy)
    assert isinstance(copy, ChildCase)
    return copy


# ---- registration and identity ---------------------------------------------------------


def test_case_id_is_derived_from_the_case_number_alone() -> None:
    case = register()
    assert case.id == case_id("ET2024-7K3M9QXA")
    assert case_id("ET2024-7K3M9QXA") != case_id("ET2024-7K3M9QXB")


def test_new_case_numbers_are_random_and_well_formed() -> None:
    numbers = {new_case_number(2024) for _ in range(200)}
    assert len(numbers) == 200
    assert all(re.fullmatch(r"ET2024-[0-9A-HJKMNP-TV-Z]{8}", n) for n in numbers)
    register(case_number=numbers.pop())


@pytest.mark.parametrize("number", ["11010519491231002X", "张三-2024", "ET2024-1", ""])
def test_a_case_number_that_is_not_pseudonymous_is_refused(number: str) -> None:
    with pytest.raises(InvalidCommand) as raised:
        register(case_number=number)
    assert raised.value.rule == "case_number_is_pseudonymous"
    assert number not in raised.value.message or not number


@pytest.mark.parametrize("clear", ["张三", '{"name": "张三"}', SEALED_PREFIX + "短"])
def test_registration_refuses_personal_data_that_is_not_sealed(clear: str) -> None:
    with pytest.raises(InvalidCommand) as raised:
        ChildCase.register(
            stamp(), case_number="ET2024-7K3M9QXA", street="径河街道", community="三店村",
            household_local=True, birth_date=date(2015, 6, 1), registering_unit="civil",
            sealed=clear,
        )
    assert raised.value.rule == "personal_data_arrives_sealed"
    assert "张三" not in raised.value.message


def test_a_case_is_registered_only_for_a_minor() -> None:
    with pytest.raises(InvalidCommand) as raised:
        register(birth_date=date(2006, 2, 29 - 1))  # 18 on 28 Feb 2024, adult from 29 Feb
    assert raised.value.rule == "case_is_for_a_minor"
    register(birth_date=date(2006, 3, 1))  # 18th birthday is today: still a minor
    with pytest.raises(InvalidCommand) as future:
        register(birth_date=date(2024, 3, 2))
    assert future.value.rule == "birth_date_not_in_future"


# ---- classification --------------------------------------------------------------------


def test_left_behind_classification_needs_the_child_under_16_on_that_day() -> None:
    case = register(birth_date=date(2008, 3, 10))
    sixteenth = datetime(2024, 3, 10, 3, 0, tzinfo=timezone.utc)
    day_after = sixteenth + timedelta(days=1)
    refused(
        case, RuleViolated, "left_behind_child_is_under_16",
        lambda: case.classify(stamp(day_after), left_behind=True, categories=[], evidence=EVIDENCE,
                              birth_date=BORN_2008),
    )
    case.classify(stamp(sixteenth), left_behind=True, categories=[], evidence=EVIDENCE,
                  birth_date=BORN_2008)
    assert case.left_behind is True


def test_the_day_of_a_classification_is_the_day_in_beijing() -> None:
    case = register(birth_date=date(2008, 3, 10))
    # 16:30 UTC on the 16th birthday is already the next day in Beijing.
    late_evening = datetime(2024, 3, 10, 16, 30, tzinfo=timezone.utc)
    refused(
        case, RuleViolated, "left_behind_child_is_under_16",
        lambda: case.classify(
            stamp(late_evening), left_behind=True, categories=[], evidence=EVIDENCE,
            birth_date=BORN_2008,
        ),
    )


def test_reassessment_applies_the_age_rule_on_its_own_day() -> None:
    case = register(birth_date=date(2008, 3, 10))
    case.classify(stamp(), left_behind=True, categories=[], evidence=EVIDENCE)
    later = datetime(2024, 6, 1, tzinfo=timezone.utc)
    refused(
        case, RuleViolated, "left_behind_child_is_under_16",
        lambda: case.reassess(stamp(later), left_behind=True, categories=[], evidence=[],
                              birth_date=BORN_2008),
    )
    case.reassess(stamp(later), left_behind=False, categories=[], evidence=[])
    assert (case.left_behind, case.categories) == (False, [])


@pytest.mark.parametrize("category", sorted(set(CATEGORIES) - {"temporary_crisis"}))
def test_difficulty_categories_other_than_temporary_crisis_need_local_household(
    category: str,
) -> None:
    case = register(household_local=False)
    refused(
        case, RuleViolated, "difficulty_categories_need_local_household",
        lambda: case.classify(
            stamp(), left_behind=False, categories=["temporary_crisis", category],
            evidence=EVIDENCE,
        ),
    )


def test_temporary_crisis_is_open_to_a_child_registered_elsewhere() -> None:
    case = register(household_local=False)
    case.classify(stamp(), left_behind=False, categories=["temporary_crisis"], evidence=EVIDENCE)
    local = register(household_local=True)
    local.classify(stamp(), left_behind=False, categories=["poverty", "poverty"], evidence=[])
    assert local.categories == ["poverty"]


def test_a_case_is_classified_once_then_reassessed() -> None:
    case = register()
    refused(
        case, RuleViolated, "reassessment_follows_classification",
        lambda: case.reassess(stamp(), left_behind=True, categories=[], evidence=[]),
    )
    refused(
        case, InvalidCommand, "classification_names_a_category",
        lambda: case.classify(stamp(), left_behind=False, categories=[], evidence=[]),
    )
    refused(
        case, InvalidCommand, "categories_are_known",
        lambda: case.classify(stamp(), left_behind=False, categories=["orphan"], evidence=[]),
    )
    refused(
        case, InvalidCommand, "evidence_is_content_hashes",
        lambda: case.classify(stamp(), left_behind=True, categories=[], evidence=["张三户口本.jpg"]),
    )
    case.classify(stamp(), left_behind=True, categories=[], evidence=[])
    refused(
        case, RuleViolated, "classify_once_then_reassess",
        lambda: case.classify(stamp(), left_behind=True, categories=[], evidence=[]),
    )


# ---- mandatory reports -----------------------------------------------------------------


def test_a_report_is_accepted_before_police_are_dispatched_for_it() -> None:
    case = register()
    report_id = case.file_mandatory_report(stamp(), reporter="school", nature="abuse")
    later = T0 + timedelta(minutes=5)
    refused(
        case, RuleViolated, "report_accepted_before_dispatch",
        lambda: case.dispatch_police(stamp(later, unit="police"), report_id=report_id),
    )
    case.accept_report(stamp(later, unit="police"), report_id=report_id)
    case.dispatch_police(stamp(later, unit="police"), report_id=report_id)


def test_acceptance_and_dispatch_happen_once_each() -> None:
    case = register()
    report_id = case.file_mandatory_report(stamp(), reporter="school", nature="abuse")
    case.accept_report(stamp(unit="police"), report_id=report_id)
    refused(
        case, RuleViolated, "report_accepted_once",
        lambda: case.accept_report(stamp(unit="police"), report_id=report_id),
    )
    case.dispatch_police(stamp(unit="police"), report_id=report_id)
    refused(
        case, RuleViolated, "police_dispatched_once",
        lambda: case.dispatch_police(stamp(unit="police"), report_id=report_id),
    )


def test_response_times_cannot_run_backwards() -> None:
    case = register()
    reported = T0 - timedelta(hours=1)
    report_id = case.file_mandatory_report(
        stamp(occurred_at=reported), reporter="medical_institution", nature="unattended"
    )
    refused(
        case, RuleViolated, "acceptance_not_before_report",
        lambda: case.accept_report(
            stamp(unit="police", occurred_at=reported - timedelta(seconds=1)), report_id=report_id
        ),
    )
    case.accept_report(stamp(unit="police", occurred_at=reported), report_id=report_id)
    refused(
        case, RuleViolated, "dispatch_not_before_acceptance",
        lambda: case.dispatch_police(
            stamp(unit="police", occurred_at=reported - timedelta(seconds=1)), report_id=report_id
        ),
    )


def test_acceptance_and_dispatch_carry_the_seconds_since_the_report() -> None:
    case = register()
    reported = T0 - timedelta(hours=2)
    report_id = case.file_mandatory_report(
        stamp(occurred_at=reported, unit="school-1"), reporter="school", nature="abuse"
    )
    assert case.accept_report(
        stamp(unit="police", occurred_at=reported + timedelta(minutes=7)), report_id=report_id
    ) == 420
    assert case.dispatch_police(
        stamp(unit="police", occurred_at=reported + timedelta(minutes=31, seconds=5)),
        report_id=report_id,
    ) == 1865
    accepted, dispatched = case.pending_events[-2:]
    assert (type(accepted).__name__, accepted.seconds_since_report) == ("ReportAccepted", 420)
    assert (type(dispatched).__name__, dispatched.seconds_since_report) == ("PoliceDispatched", 1865)
    assert case.report(report_id)["seconds_to_dispatch"] == 1865
    with pytest.raises(LookupError):
        case.accept_report(stamp(unit="police"), report_id="MR9")


def test_reporter_and_nature_are_codes_so_no_free_text_reaches_plain_columns() -> None:
    case = register()
    refused(
        case, InvalidCommand, "reporter_is_a_mandatory_reporter",
        lambda: case.file_mandatory_report(stamp(), reporter="张三的老师", nature="abuse"),
    )
    refused(
        case, InvalidCommand, "report_nature_is_known",
        lambda: case.file_mandatory_report(stamp(), reporter="school", nature="张三被打"),
    )
    refused(
        case, InvalidCommand, "personal_data_arrives_sealed",
        lambda: case.file_mandatory_report(
            stamp(), reporter="school", nature="abuse", sealed="张三被打"
        ),
    )


# ---- referrals and services ------------------------------------------------------------


def test_the_referred_units_first_service_carries_the_time_since_the_referral() -> None:
    case = register()
    referral_id = case.refer(stamp(), to_unit="legal-aid", duty="legal_aid")
    first = T0 + timedelta(days=2, hours=3)
    assert case.provide_service(
        stamp(first, unit="legal-aid"), kind="legal_aid", referral_id=referral_id
    ) == 2 * 86400 + 3 * 3600
    assert case.pending_events[-1].seconds_since_referral == 183600
    assert case.provide_service(
        stamp(first + timedelta(days=1), unit="legal-aid"), kind="counselling",
        referral_id=referral_id,
    ) is None
    assert case.pending_events[-1].seconds_since_referral is None
    assert case.referral(referral_id)["seconds_to_first_service"] == 183600


def test_only_the_referred_unit_answers_a_referral_while_it_is_open() -> None:
    case = register()
    referral_id = case.refer(stamp(), to_unit="legal-aid", duty="legal_aid")

    def service(unit: str, kind: str, **when: Any) -> Callable[[], Any]:
        """A service of ``unit`` answering the referral."""
        return lambda: case.provide_service(stamp(unit=unit, **when), kind=kind, referral_id=referral_id)

    refused(case, RuleViolated, "service_answers_referral_to_own_unit", service("education", "tutoring"))
    refused(case, RuleViolated, "service_not_before_referral",
            service("legal-aid", "legal_aid", occurred_at=T0 - timedelta(minutes=1)))
    assert case.is_referred_to("legal-aid")
    case.close_referral(stamp(), referral_id=referral_id, outcome="completed")
    assert not case.is_referred_to("legal-aid")
    refused(case, RuleViolated, "service_answers_open_referral", service("legal-aid", "legal_aid"))
    refused(case, RuleViolated, "only_open_referral_closes",
            lambda: case.close_referral(stamp(), referral_id=referral_id, outcome="completed"))
    # A unit's own service outside any referral counts no response time.
    assert case.provide_service(stamp(unit="education"), kind="tutoring") is None


def test_one_open_referral_per_unit_and_duty() -> None:
    case = register()
    first = case.refer(stamp(), to_unit="legal-aid", duty="legal_aid")
    refused(
        case, RuleViolated, "one_open_referral_per_unit_and_duty",
        lambda: case.refer(stamp(), to_unit="legal-aid", duty="legal_aid"),
    )
    case.refer(stamp(), to_unit="legal-aid", duty="judicial_aid")
    case.close_referral(stamp(), referral_id=first, outcome="withdrawn")
    case.refer(stamp(), to_unit="legal-aid", duty="legal_aid")
    assert case.open_referral_units() == {"legal-aid"}


# ---- closure ---------------------------------------------------------------------------


def closed_case() -> ChildCase:
    case = register()
    case.classify(stamp(), left_behind=True, categories=["poverty"], evidence=EVIDENCE)
    case.file_mandatory_report(stamp(), reporter="school", nature="abuse")
    referral_id = case.refer(stamp(), to_unit="legal-aid", duty="legal_aid")
    case.close_referral(stamp(), referral_id=referral_id, outcome="completed")
    case.close(stamp(), reason="parents_returned")
    return case


CLOSED_REFUSES: dict[str, Callable[[ChildCase], Any]] = {
    "classify": lambda c: c.classify(stamp(), left_behind=True, categories=[], evidence=[]),
    "reassess": lambda c: c.reassess(stamp(), left_behind=True, categories=[], evidence=[]),
    "record_guardianship": lambda c: c.record_guardianship(
        stamp(), arrangement="entrusted", sealed=SEALED),
    "file_mandatory_report": lambda c: c.file_mandatory_report(
        stamp(), reporter="school", nature="abuse"),
    "accept_report": lambda c: c.accept_report(stamp(), report_id="MR1"),
    "dispatch_police": lambda c: c.dispatch_police(stamp(), report_id="MR1"),
    "refer": lambda c: c.refer(stamp(), to_unit="police", duty="investigation"),
    "close_referral": lambda c: c.close_referral(stamp(), referral_id="RF1", outcome="completed"),
    "provide_service": lambda c: c.provide_service(stamp(), kind="subsidy"),
    "visit": lambda c: c.visit(stamp()),
    "close": lambda c: c.close(stamp(), reason="moved_away"),
}


@pytest.mark.parametrize("command", sorted(CLOSED_REFUSES))
def test_a_closed_case_refuses_new_work(command: str) -> None:
    case = closed_case()
    refused(
        case, RuleViolated, "closed_case_takes_only_reopening_evaluation_correction",
        lambda: CLOSED_REFUSES[command](case),
    )


def test_a_closed_case_takes_evaluation_correction_reopening_and_erasure() -> None:
    case = closed_case()
    case.evaluate(stamp(), year=2023, grade="良好", score=85, findings="按时走访",
                  rubric_version="2019.1")
    case.correct(stamp(), corrected_version=case.version, position=99,
                 changes={"findings": "按时走访，转介及时"}, sealed_reason=REASON)
    assert case.evaluations[2023]["findings"] == "按时走访，转介及时"
    case.erase_personal_data(stamp(), reason="保存期限届满")
    case.reopen(stamp(), reason="父母再次外出务工")
    assert case.status == "open"
    case.visit(stamp())


def test_a_case_does_not_close_while_a_referral_is_open() -> None:
    case = register()
    case.refer(stamp(), to_unit="legal-aid", duty="legal_aid")
    refused(
        case, RuleViolated, "no_closure_while_referral_open",
        lambda: case.close(stamp(), reason="hardship_resolved"),
    )


def test_closure_for_age_needs_the_child_to_have_turned_16() -> None:
    case = register(birth_date=date(2008, 3, 1))
    refused(
        case, RuleViolated, "aged_16_closure_needs_child_of_16",
        # the 16th birthday itself
        lambda: case.close(stamp(), reason="aged_16", birth_date=date(2008, 3, 1)),
    )
    refused(
        case, InvalidCommand, "closure_reason_is_known",
        lambda: case.close(stamp(), reason="张三搬家"),
    )
    case.close(stamp(T0 + timedelta(days=1)), reason="aged_16", birth_date=date(2008, 3, 1))
    refused(case, InvalidCommand, "reopening_needs_reason", lambda: case.reopen(stamp(), reason=" "))


def test_only_a_closed_case_reopens() -> None:
    case = register()
    refused(case, RuleViolated, "only_closed_case_reopens", lambda: case.reopen(stamp(), reason="x"))


# ---- erasure ---------------------------------------------------------------------------

AFTER_ERASURE_REFUSES: dict[str, Callable[[ChildCase], Any]] = {
    "record_guardianship": lambda c: c.record_guardianship(
        stamp(), arrangement="entrusted", sealed=OTHER_SEALED),
    "file_mandatory_report": lambda c: c.file_mandatory_report(
        stamp(), reporter="school", nature="abuse", sealed=OTHER_SEALED),
    "provide_service": lambda c: c.provide_service(stamp(), kind="subsidy", sealed=OTHER_SEALED),
    "visit": lambda c: c.visit(stamp(), sealed=OTHER_SEALED),
    "correct": lambda c: c.correct(stamp(), corrected_version=1, position=1,
                                   changes={"sealed": OTHER_SEALED}, reason="改名"),
}


@pytest.mark.parametrize("command", sorted(AFTER_ERASURE_REFUSES))
def test_no_new_personal_data_after_erasure(command: str) -> None:
    case = register()
    case.erase_personal_data(stamp(), reason="监护人申请删除")
    refused(
        case, RuleViolated, "no_personal_data_after_erasure",
        lambda: AFTER_ERASURE_REFUSES[command](case),
    )
    assert case.sealed == SEALED


def test_after_erasure_the_work_without_personal_data_goes_on() -> None:
    case = register()
    case.erase_personal_data(stamp(), reason="监护人申请删除")
    refused(
        case, RuleViolated, "personal_data_erased_once",
        lambda: case.erase_personal_data(stamp(), reason="again"),
    )
    report_id = case.file_mandatory_report(stamp(), reporter="school", nature="abuse")
    case.accept_report(stamp(unit="police"), report_id=report_id)
    case.visit(stamp())
    assert case.erased and case.erasure_reason == "监护人申请删除"


def test_erasure_needs_a_reason() -> None:
    case = register()
    refused(case, InvalidCommand, "erasure_needs_reason",
            lambda: case.erase_personal_data(stamp(), reason=""))


# ---- corrections -----------------------------------------------------------------------


def test_a_correction_may_not_shorten_a_response_time() -> None:
    case = register()
    report_id = case.file_mandatory_report(stamp(), reporter="school", nature="abuse")
    case.accept_report(stamp(T0 + timedelta(hours=5), unit="police"), report_id=report_id)
    refused(
        case, InvalidCommand, "correction_changes_correctable_fields",
        lambda: case.correct(
            stamp(T0 + timedelta(hours=6), unit="police"), corrected_version=case.version,
            position=3, changes={"occurred_at": T0.isoformat()}, sealed_reason=REASON,
        ),
    )


def test_a_correction_may_not_break_the_classification_rules() -> None:
    case = register(birth_date=date(2012, 1, 1))
    case.classify(stamp(), left_behind=True, categories=["poverty"], evidence=[])
    refused(
        case, RuleViolated, "difficulty_categories_need_local_household",
        lambda: case.correct(stamp(), corrected_version=1, position=1,
                             changes={"household_local": False}, sealed_reason=REASON),
    )
    refused(
        case, RuleViolated, "left_behind_child_is_under_16",
        lambda: case.correct(stamp(), corrected_version=1, position=1,
                             changes={"birth_month": "2007-01", "sealed": OTHER_SEALED},
                             sealed_reason=REASON, birth_date=date(2007, 1, 1)),
    )
    refused(
        case, InvalidCommand, "correction_values_valid",
        lambda: case.correct(stamp(), corrected_version=1, position=1,
                             changes={"birth_month": "2012-13", "sealed": OTHER_SEALED},
                             sealed_reason=REASON),
    )
    # In the right order the same facts can be set straight.
    case.correct(stamp(), corrected_version=2, position=2,
                 changes={"categories": ["temporary_crisis"]}, sealed_reason=REASON)
    case.correct(stamp(), corrected_version=1, position=1,
                 changes={"household_local": False}, sealed_reason=REASON)
    assert (case.household_local, case.categories) == (False, ["temporary_crisis"])


def test_corrections_replay_to_the_same_state() -> None:
    case = register()
    case.classify(stamp(), left_behind=True, categories=["poverty"], evidence=[])
    case.record_guardianship(stamp(), arrangement="statutory", sealed=SEALED)
    case.correct(stamp(), corrected_version=1, position=1,
                 changes={"birth_month": "2015-07", "sealed": OTHER_SEALED}, sealed_reason=REASON,
                 birth_date=date(2015, 7, 1))
    case.correct(stamp(), corrected_version=3, position=3,
                 changes={"arrangement": "entrusted"}, sealed_reason=REASON)
    report_id = case.file_mandatory_report(stamp(), reporter="school", nature="abuse")
    case.accept_report(stamp(T0 + timedelta(minutes=3), unit="police"), report_id=report_id)
    referral_id = case.refer(stamp(), to_unit="legal-aid", duty="legal_aid")
    case.provide_service(stamp(T0 + timedelta(hours=1), unit="legal-aid"), kind="legal_aid",
                         referral_id=referral_id, sealed=SEALED)
    copy = replayed(case)
    assert state(copy) == state(case)
    assert (case.birth_month, case.birth_date, case.sealed) == ("2015-07", None, OTHER_SEALED)
    assert case.guardianships[0]["arrangement"] == "entrusted"


def test_a_correction_names_an_earlier_entry_and_its_correctable_fields() -> None:
    case = register()
    refused(
        case, RuleViolated, "correction_names_earlier_event",
        lambda: case.correct(stamp(), corrected_version=7, position=7,
                             changes={"street": "x"}, sealed_reason=REASON),
    )
    refused(
        case, InvalidCommand, "correction_changes_correctable_fields",
        lambda: case.correct(stamp(), corrected_version=1, position=1,
                             changes={"case_number": "ET2024-00000000"}, sealed_reason=REASON),
    )
    refused(
        case, InvalidCommand, "personal_data_arrives_sealed",
        lambda: case.correct(stamp(), corrected_version=1, position=1,
                             changes={"sealed": "张三"}, sealed_reason=REASON),
    )


# ---- the birth date: exact in the seal, year and month in clear ------------------------


def test_registration_keeps_only_the_year_and_month_of_birth_in_clear() -> None:
    case = register(birth_date=date(2015, 6, 1))
    registered = case.pending_events[0]
    assert (registered.birth_date, registered.birth_month) == (None, "2015-06")
    assert (case.birth_date, case.birth_month) == (None, "2015-06")
    assert "2015-06-01" not in repr(vars(registered)) and "2015, 6, 1" not in repr(vars(registered))


def test_without_the_exact_date_the_child_counts_as_born_on_the_last_day_of_the_month() -> None:
    case = register(birth_date=date(2008, 3, 10))
    # Sixteen by the exact date (10 March), not by the last day of the month.
    mid_month = stamp(datetime(2024, 3, 20, 3, 0, tzinfo=timezone.utc))
    refused(
        case, RuleViolated, "aged_16_closure_needs_child_of_16",
        lambda: case.close(mid_month, reason="aged_16"),
    )
    case.classify(mid_month, left_behind=True, categories=[], evidence=EVIDENCE)
    refused(
        case, RuleViolated, "left_behind_child_is_under_16",
        lambda: case.reassess(mid_month, left_behind=True, categories=[], evidence=[],
                              birth_date=date(2008, 3, 10)),
    )
    case.close(mid_month, reason="aged_16", birth_date=date(2008, 3, 10))


def test_an_exact_birth_date_must_agree_with_the_clear_month() -> None:
    case = register(birth_date=date(2015, 6, 1))
    refused(
        case, InvalidCommand, "birth_date_agrees_with_month",
        lambda: case.classify(stamp(), left_behind=True, categories=[], evidence=EVIDENCE,
                              birth_date=date(2015, 7, 1)),
    )


def test_a_birth_date_correction_comes_with_the_sealed_person_and_agrees_with_its_month() -> None:
    case = register(birth_date=date(2015, 6, 1))
    refused(
        case, InvalidCommand, "birth_date_corrected_with_personal_fields",
        lambda: case.correct(stamp(), corrected_version=1, position=1,
                             changes={"birth_month": "2015-07"}, sealed_reason=REASON,
                             birth_date=date(2015, 7, 1)),
    )
    for wrong in (None, date(2015, 8, 1)):
        refused(
            case, InvalidCommand, "birth_date_agrees_with_month",
            lambda: case.correct(stamp(), corrected_version=1, position=1,
                                 changes={"birth_month": "2015-07", "sealed": OTHER_SEALED},
                                 sealed_reason=REASON, birth_date=wrong),  # noqa: B023 — called at once
        )


def test_a_case_recorded_before_the_birth_date_was_sealed_replays_as_it_did() -> None:
    # The events as the earlier version stored them: a clear birth date and no month in
    # Registered; a correction of that date, with its reason in clear.
    with recording_at(T0):
        case = ChildCase(
            **stamp().fields(), case_number="ET2024-7K3M9QXA", street="径河街道", community="三店村",
            household_local=True, birth_date=date(2008, 3, 10), registering_unit="civil", sealed=SEALED,
            birth_month=None,
        )
        case._entry_corrected(
            **stamp().fields(), corrected_version=1, corrected_position=1, corrected_type="Registered",
            changes={"birth_date": "2008-03-12"}, reason="出生日期登记错误", sealed_reason=None,
        )
    registered, corrected = case.pending_events
    vars(registered).pop("birth_month")
    vars(corrected).pop("sealed_reason")
    old = replayed(case)
    assert (old.birth_date, old.birth_month) == (date(2008, 3, 12), "2008-03")
    # Its state is the one its snapshots hold: no field the older version did not have.
    assert "clear_birth_month" not in vars(old) and "sealed_reason" not in old.corrections[0]
    assert old.corrections[0]["reason"] == "出生日期登记错误"
    # The age rules count from the clear date, whatever else they are given.
    refused(
        old, RuleViolated, "left_behind_child_is_under_16",
        lambda: old.classify(stamp(datetime(2024, 3, 12, 17, 0, tzinfo=timezone.utc)), left_behind=True,
                             categories=[], evidence=EVIDENCE),
    )
    old.classify(stamp(datetime(2024, 3, 12, 3, 0, tzinfo=timezone.utc)), left_behind=True,
                 categories=[], evidence=EVIDENCE)
