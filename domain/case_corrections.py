"""What a correction may change in a child case, and the checks its values pass.

Personal fields are corrected inside the entry's sealed text, which the application seals
(``Corrections.to_seal``) before the case sees the correction. A correction's reason is
sealed while the case key lives, and clear (and checked) once it is erased.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol

from domain import assessment, evaluation, guardianship, referral
from domain.base import InvalidCommand, Stamp, check_code, check_text
from domain.case_personal import (
    check_birth_date,
    check_month_agrees,
    check_new_personal_data,
    check_sealed,
    is_birth_month,
)
from domain.correction import VERSION, Correctable, Corrections, Ref, check_time
from domain.free_text import check_free_text
from domain.mandatory_report import NATURES, REPORTERS
from domain.person import beijing_day

_ASSESSED = Correctable(
    frozenset({"left_behind", "categories", "evidence"}), retimable=False,
    at=("assessments", VERSION),
)

# Only the times of guardianship records, visits, evaluations and reopenings may be
# corrected: the others' times are what response times and the age rules were computed
# from, and a unit must not shorten its own response time.
CORRECTIONS = Corrections(
    "个案",
    {
        # The exact birth date is corrected inside ``sealed``; the application writes its
        # clear month beside it, and the case then holds the exact date only there.
        "Registered": Correctable(
            frozenset({"street", "community", "household_local"}),
            personal=frozenset({"name", "id_number", "birth_date", "address", "guardian"}),
            derived=frozenset({"birth_month"}), retimable=False,
            renamed={"birth_month": "clear_birth_month"},
            clears={"clear_birth_month": "birth_date"},
        ),
        "Classified": _ASSESSED,
        "Reassessed": _ASSESSED,
        "GuardianshipRecorded": Correctable(
            frozenset({"arrangement"}), personal=frozenset({"guardian"}),
            at=("guardianships", VERSION),
        ),
        "MandatoryReportFiled": Correctable(
            frozenset({"reporter", "nature"}), personal=frozenset({"details"}), retimable=False,
            at=("reports", Ref("report_id")),
        ),
        "Referred": Correctable(
            frozenset({"duty"}), retimable=False, at=("referrals", Ref("referral_id"))
        ),
        "ServiceProvided": Correctable(
            frozenset({"kind"}), personal=frozenset({"notes"}), retimable=False,
            at=("services", VERSION),
        ),
        "Visited": Correctable(personal=frozenset({"notes"}), at=("visits", VERSION)),
        "EvaluatedAtYearEnd": Correctable(
            frozenset({"grade", "score", "findings"}), at=("evaluations", Ref("year"))
        ),
        "Reopened": Correctable(frozenset({"reason"}), at=None),
        "PersonalDataErased": Correctable(
            frozenset({"reason"}), retimable=False, renamed={"reason": "erasure_reason"}
        ),
        "EntryCorrected": Correctable(
            frozenset({"reason"}), personal=frozenset({"reason"}), sealed_as="sealed_reason",
            retimable=False, at=None,
        ),
    },
    # Only in corrections recorded before the exact date was sealed.
    dates=frozenset({"birth_date"}),
)


class Corrected(Protocol):
    """What the checks read of the case being corrected (domain.case.ChildCase)."""

    erased: bool
    household_local: bool
    registered_at: datetime
    entries: dict[int, dict[str, Any]]
    assessments: dict[int, dict[str, Any]]
    evaluations: dict[int, dict[str, Any]]

    def age_basis(self, birth_date: date | None) -> date: ...


def checked_changes(
    case: Corrected, stamp: Stamp, kind: str, version: int, changes: dict[str, Any], *,
    reason: str | None, sealed_reason: str | None, birth_date: date | None,
) -> dict[str, Any]:
    """The changes to the entry of ``version`` (of ``kind``) as the case records them, once
    they and the case they make are checked. ``birth_date`` is the exact date the corrected
    case has (the new one when the correction changes it), for the age rules."""
    _check_reason(case.erased, reason, sealed_reason)
    CORRECTIONS.check_fields(kind, changes)
    for key in CORRECTIONS.sealed_fields & changes.keys():
        check_new_personal_data(case.erased, changes[key])
    spec = CORRECTIONS.of(kind)
    if not case.erased and spec.fields & spec.personal & changes.keys():
        raise InvalidCommand("case_free_text_arrives_sealed", "个案的更正理由须加密后记录")
    if "birth_month" in changes and "sealed" not in changes:
        # The exact date lives in the sealed person fields: both change together.
        raise InvalidCommand(
            "birth_date_corrected_with_personal_fields", "出生日期须随个人信息一并更正"
        )
    changes = _checked_values(changes, recorded_at=stamp.recorded_at)
    if "birth_month" in changes:
        basis = check_month_agrees(birth_date, changes["birth_month"])
    else:
        basis = case.age_basis(birth_date)
    _check_corrected_case(case, kind, version, changes, basis)
    return changes


def _check_reason(erased: bool, reason: str | None, sealed_reason: str | None) -> None:
    if erased:
        if sealed_reason is not None:
            check_new_personal_data(erased, sealed_reason)
        check_text(reason, "correction_needs_reason", "更正须说明理由")
        check_free_text("更正理由", reason)
        return
    if reason is not None:
        raise InvalidCommand("case_free_text_arrives_sealed", "个案的更正理由须加密后记录")
    if sealed_reason is None:
        raise InvalidCommand("correction_needs_reason", "更正须说明理由")
    check_sealed(sealed_reason)


def _check_corrected_case(
    case: Corrected, kind: str, version: int, values: dict[str, Any], birth_date: date
) -> None:
    """A correction may not leave the case in a state its rules would have refused."""
    if kind == "EvaluatedAtYearEnd":
        evaluation.check_corrected(case.evaluations[case.entries[version]["year"]], values)
    if kind not in ("Registered", "Classified", "Reassessed"):
        return
    household_local = case.household_local
    if kind == "Registered":
        household_local = values.get("household_local", household_local)
        if "birth_month" in values:
            check_birth_date(birth_date, beijing_day(case.registered_at))
    assessment.check_all(
        case.assessments, corrected=version, kind=kind, values=values,
        birth_date=birth_date, household_local=household_local,
    )


def _checked_values(changes: dict[str, Any], *, recorded_at: datetime) -> dict[str, Any]:
    """Corrected values must be as valid as the originals; answers them as they are stored."""
    invalid = InvalidCommand("correction_values_valid", "更正后的值格式不正确")
    if "birth_month" in changes and not is_birth_month(changes["birth_month"]):
        raise invalid
    check_time(changes, recorded_at=recorded_at)
    for key in ("household_local", "left_behind"):
        if key in changes and not isinstance(changes[key], bool):
            raise invalid
    if {"left_behind", "categories", "evidence"} & changes.keys():
        assessment.check_values(
            changes.get("left_behind", False), changes.get("categories", []),
            changes.get("evidence", []),
        )
    if "arrangement" in changes:
        guardianship.check_arrangement(changes["arrangement"])
    for key, known, rule, what in (
        ("reporter", REPORTERS, "reporter_is_a_mandatory_reporter", "报告主体"),
        ("nature", NATURES, "report_nature_is_known", "报告事项"),
    ):
        if key in changes:
            check_code(changes[key], known, rule, what)
    if "kind" in changes:
        referral.check_kind(changes["kind"])
    for key in ("street", "community", "duty", "findings", "reason"):
        if key in changes:
            check_text(changes[key], "correction_values_valid", "更正后的值格式不正确")
            check_free_text("更正内容", changes[key])
    if "score" in changes and (
        isinstance(changes["score"], bool) or not isinstance(changes["score"], (int, float))
    ):
        raise invalid
    if "categories" in changes:
        return {**changes, "categories": list(dict.fromkeys(changes["categories"]))}
    return dict(changes)
