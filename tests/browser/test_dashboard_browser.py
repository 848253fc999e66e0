"""The dashboard in a real browser on the demo district: the supervision office's way to its
overdue issues, a timeline replayed at an earlier date, the evaluation and its .xlsx, and an
agency refused another unit's issue. Each page is saved as a screenshot (docs/screenshots/ by
`make screenshots`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from domain.issue import issue_id
from domain.plan import plan_id
from interfaces.demo_district import PLAN_NUMBER, SHANGHAI
from tests.browser.conftest import Demo


def sign_in(page: Any, demo: Demo, role: str, start: str = "/") -> None:
    page.goto(demo.base_url + start)
    assert "/signin" in page.url  # not signed in yet: every page sends the browser here
    page.fill("#username", demo.sign_ins[f"{role}_user"])
    page.fill("#password", demo.sign_ins[f"{role}_password"])
    page.click("form[action='/signin'] button")
    page.wait_for_url(re.compile(re.escape(demo.base_url + start) + "$"))


def test_supervisor_finds_overdue_issues_replays_one_and_downloads_the_evaluation(
        page: Any, demo: Demo, tmp_path: Path, screenshot: Callable[..., None]) -> None:
    page.goto(demo.base_url + "/")
    screenshot(page, "signin")
    sign_in(page, demo, "supervisor")
    assert page.locator("h1").inner_text() == "督查督办总览"
    assert page.locator("tr.overdue").count() >= 1
    assert page.locator("figure.chart svg rect.seg").count() > 0
    screenshot(page, "overview")

    # The first click: from the front page to the overdue issues.
    page.click("a.card.alert")
    page.wait_for_url("**/issues?overdue=true")
    overdue = page.locator("table.issues tbody tr.overdue")
    # this year's plan: overdue by 3 and by 12 days (the demo lives in the present); the 2019
    # plan was finished in January 2020
    assert overdue.count() == 2 and page.locator("table.issues tbody tr").count() == 2
    assert "逾期 3 天" in overdue.first.inner_text() and "逾期 12 天" in overdue.last.inner_text()
    screenshot(page, "issues")

    # The second: to the first overdue issue's timeline, with its late entry marked.
    overdue.first.locator("a.issue-link").click()
    page.wait_for_url(re.compile(r"/issues/[0-9a-f-]{36}$"))
    entries_now = page.locator("ol.timeline > li").count()
    assert page.locator("ol.timeline > li.late").count() == 1
    assert "补录" in page.locator("ol.timeline > li.late").inner_text()
    screenshot(page, "issue")

    back = (datetime.now(SHANGHAI).date() - timedelta(days=20)).isoformat()
    page.fill("input[name='as_of']", back)
    page.click("form.asof-form button")
    page.wait_for_url(re.compile(rf"as_of={back}$"))
    assert page.locator(".replay").is_visible()
    assert 0 < page.locator("ol.timeline > li").count() < entries_now
    assert page.locator("ol.timeline > li.late").count() == 0  # entered two days ago: not there 20 days ago
    screenshot(page, "issue-as-of")

    page.click("nav >> text=年终考核")
    page.wait_for_url("**/evaluation")
    assert page.locator("h1").inner_text() == "2019 年度年终考核"
    assert page.locator("table.evaluation tbody tr.flagged").count() == 1
    screenshot(page, "evaluation")
    page.emulate_media(media="print")
    assert page.locator("header.top").is_hidden()  # the print stylesheet applies
    screenshot(page, "evaluation-print")
    page.emulate_media(media="screen")

    with page.expect_download() as download:
        page.click("a.download")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix == ".xlsx" and saved.read_bytes()[:2] == b"PK"

    page.click("nav >> text=信息台账")
    page.wait_for_url("**/ledger")
    screenshot(page, "ledger")

    page.click("nav >> text=审计")
    page.wait_for_url("**/audit")
    page.click("form[action='/audit/verify'] button")
    page.wait_for_url("**/audit/verify")  # answered at once; the page refreshes itself until the job is done
    page.locator(".verification.intact").wait_for(timeout=60_000)
    assert page.locator(".verification.intact").inner_text().startswith("完好")
    page.click("text=返回审计日志")
    page.wait_for_url("**/audit")
    screenshot(page, "audit", full_page=False)  # the first screen: a hundred log rows follow


def test_an_agency_gets_the_404_page_for_another_units_issue(page: Any, demo: Demo,
                                                             screenshot: Callable[..., None]) -> None:
    sign_in(page, demo, "agency_legal_services", "/issues")  # 公共法律服务管理科; issue 1 is 普法科's and the offices'
    other = issue_id(plan_id(PLAN_NUMBER), 1)
    answer = page.goto(f"{demo.base_url}/issues/{other}")
    assert answer is not None and answer.status == 404  # the same page as for an issue that does not exist
    assert "未找到" in page.locator("h1").inner_text()
    assert page.locator("ol.timeline").count() == 0
    screenshot(page, "forbidden")
    own = page.goto(f"{demo.base_url}/issues/{issue_id(plan_id(PLAN_NUMBER), 3)}")
    assert own is not None and own.status == 200


def test_signing_out_ends_the_session_so_going_back_asks_for_the_password_again(page: Any, demo: Demo) -> None:
    sign_in(page, demo, "inspector", "/evaluation")
    page.click("form[action='/signout'] button")
    page.wait_for_url("**/signin")
    page.goto(demo.base_url + "/evaluation")
    assert "/signin" in page.url


def test_an_admin_issues_a_token_on_the_admin_page_and_sees_it_once(page: Any, demo: Demo) -> None:
    sign_in(page, demo, "admin", "/admin")
    rows = page.locator("tr.token")
    before = rows.count()
    page.locator("tr.user", has_text="普法科-陈静").locator("button", has_text="签发令牌").click()
    secret = page.locator("code.secret").inner_text()
    assert len(secret) >= 40 and page.locator("tr.token").count() == before + 1
    page.goto(demo.base_url + "/admin")
    assert secret not in page.content()
