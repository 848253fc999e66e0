"""The province inspector in a real browser, on a deployment of two districts (PostgreSQL only:
SQLite serves one district): signed in with the province's own credential, from /province to a
district's audit trail, filtered there by a kind of event, and a proof downloaded that verifies
against that district's signed tree head; nothing of another district's rows, nothing of any
issue's or child's content, and the page fits a phone's width."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from application.commands import SYSTEM, Command
from interfaces.deployment import Deployment
from interfaces.http.app import create_app
from tests.application.test_child_cases import BIRTH, NAME, valid_id
from tests.browser.test_inspector_browser import fits_a_phone
from tests.district import assigned_issue
from tests.pages import PASSWORD
from tests.province import districts_deployment
from tests.rfc9162 import rfc_verify_inclusion
from tests.serving import wait_until_healthy

pytestmark = pytest.mark.postgres

CODES = {"420112": "东西湖区", "420113": "汉南区"}
INSPECTOR = "省厅-李督查"


@dataclass
class Served:
    base_url: str
    deployment: Deployment
    issue: str  # the one issue, in 420112


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with districts_deployment(tmp_path_factory.mktemp("province"), CODES) as (_, deployment, districts):
        issue = assigned_issue(districts["420112"])
        districts["420112"].cases.register_case(
            districts["420112"].cmd("cq-clerk"), street="常青花园街道", community="常青一社区", household_local=True,
            birth_date=BIRTH, person={"name": NAME, "id_number": valid_id(), "guardian": "王大明"})
        deployment.province.accounts.add_user(Command(SYSTEM), name=INSPECTOR, unit="prov",
                                              role="province_inspector", unit_name="省民政厅")
        deployment.province.accounts.set_password(Command(SYSTEM), INSPECTOR, PASSWORD)
        listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listening.bind(("127.0.0.1", 0))
        port = listening.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(deployment=deployment), log_level="warning",
                                               lifespan="on"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
        thread.start()
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(base_url, thread.is_alive)
            yield Served(base_url, deployment, str(issue))
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            listening.close()


def test_the_province_inspector_goes_from_the_rollup_to_a_districts_audit_trail_and_downloads_a_proof(
        page: Any, served: Served, tmp_path: Path, screenshot: Callable[..., None]) -> None:
    page.goto(served.base_url + "/province")
    assert "/signin" in page.url
    page.fill("#username", INSPECTOR)
    page.fill("#password", PASSWORD)
    page.select_option("#district", value="")  # 省级: the province's own credential
    page.click("form[action='/signin'] button")
    page.wait_for_url(re.compile(re.escape(served.base_url) + "/province$"))
    assert page.locator("nav[aria-label='主导航'] a", has_text="区县审计").count() == 1

    page.locator("section.district", has_text="东西湖区（420112）").locator("a.district-audit").click()
    page.wait_for_url(re.compile(r"/districts/420112/audit$"))
    assert page.locator("h1").inner_text() == "审计日志 · 东西湖区（420112）"
    assert page.locator("nav[aria-label='主导航'] a[aria-current='page']").inner_text() == "区县审计"
    screenshot(page, "province-district-audit", full_page=False)
    fits_a_phone(page)

    page.select_option("select[name='kind']", label="登记整改问题")
    page.click("main form.filters[action='/districts/420112/audit'] button[type='submit']")
    page.wait_for_url(re.compile(r"/districts/420112/audit\?.*kind=RectificationIssue\.Registered"))
    rows = page.locator("table.audit tbody tr")
    assert rows.count() == 1 and page.locator("table.audit td.kind").all_inner_texts() == ["登记整改问题"]
    assert served.issue in rows.locator("a.object-link").get_attribute("href")
    main = page.locator("main").inner_html()
    assert "replay" not in main
    for content in ("普法有待加强", "法治宣传教育", "陈静", NAME, "王大明", "常青花园街道"):
        assert content not in main, content
    hrefs = page.locator("main a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert all(h.startswith("/districts/420112/audit") or h == "/province" for h in hrefs), hrefs

    with page.expect_download() as head_download:
        page.click("a.download-head")
    head = json.loads(Path(head_download.value.path()).read_text(encoding="utf-8"))
    with page.expect_download() as proof_download:
        rows.locator("a", has_text="包含证明").click()
    proof = json.loads(Path(proof_download.value.path()).read_text(encoding="utf-8"))
    assert proof_download.value.suggested_filename.startswith("包含证明_位置")
    assert (proof["tree_size"], proof["root_hash"]) == (head["tree_size"], head["root_hash"])
    assert rfc_verify_inclusion(proof["leaf_index"], proof["tree_size"], bytes.fromhex(proof["leaf_hash"]),
                                [bytes.fromhex(h) for h in proof["audit_path"]], bytes.fromhex(head["root_hash"]))
    own = served.deployment.districts["420112"].merkle_reader.inclusion_proof(
        int(re.search(r"位置(\d+)", proof_download.value.suggested_filename).group(1)),  # type: ignore[union-attr]
        proof["tree_size"]).as_json()
    assert own == proof  # the district's own tree: the other district's holds no such issue

    # The other district's trail, from the navigation: its rows are its own, without the issue.
    page.click("nav[aria-label='主导航'] >> text=区县审计")
    page.locator("nav#districts a", has_text="汉南区").click()
    page.wait_for_url(re.compile(r"/districts/420113/audit$"))
    assert served.issue not in page.content()
