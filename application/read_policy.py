"""Who may read and do what: the one policy of the API, the dashboard, the exports and the
command line. Every command service and every read asks ``POLICY``; no interface decides
by role itself.

Reads.

An agency reads an issue its unit is party to (leads it, shares it, owns one of its measures or
was urged on it) and a case its unit registered or has a referral for (open or ended); its
views and exports hold only those rows. Supervisors and inspectors read everything. Admins
read the registry, access and audit metadata: never issues, cases, views or personal fields.
A province inspector (a user of a province deployment's own schema) reads the audit metadata of
the province and of every district (interfaces.deployment) and the province's roll-up: never the
events' content, issues, cases, views or personal fields, and does nothing.

Two kinds of refusal, on purpose:
- an object the actor's unit is not party to reads as missing (NotFound, 404), the same
  answer as an id that does not exist, so an agency cannot probe which ids exist; lists and
  views leave it out;
- a role that may not read a kind of thing at all is refused whatever the object
  (Forbidden, 403): the answer tells nothing about any object.

The rules take plain values (unit codes, the measures' and urgings' mappings), so the same
rule reads an aggregate and a view's brief of it: both keep ``units``, ``measures`` (each
with its ``unit``) and ``urgings`` (each with the urged ``unit``), and a case's
``registering_unit`` and ``referrals`` (each with its ``unit``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from application.access import ADMIN, AGENCY, INSPECTOR, PROVINCE_INSPECTOR, SUPERVISOR, Actor
from application.errors import Forbidden, NotFound
from domain.case import ChildCase
from domain.correction import CorrectableAggregate
from domain.issue import RectificationIssue

READS_EVERYTHING = (SUPERVISOR, INSPECTOR)


@dataclass(frozen=True)
class ReadScope:
    """The rows of lists, views and exports an actor reads: every row (``unit`` None), or
    those of the issues and cases one unit is party to and that unit's own rows."""

    unit: str | None = None

    @property
    def everything(self) -> bool:
        return self.unit is None

    # Asked of every brief of a district for an agency's list (tens of thousands): these stop
    # at the first match instead of building a set of the parties.

    def reads_issue(self, units: Iterable[str], measures: Iterable[Mapping[str, Any]],
                    urgings: Iterable[Mapping[str, Any]]) -> bool:
        unit = self.unit
        return (unit is None or unit in units or any(m["unit"] == unit for m in measures)
                or any(u["unit"] == unit for u in urgings))

    def reads_case(self, registering_unit: str, referrals: Iterable[Mapping[str, Any]]) -> bool:
        unit = self.unit
        return unit is None or unit == registering_unit or any(r["unit"] == unit for r in referrals)

    def reads_unit_row(self, unit: str) -> bool:
        """A row about one unit (counts per unit): only the agency's own."""
        return self.unit is None or unit == self.unit


EVERYTHING = ReadScope()


class Policy:
    """Every read and write rule, per object, in one place."""

    def reads_ledger(self, actor: Actor) -> bool:
        """Whether the actor reads issues, cases and views at all (within its scope)."""
        return actor.role in (*READS_EVERYTHING, AGENCY)

    def scope(self, actor: Actor) -> ReadScope:
        """What the actor's lists, views and exports hold; admins are refused them."""
        if actor.role in READS_EVERYTHING:
            return EVERYTHING
        if actor.role == AGENCY:
            return ReadScope(actor.unit)
        if actor.role == PROVINCE_INSPECTOR:
            raise Forbidden("省级督查只能查看各区县的审计元数据，不能查看整改问题、个案和台账",
                            rule="province_inspector_reads_audit_metadata_only")
        raise Forbidden("管理员只能查看单位、用户、访问和审计元数据，不能查看整改问题、个案和台账",
                        rule="admin_reads_registry_and_audit_metadata_only")

    def may_read_issue(self, actor: Actor, issue: RectificationIssue) -> bool:
        return self.scope(actor).reads_issue(issue.units, issue.measures.values(), issue.urgings)

    def require_issue(self, actor: Actor, issue: RectificationIssue) -> None:
        if not self.may_read_issue(actor, issue):
            raise NotFound("没有这个整改问题", rule="rectificationissue_exists")

    def may_read_case(self, actor: Actor, case: ChildCase) -> bool:
        return self.scope(actor).reads_case(case.registering_unit, case.referrals.values())

    def require_case(self, actor: Actor, case: ChildCase) -> None:
        if not self.may_read_case(actor, case):
            raise NotFound("没有这个儿童个案", rule="childcase_exists")

    def may_read_personal(self, actor: Actor, case: ChildCase) -> bool:
        """A child's personal fields: supervisors, inspectors, and the units the case is
        referred to while the referral is open. The registering unit, and units whose
        referral has ended, read the case without them. Admins never."""
        if actor.role in READS_EVERYTHING:
            return True
        return actor.role == AGENCY and case.is_referred_to(actor.unit)

    def require_personal(self, actor: Actor, case: ChildCase) -> None:
        """Asked for on purpose (the dashboard's 查看个人信息): refused, not left out."""
        self.require_case(actor, case)
        if not self.may_read_personal(actor, case):
            raise Forbidden("当前角色或单位无权查看该儿童的个人信息", rule="role_may_not_read_personal_data")

    def require_access_log(self, actor: Actor) -> None:
        """Who read a child's personal fields: supervisors and inspectors."""
        if actor.role not in READS_EVERYTHING:
            raise Forbidden("当前角色无权查看个人信息查阅记录", rule="role_may_not_read_access_log")

    def reads_audit(self, actor: Actor) -> bool:
        """The global log's metadata (positions, types, recorders, units, times, leaf hashes)
        and the Merkle proofs: supervisors, inspectors, admins and province inspectors."""
        return actor.role in (*READS_EVERYTHING, ADMIN, PROVINCE_INSPECTOR)

    def require_audit(self, actor: Actor) -> None:
        if not self.reads_audit(actor):
            raise Forbidden("当前角色无权查看审计日志", rule="role_may_not_read_audit")

    def reads_districts_audit(self, actor: Actor, *, of_province: bool) -> bool:
        """Another district's audit metadata, named by its code: the province inspector only,
        signed in with the province's own credential (``of_province``); each district's own
        users read their own district's, signed in there."""
        return of_province and actor.role == PROVINCE_INSPECTOR

    def require_districts_audit(self, actor: Actor, *, of_province: bool) -> None:
        if not self.reads_districts_audit(actor, of_province=of_province):
            raise Forbidden("只有省级督查可以查看各区县的审计日志", rule="province_inspector_reads_districts")

    def reads_rollup(self, actor: Actor, *, of_province: bool) -> bool:
        """The province's roll-up (counts and response times per district and kind of unit,
        nothing personal): the province inspector, and the supervisors, inspectors and admins
        of the province's own store (``of_province``: signed in there); never a district's users."""
        return of_province and actor.role in (PROVINCE_INSPECTOR, *READS_EVERYTHING, ADMIN)

    def require_rollup(self, actor: Actor, *, of_province: bool) -> None:
        if not self.reads_rollup(actor, of_province=of_province):
            raise Forbidden("只有省级用户可以查看全省督查汇总", rule="province_reads_rollup")

    def administers(self, actor: Actor) -> bool:
        """Users, tokens and the registry's administration."""
        return actor.role == ADMIN

    def reads_audit_content(self, actor: Actor) -> bool:
        """The stored event itself (the leaf object: issue texts, a case's street and birth
        date, sealed fields as ciphertext): supervisors and inspectors, not admins."""
        return actor.role in READS_EVERYTHING

    def keeps_unit_todo(self, actor: Actor) -> bool:
        """A 待办 page of what waits on one unit (its measures, urgings, referrals): the staff
        of a responsible unit, whose page it is after signing in."""
        return actor.role == AGENCY

    def require_unit_todo(self, actor: Actor) -> None:
        if not self.keeps_unit_todo(actor):
            raise Forbidden("待办页面供责任单位使用", rule="unit_todo_for_agencies")


    # ---- writes ----------------------------------------------------------------------

    def require_role(self, actor: Actor, *roles: str, doing: str, rule: str) -> None:
        if actor.role not in roles:
            raise Forbidden(f"当前角色无权{doing}", rule=f"role_may_not_{rule}")

    def may_adopt_measure(self, actor: Actor, issue: RectificationIssue, owner: str) -> None:
        self.require_role(actor, AGENCY, doing="制定整改措施", rule="adopt_measure")
        self.require_responsible(actor, issue)
        if owner != actor.unit:
            raise Forbidden("只能为本单位制定整改措施", rule="agency_adopts_only_own_measures")

    def may_act_on_measure(self, actor: Actor, issue: RectificationIssue, measure_unit: str) -> None:
        if actor.role != AGENCY:
            raise Forbidden("本单位不是该问题的责任单位", rule="agency_acts_only_on_own_issues")
        self.require_responsible(actor, issue)
        if measure_unit != actor.unit:
            raise Forbidden("只有该整改措施的责任单位可以报送进展或办结", rule="only_measure_unit_reports")

    def require_responsible(self, actor: Actor, issue: RectificationIssue) -> None:
        """An agency acts only on issues its unit is responsible for."""
        if actor.role == AGENCY and not issue.is_responsible(actor.unit):
            raise Forbidden("本单位不是该问题的责任单位", rule="agency_acts_only_on_own_issues")

    def may_reply_to_urging(self, actor: Actor, urged_unit: str) -> None:
        """An urging is answered by the staff of the unit urged, and by nobody else."""
        if actor.role != AGENCY or actor.unit != urged_unit:
            raise Forbidden("只有被催办的单位可以回复该催办", rule="only_urged_unit_replies")

    def may_request_extension(self, actor: Actor, issue: RectificationIssue) -> None:
        if actor.role != AGENCY or not issue.is_responsible(actor.unit):
            raise Forbidden("只有该问题的责任单位可以申请延期", rule="only_responsible_unit_requests_extension")

    def may_accept_referral(self, actor: Actor, referred_unit: str) -> None:
        if actor.role != AGENCY or actor.unit != referred_unit:
            raise Forbidden("只有被转介的单位可以接收该转介", rule="only_referred_unit_accepts")

    def require_involved(self, actor: Actor, case: ChildCase) -> None:
        """Supervisors, the registering unit, and units the case is referred to (open referral)."""
        if actor.role == SUPERVISOR:
            return
        if actor.role == AGENCY and (actor.unit == case.registering_unit or case.is_referred_to(actor.unit)):
            return
        raise Forbidden("本单位未登记也未被转介该个案", rule="case_for_supervisors_and_involved_units")

    def may_refer(self, actor: Actor, case: ChildCase) -> None:
        if actor.role == SUPERVISOR or (actor.role == AGENCY and actor.unit == case.registering_unit):
            return
        raise Forbidden("只有督查督办人员或登记单位可以转介", rule="referral_by_supervisor_or_registering_unit")

    def may_correct_something(self, actor: Actor) -> None:
        if actor.role not in (SUPERVISOR, AGENCY):
            raise Forbidden("只有原记录人或督查督办人员可以更正", rule="only_author_or_supervisor_corrects")

    def may_correct(self, actor: Actor, target: CorrectableAggregate, version: int) -> None:
        """An entry is corrected by a supervisor or by the agency user who recorded it."""
        entry = target.recorder_of(version)
        if actor.role == SUPERVISOR or (actor.role == AGENCY and entry is not None and actor.name == entry["user"]):
            return
        raise Forbidden("只有原记录人或督查督办人员可以更正", rule="only_author_or_supervisor_corrects")

    def may_revoke_token(self, actor: Actor, owner: UUID) -> bool:
        """An admin revokes any token; a user their own (others' read as missing)."""
        return actor.role == ADMIN or owner == actor.user_id


POLICY = Policy()
