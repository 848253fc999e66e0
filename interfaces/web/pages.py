"""The supervision office's dashboard: server-rendered pages over the views and the ledger.

Handlers parse, call one application method or view, and render. Refusals become pages
here (a sign-in redirect, a 403 or 404 page), never problem+json: a browser shows them.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from application.errors import ApplicationError, Forbidden, NotFound, Unauthenticated
from application.read_policy import POLICY
from application.sessions import csrf_token
from domain.base import InvalidCommand, RuleViolated
from infrastructure.jobs import OneAtATime
from infrastructure.view_runner import ViewsNotReady
from interfaces.bootstrap import Services
from interfaces.deployment import district_of
from interfaces.http.deps import COOKIE, ActorDep, AsOfDep, ServicesDep, deployment
from interfaces.web import corrections, event_kinds, offers, present
from interfaces.web.overdue import pairs as overdue_pairs, urges

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["beijing"] = present.beijing
# A fresh key in each rendered form that must not act twice: sent again by a double click,
# the command finds the answer kept under it instead of acting a second time.
templates.env.globals["form_key"] = lambda: secrets.token_urlsafe(16)
templates.env.globals["event_label"] = event_kinds.event_label
templates.env.globals["aggregate_label"] = event_kinds.aggregate_label

# Pages hold ledger data: no caching, no framing, and nothing loaded from elsewhere.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

ERROR_TITLES = {400: "请求有误", 403: "无权查看", 404: "未找到", 409: "无法办理", 503: "暂时无法服务"}


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    caller = getattr(request.state, "actor", None)
    session = request.cookies.get(COOKIE, "")
    # What the page offers follows the policy that answers the request (application.read_policy).
    may = {"ledger": POLICY.reads_ledger(caller), "audit": POLICY.reads_audit(caller),
           "administer": POLICY.administers(caller), "todo": POLICY.keeps_unit_todo(caller)} if caller else {}
    if caller and deployment(request).districts:
        # The province's pages: asked of the policy with where the session was opened (a
        # district's session ids begin with its code), as the pages themselves ask it.
        of_province = district_of(session) is None
        may.update(province=POLICY.reads_rollup(caller, of_province=of_province),
                   districts_audit=POLICY.reads_districts_audit(caller, of_province=of_province))
    return templates.TemplateResponse(
        request, name, {"actor": caller, "may": may, "path": request.url.path,
                        "csrf": csrf_token(session) if session else "", **context},
        status_code=status, headers=HEADERS,
    )


async def form_is_ours(request: Request) -> bool:
    """A form post to a signed-in page: sent by a page of this site (Origin or Referer), and
    carrying the CSRF token of the session whose cookie came with it. A caller with a bearer
    token sends no cookie a page of another site could borrow, so it needs neither."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():  # the caller is signed in by that token, not the cookie
        return True
    if not same_origin(request):
        return False
    session = request.cookies.get(COOKIE, "")
    try:
        sent = (await request.form()).get("csrf", "")
    except HTTPException:  # a body that is no form
        return False
    return bool(session) and isinstance(sent, str) and hmac.compare_digest(sent.encode(), csrf_token(session).encode())


def error_page(request: Request, status: int, detail: str) -> Response:
    return render(request, "error.html", {"status": status, "title": ERROR_TITLES.get(status, "错误"),
                                          "detail": detail}, status)


class PageRoute(APIRoute):
    """Answers a page's refusals with pages; the API's problem handlers never see them."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def page(request: Request) -> Response:
            if request.method == "POST" and request.url.path != "/signin" and not await form_is_ours(request):
                return error_page(request, 403, "表单已失效或来自其他网站：请回到本系统的页面重新提交。")
            try:
                return await handle(request)
            except Unauthenticated:
                here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                # The front page is no page of its own to come back to: the sign-in leads to
                # the caller's start (a responsible unit's to-do, signin._landing).
                return RedirectResponse(f"/signin?next={quote(here)}" if here != "/" else "/signin", status_code=303)
            except Forbidden as refused:
                return error_page(request, 403, refused.message)
            except NotFound as missing:
                return error_page(request, 404, missing.message)
            except InvalidCommand as invalid:
                return error_page(request, 400, invalid.message)
            except RequestValidationError:
                return error_page(request, 400, "链接中的参数无效，请从页面上的链接或表单重新进入。")
            except ViewsNotReady:
                return error_page(request, 503, "台账视图正在更新，请稍后刷新。")
            except (RuleViolated, ApplicationError) as refused:
                # The state forbids it, a concurrent write won, or the form was sent twice:
                # a page saying so, never a server error.
                return error_page(request, 409, refused.message)

        return page


router = APIRouter(route_class=PageRoute, include_in_schema=False)


def same_origin(request: Request) -> bool:
    """A form post must come from a page of this site (behind a trusted proxy, the scheme
    is the one the proxy reports, so an HTTPS page's Origin matches)."""
    expected = f"{request.url.scheme}://{request.url.netloc}"
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == expected
    referer = request.headers.get("referer", "")
    return referer == expected or referer.startswith(expected + "/")


def safe_next(target: str | None) -> str:
    """Only a path on this site: a crafted sign-in link must not lead elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target if not urlsplit(target).netloc else "/"


def unit_names(request: Request, svc: Services) -> present.Names:
    # The one code → name lookup the API and exports use too (application.unit_names).
    return svc.ledger.unit_names


def caught_up(svc: Services) -> Services:
    # Read what is stored now, as the API's lists do: a page shows the writer their own write.
    svc.views.wait_for(svc.ledger.recorder.max_notification_id())
    return svc


def current_view(svc: Services, name: str, **kw: Any) -> dict[str, Any]:
    return caught_up(svc).views.view(name, **kw)


# ---- pages --------------------------------------------------------------------------------
# Each page shows what application.read_policy lets its reader read: the views answer an
# agency's rows only, and a single object it may not read is the 404 page.


@router.get("/")
def overview(request: Request, caller: ActorDep, svc: ServicesDep) -> Response:
    try:
        scope = POLICY.scope(caller)
    except Forbidden:  # reads no issues (an admin): the audit metadata is their page
        return RedirectResponse("/audit", status_code=303)
    names = unit_names(request, svc)
    shaped = present.overview(current_view(svc, "units", scope=scope), svc.views.view("supervision", scope=scope),
                              names)
    return render(request, "overview.html", shaped)


@router.get("/issues")
def issues(
    request: Request, caller: ActorDep, svc: ServicesDep,
    plan: Annotated[str | None, Query(max_length=64)] = None,
    unit: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    overdue: bool = False,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    scope = POLICY.scope(caller)
    where = present.IssueFilter(plan=plan or None, unit=unit or None, status=status or None, overdue=overdue)
    supervision = current_view(svc, "supervision", scope=scope)
    shaped = present.issue_list(supervision, where, unit_names(request, svc), page)
    # The overdue list's one form (interfaces.web.overdue_urgings): urge every overdue unit at once.
    shaped["urge_overdue"] = (overdue_pairs(svc, caller, {r["id"] for r in supervision["rows"] if r["days_overdue"] > 0})
                              if overdue and urges(caller) else None)
    return render(request, "issues.html", shaped)


@router.get("/issues/{issue_id}")
def issue(request: Request, issue_id: UUID, caller: ActorDep, svc: ServicesDep, when: AsOfDep) -> Response:
    state, entries = svc.issues.issue_as_of(caller, issue_id, when)
    names = unit_names(request, svc)
    timeline = present.timeline(entries, svc.settings.late_entry_days, names)
    if when is None:  # corrections act on the issue as it is now
        corrections.with_links(caller, state, timeline, entries)
    return render(request, "issue.html", {
        "id": issue_id, "issue": present.issue_state(state, names), "as_of": present.day_of(when),
        "timeline": timeline,
        "late_entry_days": svc.settings.late_entry_days,
        # Forms act on the issue as it is now: none while replaying a past moment.
        "offers": offers.on_issue(caller, state) if when is None else [],
        "done": request.query_params.get("done", "")[:10],
    })


@router.get("/evaluation")
def evaluation(
    request: Request, caller: ActorDep, svc: ServicesDep,
    year: Annotated[int | None, Query(ge=1949, le=2200)] = None,
) -> Response:
    scope = POLICY.scope(caller)
    evaluated = caught_up(svc).views.evaluated_years(scope)
    today = svc.ledger.clock().astimezone(present.BEIJING).date()
    # Without a year, the latest one graded: that is the evaluation the office is looking at.
    chosen = year or max(evaluated, default=today.year)
    shaped = present.evaluation(svc.views.view("evaluation", year=chosen, scope=scope), unit_names(request, svc))
    return render(request, "evaluation.html", {
        **shaped, "year": chosen, "years": present.year_choices(evaluated, today),
    })


@router.get("/ledger")
def child_ledger(request: Request, caller: ActorDep, svc: ServicesDep) -> Response:
    scope = POLICY.scope(caller)
    return render(request, "ledger.html", present.child_ledger(current_view(svc, "ledger", scope=scope),
                                                                unit_names(request, svc)))


def verifications(request: Request, svc: Services) -> OneAtATime:
    """The dashboard's verification job of the caller's district: each district's own, so no
    district sees another's progress or finding."""
    if svc.district is None:
        return request.app.state.web_verifications  # type: ignore[no-any-return]
    jobs: dict[str, OneAtATime] = request.app.state.district_verifications
    # setdefault: two first requests at once (threadpool handlers) get the same job.
    return jobs.setdefault(svc.district, OneAtATime(lambda: datetime.now(UTC), name=f"careledger-verify-{svc.district}"))


def whole_log_verification(svc: Services) -> Callable[[Callable[[int], None]], dict[str, Any]]:
    def work(report: Callable[[int], None]) -> dict[str, Any]:
        result = svc.verify(on_progress=report)
        return {"intact": result.intact, "summary": result.summary(), "events": result.events_checked,
                "heads": result.heads_checked,
                "position": result.finding.position if result.finding else None}

    return work
