"""Who may do what to which object: the write rules, each checked per object, in one place.
The read rules are application.read_policy."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from application.errors import Forbidden
from domain.issue import RectificationIssue

AGENCY, SUPERVISOR, INSPECTOR, ADMIN = "agency", "supervisor", "inspector", "admin"


@dataclass(frozen=True)
class Actor:
    user_id: UUID
    name: str
    unit: str
    role: str
    # The bearer token this request signed in with; None for a dashboard session.
    token_id: UUID | None = None


def require_role(actor: Actor, *roles: str, doing: str, rule: str) -> None:
    if actor.role not in roles:
        raise Forbidden(f"当前角色无权{doing}", rule=f"role_may_not_{rule}")


def may_adopt_measure(actor: Actor, issue: RectificationIssue, owner: str) -> None:
    require_role(actor, AGENCY, doing="制定整改措施", rule="adopt_measure")
    if not issue.is_responsible(actor.unit):
        raise Forbidden("本单位不是该问题的责任单位", rule="agency_acts_only_on_own_issues")
    if owner != actor.unit:
        raise Forbidden("只能为本单位制定整改措施", rule="agency_adopts_only_own_measures")


def may_act_on_measure(actor: Actor, issue: RectificationIssue, measure_unit: str) -> None:
    if actor.role != AGENCY or not issue.is_responsible(actor.unit):
        raise Forbidden("本单位不是该问题的责任单位", rule="agency_acts_only_on_own_issues")
    if measure_unit != actor.unit:
        raise Forbidden("只有该整改措施的责任单位可以报送进展或办结", rule="only_measure_unit_reports")


def may_correct_something(actor: Actor) -> None:
    if actor.role not in (SUPERVISOR, AGENCY):
        raise Forbidden("只有原记录人或督查督办人员可以更正", rule="only_author_or_supervisor_corrects")


def may_correct(actor: Actor, entry_user: str) -> None:
    if actor.role == SUPERVISOR:
        return
    if actor.role == AGENCY and actor.name == entry_user:
        return
    raise Forbidden("只有原记录人或督查督办人员可以更正", rule="only_author_or_supervisor_corrects")

