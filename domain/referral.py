"""转介 and 关爱服务: a case referred to a unit for one of its duties, and the services
units provide. An open referral is what lets the referred unit read personal data; its
first service for the referral is that unit's response time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.base import RuleViolated, Stamp, check_code, check_text
from domain.free_text import check_free_text

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
REFERRAL_OPEN, REFERRAL_CLOSED = "open", "closed"


def check_kind(kind: object) -> None:
    check_code(kind, SERVICE_KINDS, "service_kind_is_known", "服务类型")


def open_units(referrals: dict[str, dict[str, Any]]) -> set[str]:
    return {r["unit"] for r in referrals.values() if r["status"] == REFERRAL_OPEN}


def check_new(referrals: dict[str, dict[str, Any]], to_unit: str, duty: str) -> None:
    check_text(to_unit, "referral_names_a_unit", "转介须写明接收单位")
    check_text(duty, "referral_names_a_duty", "转介须写明所依据的职责")
    check_free_text("转介职责", duty)
    if any(
        r["unit"] == to_unit and r["duty"] == duty and r["status"] == REFERRAL_OPEN
        for r in referrals.values()
    ):
        raise RuleViolated(
            "one_open_referral_per_unit_and_duty", "已就该职责向该单位转介，尚未结束"
        )


def new_referral(referral_id: str, to_unit: str, duty: str, referred_at: datetime) -> dict[str, Any]:
    return {
        "referral_id": referral_id,
        "unit": to_unit,
        "duty": duty,
        "status": REFERRAL_OPEN,
        "referred_at": referred_at,
        "closed_at": None,
        "outcome": None,
        "seconds_to_first_service": None,
    }


def check_closing(referral: dict[str, Any], outcome: str, stamp: Stamp) -> None:
    if referral["status"] != REFERRAL_OPEN:
        raise RuleViolated("only_open_referral_closes", "该转介已结束")
    check_code(outcome, REFERRAL_OUTCOMES, "referral_outcome_is_known", "转介结果")
    if stamp.occurred_at < referral["referred_at"]:
        raise RuleViolated("referral_closes_after_it_opens", "结束时间不能早于转介时间")


def seconds_to_first_service(referral: dict[str, Any], stamp: Stamp) -> int | None:
    """A service the stamp's unit provides for ``referral``: the seconds from the referral
    when it is the referred unit's first service for it, else None."""
    if referral["status"] != REFERRAL_OPEN:
        raise RuleViolated("service_answers_open_referral", "该转介已结束")
    if referral["unit"] != stamp.unit:
        raise RuleViolated(
            "service_answers_referral_to_own_unit", "只能就转介给本单位的事项登记服务"
        )
    if stamp.occurred_at < referral["referred_at"]:
        raise RuleViolated("service_not_before_referral", "服务时间不能早于转介时间")
    if referral["seconds_to_first_service"] is not None:
        return None
    return int((stamp.occurred_at - referral["referred_at"]).total_seconds())


def new_service(
    version: int, unit: str, kind: str, referral_id: str | None, sealed: str | None,
    occurred_at: datetime, seconds_since_referral: int | None, evidence: list[str],
) -> dict[str, Any]:
    return {
        "version": version, "unit": unit, "kind": kind, "referral_id": referral_id,
        "sealed": sealed, "occurred_at": occurred_at, "seconds_since_referral": seconds_since_referral,
        "evidence": list(evidence),
    }
