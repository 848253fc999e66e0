"""Plans (实施方案) and their rectification issues (整改问题): the commands and the reads.

A command on an existing issue is one ``_change``: who may do it (application.read_policy),
then the issue's own method, which decides the rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from application.access import SUPERVISOR, Actor
from application.audit import AuditTrail
from application.commands import Accepted, Command, CommandRunner
from application.errors import Forbidden, NotFound
from application.family import FamilyService
from application.read_policy import POLICY
from application.registry import Registry
from application.rubric import RUBRIC_VERSION
from domain.base import LedgerAggregate, RuleViolated, Stamp
from domain.issue import RectificationIssue, issue_id
from domain.issue_corrections import CORRECTIONS
from domain.plan import Plan, plan_id

ISSUE = "整改问题"


class Issues(FamilyService[RectificationIssue]):
    def __init__(self, runner: CommandRunner, registry: Registry, trail: AuditTrail) -> None:
        super().__init__(runner, registry, trail, kind=RectificationIssue, what=ISSUE, readable=POLICY.require_issue)

    # ---- plans ------------------------------------------------------------------------

    def register_plan(self, cmd: Command, *, number: str, title: str, issuer_unit: str, year: int) -> Accepted:
        POLICY.require_role(cmd.actor, SUPERVISOR, doing="登记实施方案", rule="register_plan")
        self.registry.units([issuer_unit])

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            if self.ledger.exists(plan_id(number)):
                raise RuleViolated("plan_number_unique", "该文号的实施方案已经登记")
            return Plan.register(stamp, number=number, title=title, issuer_unit=issuer_unit, year=year), [], {}

        return self.runner.run(cmd, act)

    def plan(self, plan: UUID) -> Plan:
        return self.ledger.load(Plan, plan, "实施方案")

    # ---- commands on issues -------------------------------------------------------------

    def register_issue(
        self,
        cmd: Command,
        *,
        plan: UUID,
        seq: int,
        duty: str,
        problem: str,
        units: list[str],
        measures: list[tuple[str | None, str, date | None]] = (),  # type: ignore[assignment]
        remarks: str = "",
        source_row: dict[str, Any] | None = None,
    ) -> Accepted:
        POLICY.require_role(cmd.actor, SUPERVISOR, doing="登记整改问题", rule="register_issue")
        self.plan(plan)
        responsible = self.registry.units(units)
        owners = [self.registry.units([owner])[0] if owner else responsible[0] for owner, _, _ in measures]

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            if self.ledger.exists(issue_id(plan, seq)):
                raise RuleViolated("issue_seq_unique_in_plan", f"该实施方案已有序号为{seq}的整改问题")
            issue = RectificationIssue.register(
                stamp, plan_id=plan, seq=seq, duty=duty, problem=problem, units=responsible,
                remarks=remarks, source_row=source_row,
            )
            ids = [
                issue.adopt_measure(stamp, owner=owner, text=text, due=due)
                for owner, (_, text, due) in zip(owners, measures, strict=True)
            ]
            return issue, [], {"measure_ids": ids} if ids else {}

        return self.runner.run(cmd, act)

    def _supervisor(self, cmd: Command, doing: str, rule: str) -> Callable[[RectificationIssue], None]:
        return lambda _issue: POLICY.require_role(cmd.actor, SUPERVISOR, doing=doing, rule=rule)

    def assign_issue(
        self, cmd: Command, issue: UUID, *, lead_unit: str, co_units: list[str],
        contact_person: str, deadline: date, nodes: list[date],
    ) -> Accepted:
        lead = self.registry.units([lead_unit])
        co = self.registry.units(co_units)
        return self._change(
            cmd, issue, self._supervisor(cmd, "交办", "assign"),
            lambda i, s: i.assign(
                s, lead_unit=lead[0], co_units=[*lead[1:], *co], contact_person=contact_person,
                deadline=deadline, nodes=nodes,
            ),
        )

    def adopt_measure(self, cmd: Command, issue: UUID, *, unit: str, text: str, due: date | None) -> Accepted:
        owner = self.registry.one_unit(
            unit, Forbidden("整改措施须由一个单位负责，不能指定单位组", rule="measure_has_one_owner")
        )
        return self._change(
            cmd, issue,
            lambda i: POLICY.may_adopt_measure(cmd.actor, i, owner),
            lambda i, s: {"measure_id": i.adopt_measure(s, owner=owner, text=text, due=due)},
        )

    def _on_measure(self, cmd: Command, measure_id: str) -> Callable[[RectificationIssue], None]:
        def check(issue: RectificationIssue) -> None:
            try:
                unit = str(issue.measure(measure_id)["unit"])
            except LookupError:
                raise NotFound("该问题没有这项整改措施", rule="measure_exists") from None
            POLICY.may_act_on_measure(cmd.actor, issue, unit)

        return check

    def report_progress(
        self, cmd: Command, issue: UUID, measure_id: str, *, summary: str, evidence: list[dict[str, str]]
    ) -> Accepted:
        return self._change(
            cmd, issue, self._on_measure(cmd, measure_id),
            lambda i, s: i.report_progress(s, measure_id=measure_id, summary=summary, evidence=evidence),
        )

    def complete_measure(
        self, cmd: Command, issue: UUID, measure_id: str, *, summary: str, evidence: Sequence[dict[str, str]] = (),
    ) -> Accepted:
        return self._change(
            cmd, issue, self._on_measure(cmd, measure_id),
            lambda i, s: i.complete_measure(s, measure_id=measure_id, summary=summary, evidence=list(evidence)),
        )

    def urge(self, cmd: Command, issue: UUID, *, unit: str, message: str, reply_by: date) -> Accepted:
        target = self.registry.one_unit(
            unit, Forbidden("催办须指向一个单位，不能指定单位组", rule="urging_has_one_target")
        )
        return self._change(
            cmd, issue, self._supervisor(cmd, "催办", "urge"),
            lambda i, s: {"urging_id": i.urge(s, target=target, message=message, reply_by=reply_by)},
        )

    def extend_deadline(self, cmd: Command, issue: UUID, *, deadline: date, reason: str) -> Accepted:
        return self._change(
            cmd, issue, self._supervisor(cmd, "延期", "extend"),
            lambda i, s: i.extend_deadline(s, deadline=deadline, reason=reason),
        )

    def reply_to_urging(self, cmd: Command, issue: UUID, urging_id: str, *, message: str) -> Accepted:
        def authorise(i: RectificationIssue) -> None:
            try:
                urged = str(i.urging(urging_id)["unit"])
            except LookupError:
                raise NotFound("该问题没有这次催办", rule="urging_exists") from None
            POLICY.may_reply_to_urging(cmd.actor, urged)

        return self._change(cmd, issue, authorise, lambda i, s: {
            "late": i.reply_to_urging(s, urging_id=urging_id, message=message)})

    def request_extension(self, cmd: Command, issue: UUID, *, deadline: date, reason: str) -> Accepted:
        return self._change(
            cmd, issue, lambda i: POLICY.may_request_extension(cmd.actor, i),
            lambda i, s: {"request_id": i.request_extension(s, deadline=deadline, reason=reason)},
        )

    def decide_extension(self, cmd: Command, issue: UUID, request_id: str, *, approved: bool, reason: str) -> Accepted:
        def authorise(i: RectificationIssue) -> None:
            POLICY.require_role(cmd.actor, SUPERVISOR, doing="审批延期申请", rule="decide_extension")
            try:
                i.extension_request(request_id)
            except LookupError:
                raise NotFound("该问题没有这项延期申请", rule="extension_request_exists") from None

        return self._change(cmd, issue, authorise, lambda i, s: i.decide_extension(
            s, request_id=request_id, approved=approved, reason=reason))

    def evaluate_issue(
        self, cmd: Command, issue: UUID, *, year: int, grade: str, score: float, findings: str
    ) -> Accepted:
        return self._change(
            cmd, issue, self._supervisor(cmd, "年终考核", "evaluate"),
            lambda i, s: i.evaluate(
                s, year=year, grade=grade, score=score, findings=findings, rubric_version=RUBRIC_VERSION
            ),
        )

    def close_issue(self, cmd: Command, issue: UUID, *, summary: str) -> Accepted:
        return self._change(
            cmd, issue, self._supervisor(cmd, "销号", "close"), lambda i, s: i.close(s, summary=summary)
        )

    def reopen_issue(self, cmd: Command, issue: UUID, *, reason: str) -> Accepted:
        return self._change(
            cmd, issue, self._supervisor(cmd, "重新打开", "reopen"), lambda i, s: i.reopen(s, reason=reason)
        )

    def correct_issue_entry(
        self, cmd: Command, issue: UUID, *, position: int, changes: dict[str, Any], reason: str
    ) -> Accepted:
        versions: list[int] = []

        def authorise(target: RectificationIssue) -> None:
            # Who may touch this issue at all is decided before anything about its entries is told.
            POLICY.require_responsible(cmd.actor, target)
            POLICY.may_correct_something(cmd.actor)
            # Set, not appended: a command tried on a held copy is authorised again on a fresh load.
            versions[:] = [self.ledger.corrected_version(target, position, CORRECTIONS)]
            POLICY.may_correct(cmd.actor, target, versions[0])

        return self._change(
            cmd, issue, authorise,
            lambda i, s: i.correct(s, corrected_version=versions[0], position=position, changes=changes, reason=reason),
        )

    # ---- reads --------------------------------------------------------------------------

    def issue(self, issue: UUID, *, as_of: datetime | None = None) -> RectificationIssue:
        if as_of is None:
            return self.ledger.load(RectificationIssue, issue, ISSUE)
        return self.ledger.as_of(RectificationIssue, issue, ISSUE, as_of)

    def issue_ids(self) -> list[UUID]:
        """Every registered issue, in registration order."""
        return self.ledger.created_ids(RectificationIssue.Registered)  # type: ignore[attr-defined]

    def read_issue(self, actor: Actor, issue: UUID, *, as_of: datetime | None = None) -> RectificationIssue:
        """The issue now or at ``as_of``, for a reader of it (application.read_policy); who
        reads follows the issue now, as in ``issue_as_of``."""
        POLICY.require_issue(actor, self.issue(issue))
        return self.issue(issue, as_of=as_of) if as_of is not None else self.issue(issue)

    def issue_history(self, actor: Actor, issue: UUID) -> list[dict[str, Any]]:
        POLICY.require_issue(actor, self.issue(issue))
        return self.trail.history(issue)

    def issue_as_of(
        self, actor: Actor, issue: UUID, as_of: datetime | None = None
    ) -> tuple[RectificationIssue, list[dict[str, Any]]]:
        """The issue as the ledger held it at ``as_of`` and the entries recorded by then, for
        a reader of its history. Access follows the issue's parties now, not then: a unit
        removed from an issue no longer reads it, one added reads its past too."""
        history = self.issue_history(actor, issue)
        if as_of is None:
            return self.issue(issue), history
        return self.issue(issue, as_of=as_of), [e for e in history if e["recorded_at"] <= as_of]
