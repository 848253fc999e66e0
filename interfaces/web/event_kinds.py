"""The Chinese name of every kind of event the ledger stores: one table for every page.

An event's kind is its aggregate and its name together: ``Registered`` is the registration
of an issue, a case, a plan or a unit, and each reads differently. The audit trail's kind
filter offers these, in this order (tests check that every event of the domain has one).
"""

from __future__ import annotations

AGGREGATE_LABELS = {
    "RectificationIssue": "整改问题", "ChildCase": "儿童个案", "Plan": "实施方案", "Unit": "单位",
    "UnitGroup": "单位组", "User": "用户", "Token": "令牌", "SignInLock": "登录锁定",
    "CaseAccessLog": "个人信息查阅记录", "CommandAnswer": "指令应答",
}

EVENT_KINDS: dict[tuple[str, str], str] = {
    ("RectificationIssue", "Registered"): "登记整改问题",
    ("RectificationIssue", "Assigned"): "交办",
    ("RectificationIssue", "MeasureAdopted"): "制定整改措施",
    ("RectificationIssue", "ProgressReported"): "报送阶段性进展",
    ("RectificationIssue", "MeasureCompleted"): "整改措施办结",
    ("RectificationIssue", "DeadlineExtended"): "延期",
    ("RectificationIssue", "Urged"): "催办",
    ("RectificationIssue", "UrgingReplied"): "回复催办",
    ("RectificationIssue", "ExtensionRequested"): "申请延期",
    ("RectificationIssue", "ExtensionDecided"): "审批延期申请",
    ("RectificationIssue", "EvaluatedAtYearEnd"): "问题年终考核",
    ("RectificationIssue", "Closed"): "销号",
    ("RectificationIssue", "Reopened"): "重新打开问题",
    ("RectificationIssue", "EntryCorrected"): "更正问题记录",
    ("ChildCase", "Registered"): "登记儿童个案",
    ("ChildCase", "Classified"): "认定类别",
    ("ChildCase", "Reassessed"): "重新评估",
    ("ChildCase", "GuardianshipRecorded"): "记录监护情况",
    ("ChildCase", "MandatoryReportFiled"): "强制报告",
    ("ChildCase", "ReportAccepted"): "受理强制报告",
    ("ChildCase", "PoliceDispatched"): "出警",
    ("ChildCase", "Referred"): "转介",
    ("ChildCase", "ReferralAccepted"): "接收转介",
    ("ChildCase", "ReferralClosed"): "结束转介",
    ("ChildCase", "ServiceProvided"): "提供关爱服务",
    ("ChildCase", "Visited"): "走访",
    ("ChildCase", "EvaluatedAtYearEnd"): "个案年度评估",
    ("ChildCase", "Closed"): "个案结案",
    ("ChildCase", "Reopened"): "个案重新立案",
    ("ChildCase", "PersonalDataErased"): "删除个人信息",
    ("ChildCase", "EntryCorrected"): "更正个案记录",
    ("CaseAccessLog", "Opened"): "建立个人信息查阅记录",
    ("CaseAccessLog", "PersonalDataRead"): "查阅个人信息",
    ("Plan", "Registered"): "登记实施方案",
    ("Unit", "Registered"): "登记单位",
    ("Unit", "DutyDefined"): "确定单位职责",
    ("Unit", "JoinedGroup"): "单位加入单位组",
    ("UnitGroup", "Founded"): "建立单位组",
    ("UnitGroup", "MemberAdmitted"): "单位组增加成员",
    ("User", "Enrolled"): "登记用户",
    ("User", "RoleChanged"): "变更用户角色",
    ("User", "UnitChanged"): "变更用户所属单位",
    ("User", "PasswordSet"): "设置密码",
    ("User", "Deactivated"): "停用用户",
    ("User", "Reactivated"): "恢复用户",
    ("Token", "Issued"): "签发令牌",
    ("Token", "Revoked"): "吊销令牌",
    ("SignInLock", "Locked"): "登录失败过多而锁定",
    ("CommandAnswer", "Kept"): "保存指令应答",
}


def aggregate_label(aggregate_type: str) -> str:
    return AGGREGATE_LABELS.get(aggregate_type, "其他对象")


def event_label(aggregate_type: str, event_type: str) -> str:
    # An event added later without a row here still reads in Chinese, if vaguely.
    return EVENT_KINDS.get((aggregate_type, event_type), f"{aggregate_label(aggregate_type)}的记录")


def kind_value(aggregate_type: str, event_type: str) -> str:
    """How a kind travels in a link or a form: ``RectificationIssue.Urged``."""
    return f"{aggregate_type}.{event_type}"


def parse_kind(value: str) -> tuple[str, str] | None:
    aggregate_type, _, event_type = value.partition(".")
    return (aggregate_type, event_type) if (aggregate_type, event_type) in EVENT_KINDS else None


def kind_choices() -> list[tuple[str, str, str]]:
    """(group label, value, label) of every kind, grouped by aggregate in the table's order."""
    return [(aggregate_label(a), kind_value(a, e), label) for (a, e), label in EVENT_KINDS.items()]
