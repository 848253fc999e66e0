"""A responsible unit's day in a real browser, on each backend's demo district: 普法科 signs in
and lands on its 待办, reports progress on a measure with a PDF attached, reports the overdue
one complete, replies to the urging it was sent; then, on a phone 390 px wide, finds every
page of its work without sideways scrolling and asks for a later deadline."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain.issue import issue_id
from domain.plan import plan_id
from interfaces.demo_district import CURRENT_PROBLEM_LIST, SHANGHAI, current_plan_number
from tests.browser.conftest import Demo

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PHONE = {"width": 390, "height": 844}


def problem(seq: int) -> str:
    return next(p[3] for p in CURRENT_PROBLEM_LIST if p[0] == seq)


def current_issue(seq: int) -> str:
    return str(issue_id(plan_id(current_plan_number(datetime.now(SHANGHAI).year)), seq))


def sign_in_to_todo(page: Any, demo: Demo) -> None:
    """Opens the site's front page, as a clerk would, and signs in there."""
    page.goto(demo.base_url + "/")
    page.wait_for_url("**/signin")
    page.fill("#username", demo.sign_ins["agency_user"])
    page.fill("#password", demo.sign_ins["agency_password"])
    page.click("form[action='/signin'] button")
    page.wait_for_url("**/todo")


def no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (page.url, width)


def entries(demo: Demo, seq: int, kind: str) -> list[dict[str, Any]]:
    actor = demo.services.identity.authenticate(demo.tokens["supervisor"])
    return [e for e in demo.services.issues.issue_history(actor, UUID(current_issue(seq)))
            if e["type"].endswith(kind)]


def test_an_agency_settles_its_todo_in_the_browser(page: Any, demo: Demo, screenshot: Callable[..., None]) -> None:
    sign_in_to_todo(page, demo)
    assert page.locator("h1").inner_text().startswith("待办")
    measures = page.locator("table.todo-measures tbody tr")
    # Issue 1 falls due in 6 days; issue 3 is 12 days overdue; issue 3's urging awaits a reply.
    assert measures.count() == 2
    soon = measures.filter(has_text=problem(1))
    overdue = measures.filter(has_text=problem(3))
    assert "6 天" in soon.inner_text() and "逾期 12 天" in overdue.inner_text()
    assert page.locator("table.todo-urgings tbody tr").count() == 1
    screenshot(page, "agency-todo")

    soon.locator("a.progress").click()
    page.wait_for_url(re.compile(r"/measures/M1/progress$"))
    page.fill("textarea[name='summary']", "专题普法计划已征求意见，修改稿报分管领导审定。")
    page.set_input_files("input[name='files']", files=[{"name": "普法计划（征求意见稿）.pdf",
                                                        "mimeType": "application/pdf", "buffer": PDF}])
    screenshot(page, "agency-progress")
    page.click("form.work button[type='submit']")
    page.wait_for_url(re.compile(rf"/issues/{current_issue(1)}\?done=\d+"))
    assert page.locator("p.done").is_visible()
    reported = entries(demo, 1, "ProgressReported")[-1]
    assert [f["name"] for f in reported["fields"]["evidence"]] == ["普法计划（征求意见稿）.pdf"]

    # A slip in what was just reported is corrected from the entry itself; the entry stays.
    page.locator(f"li#v{reported['version']} a.correct").click()
    page.wait_for_url(re.compile(rf"/corrections/new\?version={reported['version']}$"))
    page.fill("textarea[name='new_summary']", "专题普法计划已征求意见，修改稿已报分管领导审定。")
    page.fill("textarea[name='reason']", "审定已完成，原文写成“报”")
    screenshot(page, "agency-correction")
    page.click("form.work button[type='submit']")
    page.wait_for_url(re.compile(rf"/issues/{current_issue(1)}\?done=\d+"))
    corrected = entries(demo, 1, "EntryCorrected")[-1]["fields"]
    assert corrected["corrected_version"] == reported["version"]
    assert corrected["changes"] == {"summary": "专题普法计划已征求意见，修改稿已报分管领导审定。"}

    page.click("nav >> text=待办")
    page.wait_for_url("**/todo")
    page.locator("table.todo-measures tbody tr", has_text=problem(3)).locator("a.completion").click()
    page.wait_for_url(re.compile(r"/measures/M1/completion$"))
    page.fill("textarea[name='summary']", "宣传册已印制并向全区学校、医疗机构发放。")
    page.click("form.work button[type='submit']")
    page.wait_for_url(re.compile(rf"/issues/{current_issue(3)}\?done=\d+"))

    page.click("nav >> text=待办")
    assert page.locator("table.todo-measures tbody tr").count() == 1  # the completed one has left
    page.locator("table.todo-urgings a.reply").click()
    page.wait_for_url(re.compile(r"/urgings/\d+/reply$"))
    page.fill("textarea[name='message']", "宣传册已全部发放，发放登记表已归档。")
    screenshot(page, "agency-reply")
    page.click("form.work button[type='submit']")
    page.wait_for_url(re.compile(rf"/issues/{current_issue(3)}\?done=\d+"))
    assert len(entries(demo, 3, "UrgingReplied")) == 1

    page.click("nav >> text=待办")
    assert page.locator("table.todo-urgings").count() == 0
    assert "没有待回复的催办" in page.locator("#urgings").inner_text()


def test_an_agencys_pages_fit_a_phone(browser: Any, demo: Demo, screenshot: Callable[..., None]) -> None:
    context = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        sign_in_to_todo(page, demo)
        no_sideways_scroll(page)
        screenshot(page, "agency-todo-phone")
        row = page.locator("table.todo-measures tbody tr", has_text=problem(1))
        for link in ("a.progress", "a.completion"):
            page.goto(demo.base_url + row.locator(link).get_attribute("href"))
            no_sideways_scroll(page)
            page.go_back()
        page.goto(f"{demo.base_url}/issues/{current_issue(1)}/measures/new")
        no_sideways_scroll(page)

        # Settling one thing on the phone: a later deadline asked, now awaiting the office.
        page.goto(demo.base_url + "/todo")
        page.locator("table.todo-measures tbody tr", has_text=problem(1)).locator("a.extension").click()
        page.wait_for_url(re.compile(r"/extension-requests$"))
        no_sideways_scroll(page)
        page.fill("textarea[name='reason']", "需等待区教育局联合发文，申请延期一个月。")
        later = (datetime.now(SHANGHAI).date() + timedelta(days=40)).isoformat()
        page.fill("input[name='deadline']", later)
        screenshot(page, "agency-extension-phone")
        page.click("form.work button[type='submit']")
        page.wait_for_url(re.compile(rf"/issues/{current_issue(1)}\?done=\d+"))
        no_sideways_scroll(page)  # the issue page every form leads back to
        page.goto(demo.base_url + "/todo")
        assert later in page.locator("table.todo-extensions").inner_text()
        no_sideways_scroll(page)
    finally:
        context.close()
