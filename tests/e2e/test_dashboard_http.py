"""The dashboard over HTTP, on both backends: sign-in, every page, and their refusals."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from domain.plan import plan_id
from tests.district import Clock, District
from tests.pages import ORIGIN, page, rows_with, session_csrf, sign_in

CHILD_NAME = "王小明"
CHILD_ADDRESS = "某路1号"


@dataclass
class History:
    overdue: UUID  # pf's issue, past its deadline, with a late entry and its correction
    other: UUID  # gf's issue, never assigned (so never overdue), its measure done
    late_version: int
    correction_version: int


def valid_id() -> str:
    from stdnum.cn import ric

    body = "11010520120515341"
    return body + ric.calc_check_digit(body + "0")


@pytest.fixture
def history(district: District, clock: Clock, services) -> History:  # type: ignore[no-untyped-def]
    cmd = district.cmd
    district.issues.register_plan(cmd("supervisor"), number="东政办[2019]6号", title="实施方案", issuer_unit="bgs", year=2019)
    plan = plan_id("东政办[2019]6号")
    overdue = district.issues.register_issue(cmd("supervisor"), plan=plan, seq=1, duty="法治宣传教育", problem="普法有待加强",
                                    units=["pf"], measures=[("pf", "纳入考核标准", None)]).id
    other = district.issues.register_issue(cmd("supervisor"), plan=plan, seq=2, duty="法律援助", problem="援助机制待完善",
                                  units=["gf"], measures=[("gf", "设立受理窗口", None)]).id
    district.issues.complete_measure(cmd("gf-clerk"), other, "M1", summary="窗口已设立")
    district.issues.assign_issue(cmd("supervisor"), overdue, lead_unit="pf", co_units=[], contact_person="陈静",
                        deadline=date(2019, 3, 31), nodes=[])
    claimed = clock.now + timedelta(days=1)
    clock.advance(days=30)
    late = district.issues.report_progress(cmd("pf-clerk", occurred_at=claimed), overdue, "M1", summary="已起草考核标准", evidence=[])
    clock.advance(days=1)
    correction = district.issues.correct_issue_entry(cmd("pf-clerk"), overdue, position=late.position,
                                            changes={"summary": "已起草并征求意见"}, reason="补充")
    clock.advance(days=40)
    district.issues.urge(cmd("supervisor"), overdue, unit="pf", message="请尽快整改", reply_by=date(2019, 5, 31))
    case = district.cases.register_case(cmd("cq-clerk"), street="常青花园", community="常青一社区", household_local=True,
                                birth_date=date(2012, 5, 15),
                                person={"name": CHILD_NAME, "id_number": valid_id(), "address": CHILD_ADDRESS})
    district.cases.classify_case(cmd("cq-clerk"), case.id, left_behind=True, categories=[], evidence=["a" * 64])
    clock.now = datetime(2020, 1, 10, 2, tzinfo=UTC)
    district.issues.evaluate_issue(cmd("supervisor"), overdue, year=2019, grade="优秀", score=95, findings="到位")
    return History(overdue, other, late.version, correction.version)
















# ---- signing in ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/issues?overdue=true", "/evaluation", "/ledger", "/audit",
                                  "/issues/00000000-0000-0000-0000-000000000000"])
def test_a_page_without_sign_in_redirects_to_sign_in_and_back(client: TestClient, district: District, path: str) -> None:
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/signin?next=")
    signin = client.get(answer.headers["location"])
    assert f'name="next" value="{path}"' in signin.text.replace("&amp;", "&")


# ---- the pages -------------------------------------------------------------------------------


def test_overview_marks_overdue_units_and_leads_to_the_overdue_issues(client: TestClient, district: District,
                                                                     history: History) -> None:
    sign_in(client, district, "supervisor")
    html = page(client, "/")
    overdue_rows = rows_with(html, "overdue")
    assert len(overdue_rows) == 1 and "普法和依法治理科" in overdue_rows[0]
    assert '<a class="card alert" href="/issues?overdue=true"><strong>1</strong>' in html
    assert "<svg" in html and 'class="seg overdue"' in html
    listed = page(client, "/issues?overdue=true")
    assert f'href="/issues/{history.overdue}"' in listed and f'href="/issues/{history.other}"' not in listed


def test_issue_list_filters_by_plan_unit_and_status(client: TestClient, district: District, history: History) -> None:
    sign_in(client, district, "inspector")
    both = page(client, "/issues")
    assert str(history.overdue) in both and str(history.other) in both
    by_unit = page(client, "/issues?unit=gf")
    assert str(history.other) in by_unit and str(history.overdue) not in by_unit
    by_status = page(client, "/issues?status=待销号")
    assert str(history.other) in by_status and str(history.overdue) not in by_status
    assert "没有符合条件的整改问题" in page(client, "/issues?plan=东政办[2020]1号")


def test_issue_list_pages_keep_the_filters_and_a_page_past_the_end_shows_the_last(
    client: TestClient, district: District, history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    from interfaces.web import present

    monkeypatch.setattr(present, "ISSUES_PER_PAGE", 1)
    sign_in(client, district, "inspector")
    first = page(client, "/issues?plan=东政办[2019]6号")
    assert str(history.overdue) in first and str(history.other) not in first
    assert "第 1 / 2 页" in first and "共 2 项" in first
    following = re.search(r'<a href="([^"]+)" rel="next">', first)
    assert following is not None
    second = page(client, following.group(1).replace("&amp;", "&"))
    assert str(history.other) in second and str(history.overdue) not in second
    assert "plan=" in following.group(1) and 'rel="next"' not in second and 'rel="prev"' in second
    assert str(history.other) in page(client, "/issues?page=99")
    page(client, "/issues?page=0", status=400)


def test_an_agency_sees_only_its_own_units_work(client: TestClient, district: District, history: History) -> None:
    sign_in(client, district, "gf-clerk")
    overview = page(client, "/")
    assert "公共法律服务管理科" in overview and "普法和依法治理科" not in overview
    listed = page(client, "/issues")
    assert str(history.other) in listed and str(history.overdue) not in listed
    assert 'href="/ledger"' in overview and 'href="/audit"' not in overview


def test_an_issue_of_another_unit_is_the_same_404_page_as_no_issue(client: TestClient, district: District,
                                                                  history: History) -> None:
    sign_in(client, district, "gf-clerk")
    refused = page(client, f"/issues/{history.overdue}", 404)
    missing = page(client, "/issues/00000000-0000-0000-0000-000000000000", 404)
    assert "未找到" in refused and "普法有待加强" not in refused
    assert refused.replace(str(history.overdue), "ID") == missing.replace("00000000-0000-0000-0000-000000000000", "ID")
    assert "未找到" in page(client, f"/issues/{history.overdue}?as_of=2019-03-15", 404)
    page(client, f"/issues/{history.other}")


def test_an_unknown_or_malformed_issue_is_a_page_not_a_problem(client: TestClient, district: District) -> None:
    sign_in(client, district, "supervisor")
    assert "未找到" in page(client, "/issues/00000000-0000-0000-0000-000000000000", 404)
    assert "请求有误" in page(client, "/issues/not-a-uuid", 400)


def test_issue_timeline_shows_who_both_times_late_entries_and_corrections(client: TestClient, district: District,
                                                                         history: History) -> None:
    sign_in(client, district, "supervisor")
    html = page(client, f"/issues/{history.overdue}")
    late = re.search(rf'<li id="v{history.late_version}" class="([^"]+)"', html)
    assert late and "late" in late.group(1).split() and "corrected" in late.group(1).split()
    assert f'href="#v{history.late_version}">更正第 {history.late_version} 条记录' in html
    assert f'href="#v{history.correction_version}">已被第 {history.correction_version} 条记录更正' in html
    assert "pf-clerk · 普法和依法治理科" in html and "补录：晚 29 天登记" in html
    assert "登记时间 2019-03-31 17:00 · 声称时间 2019-03-02 17:00" in html


def test_issue_as_of_an_earlier_date_shows_what_was_recorded_by_then(client: TestClient, district: District,
                                                                    history: History) -> None:
    sign_in(client, district, "supervisor")
    now = page(client, f"/issues/{history.overdue}")
    then = page(client, f"/issues/{history.overdue}?as_of=2019-03-15")
    assert now.count('<li id="v') > then.count('<li id="v') >= 2
    assert "报送阶段性进展" not in then and "正在回看" in then and 'value="2019-03-15"' in then
    assert "未找到" in page(client, f"/issues/{history.overdue}?as_of=2018-01-01", 404)
    assert "请求有误" in page(client, f"/issues/{history.overdue}?as_of=yesterday", 400)


def test_evaluation_flags_a_grade_the_record_does_not_support_and_links_its_xlsx(
    client: TestClient, district: District, history: History
) -> None:
    sign_in(client, district, "supervisor")
    html = page(client, "/evaluation")  # the latest year graded: 2019
    assert "2019 年度年终考核" in html and 'href="/api/v1/views/evaluation/2019.xlsx"' in html
    flagged = rows_with(html, "flagged")
    assert len(flagged) == 1 and "普法和依法治理科" in flagged[0] and "存疑" in flagged[0]
    assert '<link rel="stylesheet" href="/static/print.css" media="print">' in html
    xlsx = client.get("/api/v1/views/evaluation/2019.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert page(client, "/evaluation?year=2030").count('<tr class="flagged">') == 0


def test_print_stylesheet_repeats_header_rows_and_numbers_pages(client: TestClient) -> None:
    css = client.get("/static/print.css")
    assert css.status_code == 200
    assert "size: A4" in css.text and "display: table-header-group" in css.text
    assert "counter(page)" in css.text and "counter(pages)" in css.text


def test_child_ledger_statistics_show_counts_never_personal_data(client: TestClient, district: District,
                                                                history: History) -> None:
    sign_in(client, district, "supervisor")
    html = page(client, "/ledger")
    assert "常青花园" in html
    for secret in (CHILD_NAME, CHILD_ADDRESS, valid_id(), "ET2019-"):
        assert secret not in html


def test_an_agency_reads_the_child_ledger_of_its_own_cases_and_not_the_audit(
    client: TestClient, district: District, history: History
) -> None:
    sign_in(client, district, "cq-clerk")  # registered the one case, in 常青花园
    assert "常青花园" in page(client, "/ledger")
    page(client, "/audit", 403)
    client.cookies.clear()
    sign_in(client, district, "zml-clerk")
    assert "常青花园" not in page(client, "/ledger")


def test_an_admin_reads_the_audit_pages_and_none_of_the_issues(client: TestClient, district: District,
                                                               history: History) -> None:
    sign_in(client, district, "admin")
    landing = client.get("/", follow_redirects=False)
    assert landing.status_code == 303 and landing.headers["location"] == "/audit"
    assert "审计日志" in page(client, "/audit")
    for path in ("/issues", f"/issues/{history.overdue}", "/evaluation", "/ledger"):
        assert "普法有待加强" not in page(client, path, 403)


def test_audit_page_searches_the_log_shows_the_tree_head_and_verifies(client: TestClient, district: District,
                                                                     history: History) -> None:
    sign_in(client, district, "inspector")
    html = page(client, "/audit?kind=RectificationIssue.Urged")
    rows = re.findall(r"<tr class=\"[^\"]*\">\s*<td class=\"n\" data-label=\"位置\">(\d+)</td>", html)
    assert len(rows) == 1 and '<td class="kind" data-label="事件种类">催办</td>' in html
    size = district.ledger.recorder.max_notification_id()
    assert f'<dd class="tree-size">{size}</dd>' in html
    assert "尚未核验" in html
    late = page(client, "/audit?late=true")
    assert late.count("补录</span>") == 1
    csrf = session_csrf(client)
    assert client.post("/audit/verify", data={"csrf": csrf}, headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.post("/audit/verify", data={"csrf": "forged"}, headers=ORIGIN).status_code == 403
    started = client.post("/audit/verify", data={"csrf": csrf}, headers=ORIGIN, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"] == "/audit/verify"
    assert client.app.state.web_verifications.latest.wait(timeout=60)
    verified = page(client, "/audit/verify")
    assert "完好：核验了" in verified and "由 inspector 运行" in verified
    assert 'http-equiv="refresh"' not in verified  # done: the page stops refreshing
    assert "完好：核验了" in page(client, "/audit")


def test_pages_load_nothing_from_outside_and_forbid_it(client: TestClient, district: District, history: History) -> None:
    sign_in(client, district, "supervisor")
    for path in ("/", "/issues", f"/issues/{history.overdue}", "/evaluation", "/ledger", "/audit", "/signin"):
        answer = client.get(path)
        assert "default-src 'self'" in answer.headers["content-security-policy"]
        assert not re.search(r'(?:src|href|action)="(?:https?:)?//', answer.text), path
    assert client.get("/static/dashboard.css").status_code == 200


def test_verify_returns_at_once_shows_progress_and_a_second_click_joins_the_running_job(
    client: TestClient, district: District, history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from infrastructure.findings import Discrepancy, Finding, Verification
    from interfaces import bootstrap

    release, reached, walks = threading.Event(), threading.Event(), []

    def held_verify(*args: object, on_progress, **kw: object) -> Verification:  # type: ignore[no-untyped-def]
        walks.append(1)
        on_progress(5)
        reached.set()
        assert release.wait(30)
        return Verification(events_checked=12, heads_checked=3, unlogged_events=0,
                            finding=Finding(Discrepancy.EVENT_CHANGED, 7, 6, "the stored event differs from its leaf"))

    monkeypatch.setattr(bootstrap, "verify_log", held_verify)
    sign_in(client, district, "supervisor")
    total = district.ledger.recorder.max_notification_id()
    started = client.post("/audit/verify", data={"csrf": session_csrf(client)}, headers=ORIGIN, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"] == "/audit/verify"
    assert reached.wait(30)  # the walk runs while the request has long answered
    running = page(client, "/audit/verify")
    assert f"已核验 5 / {total} 个位置" in running and '<meta http-equiv="refresh" content="2">' in running
    assert "核验进行中" in page(client, "/audit")

    again = client.post("/audit/verify", data={"csrf": session_csrf(client)}, headers=ORIGIN, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/audit/verify"
    job = client.app.state.web_verifications.latest
    assert job.number == 1 and job.running and len(walks) == 1

    release.set()
    assert job.wait(timeout=30)
    done = page(client, "/audit/verify")
    assert "发现篡改" in done and '<strong class="bad-position">7</strong>' in done
    assert 'http-equiv="refresh"' not in done and len(walks) == 1


def test_a_verification_that_fails_says_so_without_its_error_text(
    client: TestClient, district: District, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from interfaces import bootstrap

    def broken(*args: object, **kw: object) -> None:
        raise RuntimeError(f"{CHILD_NAME} row unreadable")

    monkeypatch.setattr(bootstrap, "verify_log", broken)
    sign_in(client, district, "inspector")
    client.post("/audit/verify", data={"csrf": session_csrf(client)}, headers=ORIGIN, follow_redirects=False)
    assert client.app.state.web_verifications.latest.wait(timeout=30)
    shown = page(client, "/audit/verify")
    assert "核验未能完成（RuntimeError）" in shown and CHILD_NAME not in shown
    assert "RuntimeError" in caplog.text and CHILD_NAME not in caplog.text  # nor in the log
