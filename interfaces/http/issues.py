"""Plans and rectification issues (整改问题): thin handlers over the Ledger application."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import Response

from application.commands import Accepted, Command
from application.evidence import named_digests
from application.problem_list_import import import_problem_list, plan_issues_for_export
from application.read_policy import POLICY
from domain.issue import STATUSES, RectificationIssue
from domain.urging import shown as shown_urgings
from infrastructure.spreadsheets.grid import read_grid
from infrastructure.spreadsheets.problem_list_export import problem_list_workbook
from infrastructure.spreadsheets.views_export import content_disposition, download_names
from interfaces.bootstrap import Services
from interfaces.http import filters, schemas as s
from interfaces.http.deps import ActorDep, AsOfDep, CommandDep, ServicesDep, created, described, with_time
from interfaces.http.evidence import EVIDENCE_IS_STORED
from interfaces.http.problems import refused_by
from projections import issues as issue_fold
from projections.indicators import day_of

router = APIRouter(prefix="/api/v1", tags=["整改问题"])

CREATED: dict[str, Any] = {"status_code": 201}
Status = Literal[STATUSES]  # type: ignore[valid-type]


def describe_issue(issue: RectificationIssue) -> dict[str, Any]:
    return {
        **described(issue, "plan_id", "seq", "duty", "problem", "remarks", "status", "units", "lead_unit", "co_units",
                    "contact_person", "deadline", "nodes"),
        "measures": list(issue.measures.values()),
        "urgings": shown_urgings(issue.urgings),
        "extensions": issue.extensions,
        "extension_requests": list(issue.extension_requests.values()),
        "evaluations": [issue.evaluations[y] for y in sorted(issue.evaluations)],
        "corrections": issue.corrections,
        "recorded_at": issue.created_on,
        "modified_at": issue.modified_on,
    }


@router.post("/plans", response_model=s.Accepted, **CREATED, summary="登记实施方案")
def register_plan(body: s.PlanIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return created(svc.issues.register_plan(
        cmd, number=body.number, title=body.title, issuer_unit=body.issuer_unit, year=body.year
    ))


@router.get("/plans/{plan_id}", response_model=s.PlanOut, summary="查看实施方案")
def get_plan(plan_id: UUID, _: ActorDep, svc: ServicesDep) -> Any:
    plan = svc.issues.plan(plan_id)
    return svc.ledger.unit_names.annotate(described(plan, "number", "title", "issuer_unit", "year"))


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_SHEET_BYTES = 10 * 1024 * 1024


@router.post("/plans/{plan_id}/problem-list", response_model=s.ImportReport, summary="导入问题清单（.xlsx/.csv）",
             responses=refused_by(
                 422, spreadsheet_format_supported="文件不是 .xlsx 或 .csv（含旧版 .xls）",
                 spreadsheet_readable="不是有效的 .xlsx 工作簿", spreadsheet_not_empty="文件是空的",
                 spreadsheet_encoding_known=".csv 的编码无法识别", spreadsheet_has_sheet="工作簿中没有工作表",
                 spreadsheet_within_size="文件超过大小上限", spreadsheet_within_rows="行数超过上限",
                 spreadsheet_within_columns="列数超过上限", spreadsheet_within_cells="单元格数超过上限"))
def import_list(
    plan_id: UUID, cmd: CommandDep, svc: ServicesDep, file: Annotated[UploadFile, File(description="问题清单 .xlsx 或 .csv")],
    dry_run: bool = False,
) -> Any:
    data = file.file.read(MAX_SHEET_BYTES + 1)
    grid = read_grid(data, file.filename or "")
    return svc.ledger.unit_names.annotate(import_problem_list(svc.issues, cmd, plan_id, grid, dry_run=dry_run))


@router.get("/plans/{plan_id}/problem-list.xlsx", summary="导出问题清单（含当前状态）",
            responses={200: {"content": {XLSX: {}}}}, response_class=Response)
def export_list(plan_id: UUID, caller: ActorDep, svc: ServicesDep) -> Response:
    plan = svc.issues.plan(plan_id)
    title = f"{plan.number}问题清单"
    body = problem_list_workbook(plan_issues_for_export(svc.issues, plan_id, caller), title=title)
    named = download_names("problem-list", day_of(svc.ledger.clock()), plan.number)  # type: ignore[arg-type]
    return Response(body, media_type=XLSX, headers={"Content-Disposition": content_disposition(*named)})


@router.post("/issues", response_model=s.IssueAccepted, **CREATED, summary="登记整改问题")
def register_issue(body: s.IssueIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    measures = [
        (None, m, None) if isinstance(m, str) else (m.unit, m.text, m.due) for m in body.measures
    ]
    return svc.issues.register_issue(
        cmd, plan=body.plan_id, seq=body.seq, duty=body.duty, problem=body.problem,
        units=body.units, measures=measures, remarks=body.remarks,
    ).answer()


@router.get("/issues", response_model=list[s.IssueSummary], summary="整改问题列表", responses=refused_by(
    422, unit_is_known="unit 不是已登记的单位或单位组代码", plan_is_known="plan 不是已登记的实施方案"))
def list_issues(
    caller: ActorDep,
    svc: ServicesDep,
    unit: Annotated[str | None, Query(max_length=64, description="单位代码或单位组代码")] = None,
    status: Annotated[Status | None, Query(description="、".join(STATUSES))] = None,
    plan: Annotated[UUID | None, Query(description="实施方案 id")] = None,
) -> Any:
    scope = POLICY.scope(caller)  # first: a reader refused lists learns nothing of the filters
    units = filters.unit_codes(svc.registry, unit)
    filters.plan(svc.issues, plan)
    # Lists read the views' briefs of the summaries (no aggregate replays), caught up to
    # what is stored now.
    svc.views.wait_for(svc.ledger.recorder.max_notification_id())
    rows, names = [], svc.ledger.unit_names
    for summary in svc.views.readable_briefs(scope, kinds=(issue_fold.KIND,)):
        current = issue_fold.status_of(summary)
        if (units and units.isdisjoint(summary["units"])) or (status and current != status) or (
            plan and summary["plan_id"] != str(plan)
        ):
            continue
        measures = list(summary["measures"].values())
        rows.append({
            "id": summary["id"], "version": summary["version"], "plan_id": summary["plan_id"],
            "seq": summary["seq"], "duty": summary["duty"], "status": current, "units": summary["units"],
            "unit_names": [names(u) for u in summary["units"]],
            "lead_unit": summary["lead_unit"], "lead_unit_name": names(summary["lead_unit"]) if summary["lead_unit"] else None,
            "deadline": summary["deadline"],
            "measures_total": len(measures), "measures_done": sum(1 for m in measures if m["status"] == "completed"),
        })
    return sorted(rows, key=lambda r: (r["plan_id"], r["seq"]))


@router.get("/issues/{issue_id}", response_model=s.IssueOut, summary="查看整改问题（可按时间点回放）")
def get_issue(issue_id: UUID, caller: ActorDep, svc: ServicesDep, when: AsOfDep) -> Any:
    issue = describe_issue(svc.issues.read_issue(caller, issue_id, as_of=when))
    return {**svc.ledger.unit_names.annotate(issue), "as_of": when}


@router.get("/issues/{issue_id}/events", response_model=list[s.HistoryEntry], summary="整改问题的全部记录")
def issue_events(issue_id: UUID, caller: ActorDep, svc: ServicesDep) -> Any:
    return svc.ledger.unit_names.annotate([
        {**{k: v for k, v in e.items() if k != "fields"}, **e["fields"]}
        for e in svc.issues.issue_history(caller, issue_id)
    ])


@router.post("/issues/{issue_id}/assignment", response_model=s.Accepted, **CREATED, summary="交办")
def assign(issue_id: UUID, body: s.AssignmentIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return created(svc.issues.assign_issue(
        with_time(cmd, body.occurred_at), issue_id, lead_unit=body.lead_unit, co_units=body.co_units,
        contact_person=body.contact_person, deadline=body.deadline, nodes=body.nodes,
    ))


@router.post("/issues/{issue_id}/measures", response_model=s.MeasureAccepted, **CREATED, summary="制定整改措施")
def adopt_measure(issue_id: UUID, body: s.MeasureIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return svc.issues.adopt_measure(
        with_time(cmd, body.occurred_at), issue_id, unit=body.unit, text=body.text, due=body.due
    ).answer()


@router.post("/issues/{issue_id}/measures/{measure_id}/progress", response_model=s.Accepted, **CREATED,
             responses=EVIDENCE_IS_STORED, summary="报送阶段性进展")
def report_progress(issue_id: UUID, measure_id: str, body: s.ProgressIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return _naming_evidence(svc.issues.report_progress, issue_id, measure_id, body, cmd, svc)


@router.post("/issues/{issue_id}/measures/{measure_id}/completion", response_model=s.Accepted, **CREATED,
             responses=EVIDENCE_IS_STORED, summary="整改措施办结")
def complete_measure(issue_id: UUID, measure_id: str, body: s.CompletionIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return _naming_evidence(svc.issues.complete_measure, issue_id, measure_id, body, cmd, svc)


def _naming_evidence(
    command: Callable[..., Accepted], issue_id: UUID, measure_id: str, body: s.ProgressIn | s.CompletionIn,
    cmd: Command, svc: Services,
) -> Any:
    """A measure's progress or completion: a summary and the stored files it names."""
    evidence = [{"name": e.name, "sha256": e.sha256.lower()} for e in body.evidence]
    return created(svc.evidence.naming(cmd.actor, named_digests(evidence), issue_id, lambda: command(
        with_time(cmd, body.occurred_at), issue_id, measure_id[:32], summary=body.summary, evidence=evidence,
    )))


@router.post("/issues/{issue_id}/urgings", response_model=s.UrgingAccepted, **CREATED, summary="催办")
def urge(issue_id: UUID, body: s.UrgingIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return svc.issues.urge(
        with_time(cmd, body.occurred_at), issue_id, unit=body.unit, message=body.message, reply_by=body.reply_by
    ).answer()


@router.post("/issues/{issue_id}/urgings/{urging_id}/reply", response_model=s.UrgingReplyAccepted, **CREATED,
             summary="回复催办", responses=refused_by(
                 409, only_urged_unit_replies="不是被催办的单位", urging_replied_once="该催办已回复",
                 reply_not_before_urging="occurred_at 早于催办时间"))
def reply_to_urging(issue_id: UUID, urging_id: str, body: s.UrgingReplyIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return svc.issues.reply_to_urging(with_time(cmd, body.occurred_at), issue_id, urging_id[:16],
                                      message=body.message).answer()


# A deadline asked for or granted must be later than the one in force: what the ledger holds.
_LATER_DEADLINE = refused_by(422, extension_moves_deadline_later="deadline 不晚于当前的整改期限")


@router.post("/issues/{issue_id}/extension-requests", response_model=s.ExtensionRequestAccepted, **CREATED,
             summary="申请延期", responses={**_LATER_DEADLINE, **refused_by(
                 409, extension_needs_a_deadline="问题尚未交办、没有整改期限",
                 one_pending_extension_request_per_unit="本单位已有一项延期申请尚待审批")})
def request_extension(issue_id: UUID, body: s.ExtensionIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return svc.issues.request_extension(
        with_time(cmd, body.occurred_at), issue_id, deadline=body.deadline, reason=body.reason
    ).answer()


@router.post("/issues/{issue_id}/extension-requests/{request_id}/decision", response_model=s.Accepted, **CREATED,
             summary="审批延期申请", responses={**_LATER_DEADLINE, **refused_by(
                 409, extension_request_decided_once="该延期申请已审批",
                 extension_needs_a_deadline="问题没有整改期限")})
def decide_extension(issue_id: UUID, request_id: str, body: s.ExtensionDecisionIn, cmd: CommandDep,
                     svc: ServicesDep) -> Any:
    return svc.issues.decide_extension(with_time(cmd, body.occurred_at), issue_id, request_id[:16],
                                       approved=body.approved, reason=body.reason).answer()


@router.post("/issues/{issue_id}/deadline-extensions", response_model=s.Accepted, **CREATED, summary="延期",
             responses=_LATER_DEADLINE)
def extend_deadline(issue_id: UUID, body: s.ExtensionIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return created(svc.issues.extend_deadline(
        with_time(cmd, body.occurred_at), issue_id, deadline=body.deadline, reason=body.reason
    ))


@router.post("/issues/{issue_id}/evaluations", response_model=s.Accepted, **CREATED, summary="年终考核")
def evaluate(issue_id: UUID, body: s.EvaluationIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return created(svc.issues.evaluate_issue(
        with_time(cmd, body.occurred_at), issue_id, year=body.year, grade=body.grade, score=body.score,
        findings=body.findings,
    ))


@router.post("/issues/{issue_id}/closure", response_model=s.Accepted, **CREATED, summary="销号")
def close(issue_id: UUID, body: s.ClosureIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return created(svc.issues.close_issue(with_time(cmd, body.occurred_at), issue_id, summary=body.summary))


@router.post("/issues/{issue_id}/reopening", response_model=s.Accepted, **CREATED, summary="重新打开")
def reopen(issue_id: UUID, body: s.ReopeningIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return created(svc.issues.reopen_issue(with_time(cmd, body.occurred_at), issue_id, reason=body.reason))


@router.post("/issues/{issue_id}/corrections", response_model=s.Accepted, **CREATED, summary="更正记录")
def correct(issue_id: UUID, body: s.CorrectionIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    return created(svc.evidence.naming(cmd.actor, named_digests(body.changes.get("evidence")), issue_id, lambda: svc.issues.correct_issue_entry(
        with_time(cmd, body.occurred_at), issue_id, position=body.position, changes=body.changes,
        reason=body.reason,
    )))
