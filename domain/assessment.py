"""类别认定 and 动态更新: whether a child is left behind (留守) and in which hardship
categories (困境); the rules every classification, reassessment and their corrections keep.

A case keeps every assessment by version; the latest is the current one.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from domain.base import InvalidCommand, RuleViolated
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
_SHA256 = re.compile(r"[0-9a-f]{64}")


def check_values(left_behind: object, categories: object, evidence: object) -> None:
    if not isinstance(left_behind, bool):
        raise InvalidCommand("left_behind_is_yes_or_no", "是否留守须为是或否")
    if not isinstance(categories, list) or any(c not in CATEGORIES for c in categories):
        raise InvalidCommand(
            "categories_are_known", f"困境儿童类别须为{'、'.join(CATEGORIES)}之一"
        )
    check_evidence(evidence)


def check_evidence(evidence: object) -> None:
    """A child's files, as an assessment or a service names them: by their digests."""
    if not isinstance(evidence, list) or not all(
        isinstance(e, str) and _SHA256.fullmatch(e) for e in evidence
    ):
        # The documents are personal data and stay out of the ledger; it holds their hashes.
        raise InvalidCommand("evidence_is_content_hashes", "证明材料须以SHA-256摘要登记")


def check_names_one(left_behind: bool, categories: list[str]) -> None:
    """A first classification finds something; a reassessment may find nothing left."""
    if not left_behind and not categories:
        raise InvalidCommand(
            "classification_names_a_category", "须认定为留守儿童或至少一类困境儿童"
        )


def check_rules(
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


def checked(
    left_behind: bool, categories: list[str], evidence: list[str], *, needs_one: bool,
    birth_date: date, household_local: bool, day: date,
) -> list[str]:
    """The rules a classification and a reassessment share; answers the categories,
    deduplicated."""
    categories = list(dict.fromkeys(categories)) if isinstance(categories, list) else categories
    check_values(left_behind, categories, evidence)
    if needs_one:
        check_names_one(left_behind, categories)
    check_rules(
        birth_date=birth_date, household_local=household_local, left_behind=left_behind,
        categories=categories, day=day,
    )
    return categories


def add(
    assessments: dict[int, dict[str, Any]], version: int, left_behind: bool,
    categories: list[str], evidence: list[str], occurred_at: datetime,
) -> None:
    assessments[version] = {
        "version": version,
        "left_behind": left_behind,
        "categories": list(categories),
        "evidence": list(evidence),
        "day": beijing_day(occurred_at),
    }


def current(assessments: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
    """The latest of Classified and Reassessed."""
    return assessments[max(assessments)] if assessments else None


def check_all(
    assessments: dict[int, dict[str, Any]], *, corrected: int, kind: str, values: dict[str, Any],
    birth_date: date, household_local: bool,
) -> None:
    """Every assessment against the rules once ``values`` correct the one of version
    ``corrected`` (of ``kind``), for a child of ``birth_date`` and ``household_local``."""
    for version, assessment in assessments.items():
        proposed = {**assessment, **values} if version == corrected else assessment
        if version == corrected and kind == "Classified":
            check_names_one(proposed["left_behind"], proposed["categories"])
        check_rules(
            birth_date=birth_date, household_local=household_local,
            left_behind=proposed["left_behind"], categories=proposed["categories"],
            day=assessment["day"],
        )
