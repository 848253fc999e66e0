"""Which entries of an issue a reader may correct, and how each correctable field is typed on
the correction form (interfaces.web.correction_forms); the issue page links each such entry to
it. Asked of the policy as application.issues.Issues.correct_issue_entry asks it."""

from __future__ import annotations

from typing import Any

from application.access import Actor
from application.read_policy import POLICY
from domain.issue_corrections import CORRECTIONS
from interfaces.web.offers import permits

# Each correctable field on the page: its label and how it is typed.
FIELDS: dict[str, tuple[str, str]] = {
    "duty": ("工作职责", "area"), "problem": ("存在问题", "area"), "remarks": ("备注", "area"),
    "contact_person": ("联系人", "text"), "deadline": ("整改期限", "date"),
    "nodes": ("时间节点", "dates"), "text": ("措施内容", "area"), "due": ("完成时限", "date"),
    "summary": ("情况说明", "area"), "reason": ("理由", "area"), "message": ("催办内容", "area"),
    "reply_by": ("回复期限", "date"), "grade": ("等次", "text"), "score": ("得分", "number"),
    "findings": ("考核意见", "area"), "occurred_at": ("实际发生时间", "datetime-local"),
}


def correctable_fields(kind: str) -> list[str]:
    spec = CORRECTIONS.of(kind)
    shown = [name for name in FIELDS if name in spec.fields]
    return [*shown, "occurred_at"] if spec.retimable and shown else shown


def require_corrector(caller: Actor, issue: Any, entry: dict[str, Any]) -> None:
    """What Issues.correct_issue_entry asks of the policy, in its order."""
    POLICY.require_responsible(caller, issue)
    POLICY.may_correct_something(caller)
    POLICY.may_correct(caller, issue, entry["version"])


def may_correct(caller: Actor, issue: Any, entry: dict[str, Any]) -> bool:
    """Whether the form is offered for ``entry``."""
    return bool(correctable_fields(entry["type"])) and permits(lambda: require_corrector(caller, issue, entry))


def with_links(caller: Actor, issue: Any, timeline: list[dict[str, Any]], entries: list[dict[str, Any]]) -> None:
    """Adds to each shaped timeline entry the path of its correction form, where offered."""
    offered = {e["version"] for e in entries if may_correct(caller, issue, e)}
    for shaped in timeline:
        if shaped["version"] in offered:
            shaped["correct"] = f"/issues/{issue.id}/corrections/new?version={shaped['version']}"
