"""A mandatory report in a real browser on the demo district, from the school that files it
(and corrects what it mistyped through 更正记录) to the police who take the referral on, accept
the report and go out, the referral to legal aid taken on and the service given, and
the supervision office reading the child's personal fields with a reason, which the case's
access log then shows. Each page also at a phone's width (390 px) without horizontal
scrolling; screenshots as the other browser tests take them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from application.commands import SYSTEM, Command
from interfaces.demo_district import SHANGHAI
from tests.application.test_child_cases import BIRTH, NAME, valid_id
from tests.browser.conftest import Demo
from tests.browser.test_dashboard_browser import sign_in as sign_in_demo
from tests.browser.test_inspector_browser import fits_a_phone

PASSWORD = "a password long enough"
SCHOOL = ("吴家山第一小学-张老师", "school-wjs1", "吴家山第一小学")
POLICE = ("公安分局-李警官", "gafj", None)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def enrol(demo: Demo, name: str, unit: str, unit_name: str | None) -> None:
    """A reporting body and the police: units of the district whose staff the demo has no user for."""
    if unit_name is not None:
        demo.services.registry.add_unit(Command(SYSTEM), code=unit, name=unit_name)
    demo.services.accounts.add_user(Command(SYSTEM), name=name, unit=unit, role="agency")
    demo.services.accounts.set_password(Command(SYSTEM), name, PASSWORD)


def sign_in(page: Any, demo: Demo, name: str, start: str) -> None:
    page.goto(demo.base_url + start)
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("form[action='/signin'] button")
    page.wait_for_url(re.compile(re.escape(demo.base_url + start) + "$"))


def sign_out(page: Any) -> None:
    page.click("form.who button")
    page.wait_for_url(re.compile(r"/signin"))


# When the school reported, in Beijing time to the minute: the police's times count from it.
REPORTED = (datetime.now(SHANGHAI) - timedelta(hours=3)).replace(second=0, microsecond=0)


def reported_plus(minutes: int) -> str:
    """A datetime-local value ``minutes`` after the report."""
    return (REPORTED + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")


def offer(page: Any, label: str) -> None:
    page.click(f"ul.offers a:has-text('{label}')")


def submit(page: Any) -> None:
    page.click("form.work button[type='submit']")
    page.wait_for_url(re.compile(r"/cases/[0-9a-f-]{36}\?done=\d+"))
    assert page.locator(".done").is_visible()


def test_a_mandatory_report_from_the_school_to_police_dispatch_referral_and_service(
        page: Any, demo: Demo, tmp_path: Path, screenshot: Callable[..., None]) -> None:
    enrol(demo, *SCHOOL)
    enrol(demo, *POLICE)

    # The school: registers the child, then files its report on the case.
    sign_in(page, demo, SCHOOL[0], "/cases")
    assert page.locator("header.top nav a[href='/cases']").inner_text() == "个案"
    page.click("ul.offers a:has-text('登记儿童个案')")
    page.fill("input[name='name']", NAME)
    page.fill("input[name='id_number']", valid_id())
    page.fill("input[name='birth_date']", BIRTH.isoformat())
    page.fill("input[name='address']", "吴家山某路1号")
    page.fill("input[name='street']", "吴家山街")
    page.fill("input[name='community']", "吴家山村")
    page.check("input[name='household_local']")
    fits_a_phone(page)
    screenshot(page, "case-register")
    page.click("form.work button[type='submit']")
    page.wait_for_url(re.compile(r"/cases/[0-9a-f-]{36}\?done=1$"))
    case_url = page.url.split("?")[0]
    case_number = page.locator("h1").inner_text().split()[1]
    assert NAME not in page.content()

    offer(page, "强制报告")
    page.select_option("select[name='reporter']", label="中小学校")
    page.select_option("select[name='nature']", label="实际无人监护")
    page.fill("textarea[name='details']", f"{NAME}连续三天独自在家")
    page.fill("input[name='occurred_at']", reported_plus(0))
    fits_a_phone(page)
    submit(page)
    assert "中小学校报告实际无人监护" in page.locator("ol.timeline").inner_text()
    assert NAME not in page.content()

    # The school mistyped what it reported: it corrects the report's nature (更正记录); the
    # details, the child's, are not offered to a unit that may not read them.
    page.click("li.MandatoryReportFiled a.correct")
    page.wait_for_url(re.compile(r"/corrections/new\?version=\d+$"))
    assert page.locator("textarea[name='new_details']").count() == 0
    page.select_option("select[name='new_nature']", label="虐待")
    page.fill("form.correct textarea[name='reason']", "报告事项选错")
    fits_a_phone(page)
    screenshot(page, "case-correction")
    page.click("form.correct button[type='submit']")
    page.wait_for_url(re.compile(r"/cases/[0-9a-f-]{36}\?done=\d+"))
    assert page.locator("table.reports td[data-label='报告事项']").inner_text() == "虐待"
    assert "已被第" in page.locator("li.MandatoryReportFiled").inner_text()
    assert NAME not in page.content()
    sign_out(page)

    # The supervision office hands the case to the police, and to legal aid.
    sign_in_demo(page, demo, "supervisor", "/cases")
    page.click(f"a.case-link:has-text('{case_number}')")
    for unit, duty in (("公安分局", "及时受理强制报告，第一时间出警"), ("公共法律服务管理科", "法律援助")):
        offer(page, "转介")
        page.select_option("select[name='unit']", label=unit)
        page.fill("textarea[name='duty']", duty)
        submit(page)
    assert page.locator("table.referrals tbody tr").count() == 2
    sign_out(page)

    # The police: accept the report and go out, each with its time.
    sign_in(page, demo, POLICE[0], "/cases")
    page.click(f"a.case-link:has-text('{case_number}')")
    offer(page, "接收转介 RF1")
    submit(page)
    offer(page, "受理强制报告 MR1")
    page.fill("input[name='occurred_at']", reported_plus(10))
    submit(page)
    offer(page, "登记出警 MR1")
    page.fill("input[name='occurred_at']", reported_plus(20))
    fits_a_phone(page)
    submit(page)
    report = page.locator("table.reports tbody tr").inner_text()
    assert "公安分局（10 分钟）" in report and "公安分局（20 分钟）" in report
    sign_out(page)

    # Legal aid: the service, with a file sealed under the child's key.
    sign_in_demo(page, demo, "agency_legal_services", "/cases")
    page.click(f"a.case-link:has-text('{case_number}')")
    offer(page, "接收转介 RF2")
    submit(page)
    assert page.locator("table.referrals tbody tr").last.locator("td[data-label='接收时间']").inner_text() != "未接收"
    offer(page, "登记关爱服务")
    page.select_option("select[name='kind']", label="法律援助")
    page.select_option("select[name='referral_id']", value="RF2")
    page.set_input_files("input[name='files']", files=[
        {"name": "法律援助申请.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    submit(page)
    assert "法律援助" in page.locator("table.services").inner_text()
    sign_out(page)

    # The supervision office reads the child's fields, giving its reason; the read is logged.
    sign_in_demo(page, demo, "supervisor", "/cases")
    page.goto(case_url)
    assert NAME not in page.content()
    fits_a_phone(page)
    screenshot(page, "case")
    page.fill("form.reveal input[name='reason']", "核实儿童住址，安排走访")
    page.click("form.reveal button")
    page.wait_for_url(re.compile(r"/personal$"))
    assert NAME in page.locator(".personal").inner_text()
    fits_a_phone(page)
    page.click("text=返回个案（隐藏个人信息）")
    logged = page.locator("table.access-log tbody tr").last.inner_text()
    assert "核实儿童住址，安排走访" in logged and "督查督办-李敏" in logged
    assert NAME not in page.content()

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(demo.base_url + "/cases")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "cases-phone")
