"""强制报告 and the police response: the bodies the law obliges to report file a report;
it is to be accepted promptly and the police dispatched at once (及时受理，第一时间出警).

Response times count from the time the report was made, which a correction may not move.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.base import RuleViolated, Stamp, check_code

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


def check_codes(reporter: object, nature: object) -> None:
    check_code(reporter, REPORTERS, "reporter_is_a_mandatory_reporter", "报告主体")
    check_code(nature, NATURES, "report_nature_is_known", "报告事项")


def new_report(
    report_id: str, reporter: str, nature: str, sealed: str | None, reported_at: datetime
) -> dict[str, Any]:
    return {
        "report_id": report_id,
        "reporter": reporter,
        "nature": nature,
        "sealed": sealed,
        "reported_at": reported_at,
        "accepted_at": None,
        "accepted_by": None,
        "seconds_to_acceptance": None,
        "dispatched_at": None,
        "dispatched_by": None,
        "seconds_to_dispatch": None,
    }


def seconds_to_acceptance(report: dict[str, Any], stamp: Stamp) -> int:
    if report["accepted_at"] is not None:
        raise RuleViolated("report_accepted_once", "该强制报告已受理")
    if stamp.occurred_at < report["reported_at"]:
        raise RuleViolated("acceptance_not_before_report", "受理时间不能早于报告时间")
    return int((stamp.occurred_at - report["reported_at"]).total_seconds())


def seconds_to_dispatch(report: dict[str, Any], stamp: Stamp) -> int:
    """Counted from the report, not from its acceptance (第一时间出警)."""
    if report["accepted_at"] is None:
        raise RuleViolated("report_accepted_before_dispatch", "强制报告须先受理，才能登记出警")
    if report["dispatched_at"] is not None:
        raise RuleViolated("police_dispatched_once", "该强制报告已登记出警")
    if stamp.occurred_at < report["accepted_at"]:
        raise RuleViolated("dispatch_not_before_acceptance", "出警时间不能早于受理时间")
    return int((stamp.occurred_at - report["reported_at"]).total_seconds())


def accepted(report: dict[str, Any], at: datetime, unit: str, seconds: int) -> None:
    report.update(accepted_at=at, accepted_by=unit, seconds_to_acceptance=seconds)


def dispatched(report: dict[str, Any], at: datetime, unit: str, seconds: int) -> None:
    report.update(dispatched_at=at, dispatched_by=unit, seconds_to_dispatch=seconds)
