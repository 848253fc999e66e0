"""Every GET page of the site in a real browser at a phone's width (390 px), as a role that may
see it: no horizontal scrolling, no console error, and one screenshot per page (into
docs/screenshots by `make screenshots`).

The pages are not listed here: they are the app's routes of ``pages.PageRoute`` answering GET,
so a page added later is visited too. Its path parameters are filled by name from the demo
district (what it lacks, such as a child case, is recorded through the services first); a
parameter or a required query nobody taught this module to fill fails the test, naming the
route, instead of leaving the page unvisited. Downloads among those routes (a tree head, a
proof) are fetched and checked to answer, not screenshotted.

Also here: an admin creates a user on the admin pages, issues a second token, revokes it, and
the revoked token gets 401 from the API while the first one still signs in.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from application.commands import Command
from domain.case import ChildCase
from domain.issue import RectificationIssue
from domain.plan import plan_id
from domain.registry import user_id
from interfaces.demo_district import DEMO_USERS, PLAN_NUMBER
from interfaces.http.app import create_app
from interfaces.web.pages import PageRoute
from tests.application.test_child_cases import BIRTH, NAME, valid_id
from tests.backends import settings_for
from tests.browser.conftest import Demo
from tests.browser.test_dashboard_browser import sign_in

PHONE = {"width": 390, "height": 844}
# Tried in this order; the first that the page answers 200 is the one it is seen as.
ROLES = [key for key, *_ in DEMO_USERS]
AGENCY = "agency"  # 普法科-陈静 (dxh-pfk): the unit whose measures, urgings and referrals are filled in
AGENCY_UNIT = next(unit for key, _, unit, _ in DEMO_USERS if key == AGENCY)


def _walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    for route in routes:
        included = getattr(route, "original_router", None)  # a router included in the app
        if included is not None:
            yield from _walk(included.routes, prefix + (route.include_context.prefix or ""))  # type: ignore[attr-defined]
        elif isinstance(route, PageRoute) and "GET" in route.methods:
            yield prefix + route.path, route


# A district's audit pages under /districts/{district}/ are the province inspector's, in a deployment
# of several districts that the demo (one district) is not: tests/browser/test_province_browser.py
# visits them, at a phone's width too. They are the same handlers and templates as /audit's.
OF_DISTRICTS = "/districts/{district}/"


def get_pages() -> list[tuple[str, APIRoute]]:
    # The document's app, never served (as tests/e2e/test_openapi_conformance.py builds it).
    app = create_app(settings_for("sqlite", Path(tempfile.gettempdir()), None, None))
    found = sorted(_walk(app.routes), key=lambda found: found[0])
    assert any(template.startswith(OF_DISTRICTS) for template, _ in found)
    return [(template, route) for template, route in found if not template.startswith(OF_DISTRICTS)]


PAGES = get_pages()


# ---- what fills a page's path ----------------------------------------------------------------


class Filler:
    """Values for path parameters and required queries, by name, from the demo district: one
    issue with an open measure of the agency's unit (and an urging of it), one child case
    with a mandatory report and a referral to that unit, recorded here if the demo has none."""

    def __init__(self, demo: Demo) -> None:
        self.demo, self.svc = demo, demo.services
        self._cache: dict[str, Any] = {}
        self.chosen = 0  # which of issues() fills {issue_id}
        self.by_name: dict[str, Callable[[], list[str]]] = {
            "issue_id": lambda: [str(self.issue().id)],
            "measure_id": lambda: [self.measure()["measure_id"]],
            "step": lambda: ["progress", "completion"],
            "urging_id": lambda: [self.urging()],
            "request_id": lambda: [self.extension_request()],
            "plan_id": lambda: [str(plan_id(PLAN_NUMBER))],
            "user_id": lambda: [str(user_id(self.demo.sign_ins[f"{AGENCY}_user"]))],
            "code": lambda: [AGENCY_UNIT],
            "unit": lambda: [AGENCY_UNIT],
            "case_id": lambda: [str(self.case().id)],
            "report_id": lambda: [next(iter(self.case().reports))],
            "referral_id": lambda: [next(iter(self.case().referrals))],
            "year": lambda: ["2019"],
        }
        # A parameter of another name ({item}) is named by the part of the path before it.
        self.after_segment = {"issues": "issue_id", "measures": "measure_id", "urgings": "urging_id",
                              "extension-requests": "request_id", "plans": "plan_id", "users": "user_id",
                              "units": "code", "cases": "case_id", "mandatory-reports": "report_id",
                              "referrals": "referral_id", "evaluation": "year"}
        # Pages that need a query to show anything (path → query, with {names} filled as above).
        self.queries = {
            "/replay/issue": "id={issue_id}", "/replay/case": "id={case_id}",
            "/audit/proofs/inclusion.json": "position=1", "/audit/proofs/consistency.json": "first=1&second=2",
            # An issue's first entry (its registration): the supervision office may correct it.
            "/issues/{issue_id}/corrections/new": "version=1",
            # A case's registration: the supervision office may correct it too.
            "/cases/{case_id}/corrections/new": "version=1",
        }

    def actor(self, key: str) -> Any:
        return self.svc.identity.authenticate(self.demo.tokens[key])

    def issues(self) -> list[RectificationIssue]:
        """The issues a page on one issue is tried on, in order: one still open with an open
        measure of the agency's unit, then one closed (a form that only a closed issue takes)."""
        if "issues" not in self._cache:
            issues = self.svc.ledger.registered(RectificationIssue.Registered)  # type: ignore[attr-defined]
            open_measures = [i for i in issues if i.status != "closed" and any(
                m["unit"] == AGENCY_UNIT and m["status"] != "completed" for m in i.measures.values())]
            assert open_measures, f"the demo district has no open issue with an open measure of {AGENCY_UNIT}"
            closed = [i for i in issues if i.status == "closed"]
            self._cache["issues"] = [open_measures[0], *closed[:1]]
        return self._cache["issues"]  # type: ignore[no-any-return]

    def issue(self) -> RectificationIssue:
        return self.issues()[self.chosen]

    def measure(self) -> dict[str, Any]:
        measures = list(self.issue().measures.values())
        return next((m for m in measures if m["unit"] == AGENCY_UNIT and m["status"] != "completed"), measures[0])

    def urging(self) -> str:
        """An urging of the agency's unit awaiting its reply (urged here if there is none)."""
        def ids() -> list[str]:
            issue = self.svc.ledger.repository.get(self.issue().id)
            # An urging's id is the version of its Urged event (domain.urging), or its own field.
            return [str(u.get("urging_id") or u["version"]) for u in issue.urgings
                    if u["unit"] == AGENCY_UNIT and u.get("replied_at") is None]

        if not ids():
            self.svc.issues.urge(Command(self.actor("supervisor")), self.issue().id, unit=AGENCY_UNIT,
                                 message="请按期报送进展", reply_by=self.svc.ledger.clock().date())
        return ids()[0]

    def extension_request(self) -> str:
        """An extension request of the agency's unit awaiting a decision (asked here if none)."""
        def ids() -> list[str]:
            issue = self.svc.ledger.repository.get(self.issue().id)
            return [r for r, asked in vars(issue).get("extension_requests", {}).items()
                    if asked["unit"] == AGENCY_UNIT and asked.get("decided_at") is None]

        if not ids():
            ask = getattr(self.svc.issues, "request_extension", None)
            if ask is None:
                pytest.fail("no extension request to fill {request_id}: Issues.request_extension is missing",
                            pytrace=False)
            issue = self.issue()
            ask(Command(self.actor(AGENCY)), issue.id, deadline=(issue.deadline or self.svc.ledger.clock().date())
                + timedelta(days=30), reason="工作量大，需延期一个月")
        return ids()[0]

    def case(self) -> ChildCase:
        cases = self.svc.ledger.registered(ChildCase.Registered)  # type: ignore[attr-defined]
        if not cases:
            made = self.svc.cases.register_case(
                Command(self.actor(AGENCY)), street="吴家山街", community="吴家山社区", household_local=True,
                birth_date=BIRTH, person={"name": NAME, "id_number": valid_id()})
            self.svc.cases.file_mandatory_report(Command(self.actor(AGENCY)), made.id, reporter="school",
                                                 nature="unattended", details=None)
            self.svc.cases.refer_case(Command(self.actor("supervisor")), made.id, unit=AGENCY_UNIT, duty="法律援助")
            cases = [self.svc.ledger.repository.get(made.id)]
        return cases[0]  # type: ignore[no-any-return]

    def _by_segment(self, template: str, name: str) -> Callable[[], list[str]] | None:
        before = template.split(f"/{{{name}}}")[0].rsplit("/", 1)[-1]
        known = self.after_segment.get(before)
        return self.by_name[known] if known else None

    def alternatives(self, template: str, route: APIRoute) -> Iterator[list[str]]:
        """The paths to visit the route at (a parameter may have several values, as {step}),
        for each issue it may be tried on in turn (a route on no issue: once)."""
        names = [p.name for p in route.dependant.path_params]
        fills = {name: self.by_name.get(name) or self._by_segment(template, name) for name in names}
        unknown = [name for name, fill in fills.items() if fill is None]
        if unknown:
            pytest.fail(f"{template}: no value for the path parameter(s) {unknown}; add them to Filler.by_name",
                        pytrace=False)
        required = [q.alias for q in route.dependant.query_params if q.field_info.is_required()]
        if required and template not in self.queries:
            pytest.fail(f"{template}: needs the query parameter(s) {required}; add the page to Filler.queries",
                        pytrace=False)
        query = self.queries.get(template, "")
        on_an_issue = "issue_id" in names or "{issue_id}" in query
        for chosen in range(len(self.issues()) if on_an_issue else 1):
            self.chosen = chosen
            filled = query
            for name in re.findall(r"{(\w+)}", query):
                filled = filled.replace(f"{{{name}}}", self.by_name[name]()[0])
            paths = [template]
            for name, fill in fills.items():
                assert fill is not None
                paths = [p.replace(f"{{{name}}}", value) for p in paths for value in fill()]
            yield [f"{p}?{filled}" if filled else p for p in paths]
        self.chosen = 0


# ---- signed in once per role, at a phone's width ---------------------------------------------


@pytest.fixture(scope="module")
def phones(browser: Any, demo: Demo) -> Iterator[dict[str, Any]]:
    """A browser context per role, signed in, at 390 px; pages opened as needed."""
    contexts: dict[str, Any] = {}
    try:
        for role in ROLES:
            context = browser.new_context(viewport=PHONE, locale="zh-CN", accept_downloads=True)
            context.set_default_timeout(10_000)
            contexts[role] = context
            page = context.new_page()
            sign_in(page, demo, role, "/admin")  # a page every role lands on (a 403 page for most)
            page.close()
        yield contexts
    finally:
        for context in contexts.values():
            context.close()


@pytest.fixture(scope="module")
def filler(demo: Demo) -> Filler:
    return Filler(demo)


def screenshot_name(path: str) -> str:
    """page-… named for the path, its ids left out (the same picture for any demo district)."""
    template_like = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "id", path.split("?")[0])
    return "page-" + (re.sub(r"[^0-9A-Za-z]+", "-", template_like).strip("-") or "home")


@pytest.mark.parametrize("template", [template for template, _ in PAGES])
def test_every_page_fits_a_phone_without_console_errors_as_a_role_that_may_see_it(
        template: str, demo: Demo, phones: dict[str, Any], filler: Filler, screenshot: Callable[..., None]) -> None:
    route = dict(PAGES)[template]
    refused: dict[str, dict[str, int]] = {}
    for paths in filler.alternatives(template, route):
        seen = {path: seen_by(phones, demo.base_url + path) for path in paths}
        refused.update({path: statuses for path, (role, statuses) in seen.items() if role is None})
        if all(role for role, _ in seen.values()):
            break
    else:
        pytest.fail(f"{template}: no role sees it (the statuses each role got): {refused}", pytrace=False)
    for path, (role, _) in seen.items():
        assert role is not None
        visit(phones[role], demo.base_url + path, role, screenshot)


def seen_by(phones: dict[str, Any], url: str) -> tuple[str | None, dict[str, int]]:
    """The first role the page answers 200 (None if none does), and what each role got."""
    statuses: dict[str, int] = {}
    for role, context in phones.items():
        answer = context.request.get(url, max_redirects=0)
        statuses[role] = answer.status
        if answer.status == 200:
            return role, statuses
    return None, statuses


def visit(context: Any, url: str, role: str, screenshot: Callable[..., None]) -> None:
    path = "/" + url.split("/", 3)[3]
    answer = context.request.get(url)
    if not answer.headers.get("content-type", "").startswith("text/html"):
        assert answer.status == 200 and answer.body(), f"{path}: the download answered {answer.status}"
        return  # a file to take away (a tree head, a proof), not a page
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        shown = page.goto(url)
        assert shown is not None and shown.status == 200, (path, role)
        width = page.evaluate("document.documentElement.scrollWidth")
        inner = page.evaluate("window.innerWidth")
        assert width <= inner, f"{path} as {role} scrolls sideways at {inner} px: {width} px wide"
        assert errors == [], f"{path} as {role}: console errors {errors}"
        screenshot(page, screenshot_name(path))
    finally:
        page.close()


def test_every_page_template_is_visited() -> None:
    """The list the test above is parametrized with holds the pages of every concern."""
    templates = {template for template, _ in PAGES}
    assert {"/", "/issues/{issue_id}", "/audit", "/admin", "/admin/units", "/replay/case"} <= templates
    assert all(isinstance(route, PageRoute) and "GET" in route.methods for _, route in PAGES)


# ---- an admin takes back a token ------------------------------------------------------------


def test_an_admin_creates_a_user_issues_a_token_and_revokes_it_so_the_api_answers_401(
        page: Any, demo: Demo, screenshot: Callable[..., None]) -> None:
    page.set_viewport_size(PHONE)
    sign_in(page, demo, "admin", "/admin")
    page.click("ul.admin-nav >> text=新建用户")
    page.wait_for_url("**/admin/users/new")
    page.fill("input[name='name']", "吴家山司法所-孙悦")
    page.select_option("select[name='unit']", value="dxh-sfs-wjs")
    page.select_option("select[name='role']", label="成员单位")
    page.click("form.work button[type='submit']")
    first = page.locator("code.secret").inner_text()
    assert "已创建用户 吴家山司法所-孙悦" in page.locator("section.issued").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "admin-user-created")

    def me(token: str) -> Any:
        return page.request.get(demo.base_url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"})

    assert me(first).status == 200 and me(first).json()["unit"] == "dxh-sfs-wjs"

    page.click("section.issued >> text=查看该用户")
    page.wait_for_url(re.compile(r"/admin/users/[0-9a-f-]{36}$"))
    page.click("button:text('签发新令牌')")
    second = page.locator("code.secret").inner_text()
    token_id = page.locator("section.issued code").first.inner_text()
    assert second != first and me(second).status == 200
    assert UUID(token_id) == demo.services.accounts.authenticate(second).token_id

    row = page.locator("tr.token", has_text=token_id)
    row.locator("button:text('吊销')").click()
    page.wait_for_url("**/admin")
    assert page.locator("tr.token", has_text=token_id).locator("td[data-label='状态']").inner_text() == "已吊销"
    assert second not in page.content()
    revoked = me(second)
    assert revoked.status == 401 and revoked.headers["content-type"].startswith("application/problem+json")
    assert me(first).status == 200  # only the revoked token stops
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "admin-token-revoked")

