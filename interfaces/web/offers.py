"""The forms a page offers its reader: those application.read_policy lets them send on what
the page shows (a form not offered is refused the same way if sent anyway)."""

from __future__ import annotations

from collections.abc import Callable

from application.access import SUPERVISOR, Actor
from application.errors import Forbidden
from application.read_policy import POLICY
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
