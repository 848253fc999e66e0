"""The supervision office's year in a real browser, on the demo district: a new plan, the seed's
four-row problem list (docs/samples) uploaded, previewed and confirmed; one issue assigned
with schedule nodes; the responsible unit reporting progress and completion; the year-end
grade entered beside the unit's indicators; the issue closed; the year-end report printed.
Once at a desktop's width and once at a phone's (390 px), where no page scrolls sideways."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from interfaces.demo_district import SHANGHAI
from tests.browser.conftest import Demo

SAMPLE = Path(__file__).parents[2] / "docs" / "samples" / "问题清单-东西湖区司法局.csv"
PHONE = 390


def fits(page: Any, width: int) -> None:
    if width == PHONE:
        scrolled = page.evaluate("document.documentElement.scrollWidth")
        assert scrolled <= PHONE, f"{page.url} scrolls sideways at 390 px: {scrolled} px wide"


def sign_in_as(page: Any, demo: Demo, role: str, start: str) -> None:
    page.goto(demo.base_url + start)
    if "/signin" not in page.url:  # someone else is signed in: sign out first
        page.click("form[action='/signout'] button")
        page.goto(demo.base_url + start)
    page.fill("#username", demo.sign_ins[f"{role}_user"])
    page.fill("#password", demo.sign_ins[f"{role}_password"])
    page.click("form[action='/signin'] button")
    page.wait_for_url(re.compile(re.escape(demo.base_url + start) + "$"))


@pytest.mark.parametrize("width", [1280, PHONE])
def test_a_problem_list_goes_from_upload_to_year_end_grade_and_closure(
        page: Any, demo: Demo, width: int, screenshot: Callable[..., None]) -> None:
    page.set_viewport_size({"width": width, "height": 860})
    today = datetime.now(SHANGHAI).date()
    number = f"东司法督[{today.year}]{width}号"
    sign_in_as(page, demo, "supervisor", "/plans")

    page.fill("input[name='number']", number)
    page.fill("input[name='title']", "留守儿童关爱保护问题清单整改")
    page.select_option("select[name='issuer_unit']", "dxh-bgs")
    page.fill("input[name='year']", str(today.year))
    page.click("form[action='/plans'] button[type='submit']")
    page.wait_for_url(re.compile(r"/plans/[0-9a-f-]{36}$"))
    plan_url = page.url
    fits(page, width)

    page.set_input_files("input[name='file']", str(SAMPLE))
    page.click("form[action$='dry_run=true'] button[type='submit']")
    preview = page.locator("table.preview tbody tr")
    assert preview.count() == 4 and page.locator("table.preview tr.would_create").count() == 4
    assert "公共法律服务管理科" in page.locator("table.preview").inner_text()
    fits(page, width)
    screenshot(page, f"problem-list-preview-{width}")
    page.click("form.confirm button[type='submit']")
    page.wait_for_url(re.compile(re.escape(plan_url) + r"\?imported=4$"))
    assert "新建 4 项" in page.locator(".done").inner_text()

    # Issue 2 is the justice bureau's own (普法和依法治理科 alone): one unit can finish it.
    page.click("text=本方案的整改问题")
    page.locator("table.issues tbody tr", has_text="指导全区普法成员单位").locator("a.issue-link").click()
    page.wait_for_url(re.compile(r"/issues/[0-9a-f-]{36}$"))
    issue_url = page.url
    page.click("ul.offers >> text=交办")
    page.select_option("select[name='lead_unit']", "dxh-pfk")
    page.fill("input[name='contact_person']", "陈静")
    page.fill("input[name='deadline']", (today + timedelta(days=60)).isoformat())
    nodes = page.locator("input[name='nodes']")
    nodes.nth(0).fill((today + timedelta(days=20)).isoformat())
    nodes.nth(1).fill((today + timedelta(days=40)).isoformat())
    fits(page, width)
    screenshot(page, f"assignment-{width}")
    page.click("form.work button[type='submit']")
    page.wait_for_url(re.compile(re.escape(issue_url) + r"\?done=\d+#v\d+$"))
    assert "陈静" in page.locator("ol.timeline").inner_text() or page.locator(".done").is_visible()

    sign_in_as(page, demo, "agency", issue_url.removeprefix(demo.base_url))
    page.click("ul.offers >> text=报送进展（措施 M1）")
    page.fill("textarea[name='summary']", "重点对象法治宣传教育已写入各普法责任单位责任清单（征求意见稿）。")
    fits(page, width)
    page.click("form.work button[type='submit']")
    page.wait_for_url(re.compile(re.escape(issue_url) + r"\?done=\d+#v\d+$"))
    page.click("ul.offers >> text=报告办结（措施 M1）")
    page.fill("textarea[name='summary']", "责任清单已印发，纳入年终考核。")
    page.click("form.work button[type='submit']")
    page.wait_for_url(re.compile(re.escape(issue_url) + r"\?done=\d+#v\d+$"))

    issue_id = issue_url.rsplit("/", 1)[1]
    unit_page = f"/evaluation/{today.year}/units/dxh-pfk"
    sign_in_as(page, demo, "supervisor", unit_page)
    graded = page.locator(f"#issue-{issue_id}")
    assert "记录支持" in graded.inner_text()
    graded.locator("select[name='grade']").select_option("优秀")
    graded.locator("input[name='score']").fill("93")
    graded.locator("textarea[name='findings']").fill("按期整改到位。")
    fits(page, width)
    screenshot(page, f"year-end-unit-{width}")
    graded.locator("button[type='submit']").click()
    page.wait_for_url(re.compile(rf"{re.escape(unit_page)}\?done=2#issue-{issue_id}$"))
    assert "优秀" in page.locator(f"#issue-{issue_id}").inner_text()

    page.goto(issue_url)
    page.click("ul.offers >> text=核查销号")
    page.fill("textarea[name='summary']", "经核查，责任清单已印发，予以销号。")
    fits(page, width)
    page.click("form.work button[type='submit']")
    page.wait_for_url(re.compile(re.escape(issue_url) + r"\?done=\d+#v\d+$"))
    assert page.locator("h1 .status").inner_text() == "已销号"
    assert page.locator("ul.offers >> text=重新打开").count() == 1

    # The office's other pages: the plans, the overdue list with its one form, urging one unit.
    for path in ("/plans", "/issues?overdue=true", "/overdue/urgings", f"/issues/{issue_id}/reopening"):
        page.goto(demo.base_url + path)
        assert page.locator("form.work").count() >= 1, path
        fits(page, width)
    assert page.locator("form.urge-all").count() == 0  # on the reopening page: the overdue form stays on its list
    page.goto(demo.base_url + "/issues?overdue=true")
    assert page.locator("form.urge-all input[name='pairs']").count() >= 2  # the demo's two overdue issues

    page.goto(f"{demo.base_url}/evaluation/{today.year}/report?unit=dxh-pfk")
    assert "按期整改到位" in page.locator("article.report").inner_text()
    fits(page, width)
    page.emulate_media(media="print")
    assert page.locator("header.top").is_hidden() and page.locator(".seal-box").is_visible()
    screenshot(page, f"year-end-report-print-{width}")
    page.emulate_media(media="screen")
