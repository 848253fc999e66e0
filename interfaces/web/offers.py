"""The forms a page offers its reader: those application.read_policy lets them send on what
the page shows (a form not offered is refused the same way if sent anyway)."""

from __future__ import annotations

from collections.abc import Callable

from application.access import SUPERVISOR, Actor
from application.cases import CASE_RULES
from application.errors import Forbidden
from application.read_policy import POLICY
from domain.case import ChildCase
from domain.extension_request import PENDING
from domain.issue import AWAITING_CLOSURE, RectificationIssue
from domain.urging import urging_id

Offer = tuple[str, str]  # (label, path of the form's page)


def permits(check: Callable[[], None]) -> bool:
    try:
        check()
    except Forbidden:
        return False
    return True


def on_issue(actor: Actor, issue: RectificationIssue) -> list[Offer]:
    found: list[Offer] = []
    if permits(lambda: POLICY.may_adopt_measure(actor, issue, actor.unit)):
        found.append(("制定整改措施", f"/issues/{issue.id}/measures/new"))
    for measure in issue.measures.values():
        if measure["status"] != "completed" and permits(
                lambda m=measure: POLICY.may_act_on_measure(actor, issue, str(m["unit"]))):
            path = f"/issues/{issue.id}/measures/{measure['measure_id']}"
            found.append((f"报送进展（措施 {measure['measure_id']}）", f"{path}/progress"))
            found.append((f"报告办结（措施 {measure['measure_id']}）", f"{path}/completion"))
    # A responsible unit's answers to the office (interfaces.web.reply_forms).
    for urging in [] if issue.closed else issue.urgings:
        if urging.get("replied_at") is None and permits(lambda u=urging: POLICY.may_reply_to_urging(actor, str(u["unit"]))):
            found.append((f"回复催办（{urging['reply_by']} 前）", f"/issues/{issue.id}/urgings/{urging_id(urging)}/reply"))
    if not issue.closed and issue.deadline is not None and permits(lambda: POLICY.may_request_extension(actor, issue)):
        found.append(("申请延期", f"/issues/{issue.id}/extension-requests"))
    found.extend(supervisor_on_issue(actor, issue))
    return found


# The supervision office's forms on an issue (interfaces.web.supervision_forms): asked of the
# policy as application.issues asks it; which of 销号 and 重新打开 follows the issue's state.
def supervisor_on_issue(actor: Actor, issue: RectificationIssue) -> list[Offer]:
    if not permits(lambda: POLICY.require_role(actor, SUPERVISOR, doing="交办", rule="assign")):
        return []
    base = f"/issues/{issue.id}"
    if issue.closed:
        return [("重新打开", f"{base}/reopening"), ("年终考核", f"{base}/evaluations")]
    found = [("交办", f"{base}/assignment"), ("催办", f"{base}/urgings")]
    if issue.deadline is not None:
        found.append(("延期", f"{base}/deadline-extensions"))
    found.extend((f"审批延期申请（{r['request_id']}，申请延至 {r['deadline']}）",
                  f"{base}/extension-requests/{r['request_id']}/decision")
                 for r in issue.extension_requests.values() if r["status"] == PENDING)
    found.append(("年终考核", f"{base}/evaluations"))
    if issue.status == AWAITING_CLOSURE:
        found.append(("核查销号", f"{base}/closure"))
    return found


# ---- a child case's forms: the check each one's service makes, asked before it is offered ----

# The command each form of a case sends, by the form's path under /cases/{id}/ ("{item}" for
# a report's or referral's id): the form is offered when the command's rule lets it through.
CASE_FORMS = {
    "classifications": "classify_case",
    "reassessments": "reassess_case",
    "guardianship": "record_guardianship",
    "mandatory-reports": "file_mandatory_report",
    "mandatory-reports/{item}/acceptance": "accept_report",
    "mandatory-reports/{item}/dispatch": "dispatch_police",
    "referrals": "refer_case",
    "referrals/{item}/acceptance": "accept_referral",
    "referrals/{item}/closure": "close_referral",
    "services": "provide_service",
    "visits": "visit_case",
    "evaluations": "evaluate_case",
    "closure": "close_case",
    "reopening": "reopen_case",
    "erasure": "erase_personal_data",
}


def require_case_step(actor: Actor, case: ChildCase, step: str, item: str | None = None) -> None:
    """Forbidden when the service would refuse ``actor`` the form's command on ``case``."""
    CASE_RULES[CASE_FORMS[step]](actor, case, item)


def on_case(actor: Actor, case: ChildCase) -> list[Offer]:
    """The forms of the case page: those the reader may send, and that the case's state
    leaves something to do with (the service decides again when one is sent)."""
    wanted: list[tuple[str, str, str | None]] = []
    if not case.closed:
        wanted.append(("重新评估" if case.assessments else "认定类别",
                       "reassessments" if case.assessments else "classifications", None))
        wanted += [("强制报告", "mandatory-reports", None), ("记录监护情况", "guardianship", None)]
        for r in case.reports.values():
            if r["accepted_at"] is None:
                wanted.append((f"受理强制报告 {r['report_id']}", "mandatory-reports/{item}/acceptance", r["report_id"]))
            elif r["dispatched_at"] is None:
                wanted.append((f"登记出警 {r['report_id']}", "mandatory-reports/{item}/dispatch", r["report_id"]))
        wanted.append(("转介", "referrals", None))
        for r in case.referrals.values():
            if r["status"] == "open" and r.get("accepted_at") is None:
                wanted.append((f"接收转介 {r['referral_id']}", "referrals/{item}/acceptance", r["referral_id"]))
            if r["status"] == "open":
                wanted.append((f"结束转介 {r['referral_id']}", "referrals/{item}/closure", r["referral_id"]))
        wanted += [("登记关爱服务", "services", None), ("登记走访", "visits", None), ("结案", "closure", None)]
    else:
        wanted.append(("重新打开", "reopening", None))
    wanted.append(("年度评估", "evaluations", None))
    if not case.erased:
        wanted.append(("删除个人信息", "erasure", None))
    return [(label, f"/cases/{case.id}/{step.replace('{item}', item or '')}")
            for label, step, item in wanted
            if permits(lambda s=step, i=item: require_case_step(actor, case, s, i))]  # type: ignore[misc]
