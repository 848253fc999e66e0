"""Importing a 问题清单 into a plan: each accepted row becomes an issue, once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from application.access import SUPERVISOR, Actor
from application.problem_list import ProblemRow, read_problem_list
from application.read_policy import POLICY
from application.unit_resolution import UnitDirectory
from domain.issue import RectificationIssue, issue_id
from domain.registry import Unit, UnitGroup

if TYPE_CHECKING:
    from application.commands import Command
    from application.issues import Issues
    from application.ledger import Ledger

CREATED, WOULD_CREATE, UNCHANGED, CHANGED, REFUSED = "created", "would_create", "unchanged", "changed", "refused"


# What changes a unit directory: a unit's name and code are those it was registered with.
DIRECTORY_EVENTS = (Unit.Registered, UnitGroup.Founded, UnitGroup.MemberAdmitted)  # type: ignore[attr-defined]


def unit_directory(ledger: Ledger) -> UnitDirectory:
    """Every registered unit by name and every group by code, from the log; kept until a
    unit or group is registered or a member admitted (shared: never change it)."""
    return ledger.derived("unit_directory", DIRECTORY_EVENTS, lambda: _unit_directory(ledger))


def _unit_directory(ledger: Ledger) -> UnitDirectory:
    units: dict[str, str] = {}
    groups: dict[str, list[str]] = {}
    for aggregate in ledger.registered(Unit.Registered, UnitGroup.Founded):  # type: ignore[attr-defined]
        if isinstance(aggregate, Unit):
            units[aggregate.name] = aggregate.code
        elif isinstance(aggregate, UnitGroup):
            groups[aggregate.code] = list(aggregate.members)
    return UnitDirectory(units=units, groups=groups)


def import_problem_list(
    issues: Issues, cmd: Command, plan: UUID, grid: Sequence[Sequence[str]], *, dry_run: bool
) -> dict[str, Any]:
    """Reads the grid; a real run registers every accepted row not already in the plan.

    A row whose 序号 is already in the plan is reported ``unchanged`` when its content
    fingerprint matches what was imported, ``changed`` otherwise — never imported twice.
    """
    POLICY.require_role(cmd.actor, SUPERVISOR, doing="导入问题清单", rule="import_problem_list")
    issues.plan(plan)
    report = read_problem_list(grid, unit_directory(issues.ledger))
    rows = []
    for row in report.rows:
        outcome, extra = _outcome(issues, cmd, plan, row, dry_run=dry_run)
        rows.append({**row.as_dict(), "outcome": outcome, **extra})
    counts = {name: sum(1 for r in rows if r["outcome"] == name)
              for name in (CREATED, WOULD_CREATE, UNCHANGED, CHANGED, REFUSED)}
    return {"plan_id": plan, "dry_run": dry_run, "rows_read": len(rows), "counts": counts, "rows": rows}


def _outcome(issues: Issues, cmd: Command, plan: UUID, row: ProblemRow, *, dry_run: bool) -> tuple[str, dict[str, Any]]:
    if not row.accepted or row.seq is None:
        return REFUSED, {}
    existing = issue_id(plan, row.seq)
    try:
        issue = cast(RectificationIssue, issues.ledger.repository.get(existing))
    except AggregateNotFoundError:
        issue = None
    if issue is not None:
        imported = (issue.source_row or {}).get("fingerprint")
        return (UNCHANGED if imported == row.fingerprint else CHANGED), {"issue_id": issue.id}
    if dry_run:
        return WOULD_CREATE, {}
    if cmd.idempotency_key:
        # One upload registers many issues: each row keeps its own answer, under the upload's key.
        cmd = replace(cmd, idempotency_key=f"{cmd.idempotency_key}#{row.seq}")
    accepted = issues.register_issue(
        cmd, plan=plan, seq=row.seq, duty=row.duty, problem=row.problem, units=list(row.units),
        measures=[(m.unit, m.text, None) for m in row.measures], remarks=row.remarks,
        source_row={"fingerprint": row.fingerprint, "lines": list(row.lines), "unit_names": list(row.unit_names)},
    )
    return CREATED, {"issue_id": accepted.id, "position": accepted.position}


def plan_issues_for_export(issues: Issues, plan: UUID, reader: Actor) -> list[dict[str, Any]]:
    """A plan's issues that ``reader`` reads (application.read_policy), in the problem
    list's own terms (unit names, measure texts), by 序号."""
    POLICY.scope(reader)  # a role that reads no issues is refused, not given an empty list
    issues.plan(plan)
    ledger = issues.ledger
    names = {code: name for name, code in unit_directory(ledger).units.items()}
    found = sorted((i for i in ledger.registered(RectificationIssue.Registered)  # type: ignore[attr-defined]
                    if isinstance(i, RectificationIssue) and i.plan_id == plan
                    and POLICY.may_read_issue(reader, i)), key=lambda i: i.seq)
    rows = []
    for issue in found:
        written = (issue.source_row or {}).get("unit_names")
        measures = list(issue.measures.values())
        rows.append({
            "seq": issue.seq,
            "units": list(written) if written else [names.get(u, u) for u in issue.units],
            "duty": issue.duty, "problem": issue.problem, "measures": [m["text"] for m in measures],
            "remarks": issue.remarks, "status": issue.status,
            "lead_unit": names.get(issue.lead_unit, issue.lead_unit) if issue.lead_unit else None,
            "deadline": issue.deadline,
            "measures_done": sum(1 for m in measures if m["status"] == "completed"),
            "measures_total": len(measures),
        })
    return rows
