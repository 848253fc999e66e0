"""The supervision office's forms, on both backends: a plan and its problem list (previewed,
then confirmed from the upload held for whoever previewed it), assignment, urging one unit or
every overdue one, extension, year-end evaluation, closure and reopening, the year-end report;
what each does sent twice, sent stale, sent wrong, or sent by another role."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from application.commands import SYSTEM, Command
from domain.plan import plan_id
from tests.district import District
from tests.pages import ORIGIN, field_error, hidden_fields, opened, page, sign_in, submit
from tests.unit.test_problem_list import SOURCE_ROWS, as_csv, source_layout

NUMBER = "东政办[2019]6号"
CSV = as_csv(source_layout(SOURCE_ROWS), "utf-8")


def log_size(district: District) -> int:
    return district.ledger.recorder.max_notification_id() or 0


def events(district: District, issue: UUID, kind: str) -> list[dict[str, object]]:
    return [e for e in district.issues.issue_history(district.actors["supervisor"], issue) if e["type"] == kind]


@pytest.fixture
def plan(district: District) -> UUID:
    district.issues.register_plan(district.cmd("supervisor"), number=NUMBER, title="实施方案", issuer_unit="bgs", year=2019)
    return plan_id(NUMBER)


@pytest.fixture
def issue(district: District, plan: UUID) -> UUID:
    made = district.issues.register_issue(district.cmd("supervisor"), plan=plan, seq=1, duty="法治宣传教育",
                                          problem="普法有待加强", units=["pf", "gf"],
                                          measures=[("pf", "纳入考核标准", None)])
    district.issues.assign_issue(district.cmd("supervisor"), made.id, lead_unit="pf", co_units=["gf"],
                                 contact_person="陈静", deadline=date(2019, 6, 30), nodes=[])
    return made.id


def preview(client: TestClient, plan: UUID, data: bytes = CSV, name: str = "问题清单.csv"):  # type: ignore[no-untyped-def]
    action = f"/plans/{plan}/problem-list?dry_run=true"
    return submit(client, f"/plans/{plan}", action, {}, files=[("file", (name, data, "text/csv"))])


def test_a_plan_form_sent_twice_registers_the_plan_once(client: TestClient, district: District) -> None:
    sign_in(client, district, "supervisor")
    envelope = hidden_fields(page(client, "/plans"), "/plans")
    fields = {"number": NUMBER, "title": "实施方案", "issuer_unit": "bgs", "year": "2019"}
    sent = [submit(client, "/plans", "/plans", fields, envelope=envelope) for _ in range(2)]
    assert [a.status_code for a in sent] == [303, 303]
    assert sent[0].headers["location"] == sent[1].headers["location"] == f"/plans/{plan_id(NUMBER)}"
    assert district.issues.plan(plan_id(NUMBER)).version == 1
    assert NUMBER in page(client, "/plans") and "上传并预览" in page(client, f"/plans/{plan_id(NUMBER)}")
    before = log_size(district)
    again = submit(client, "/plans", "/plans", {**fields, "title": "另一份"})
    assert again.status_code == 409 and "已经登记" in field_error(again.text, "number")
    assert "另一份" in again.text and log_size(district) == before


def test_a_previewed_list_is_imported_on_confirmation_exactly_once(
        client: TestClient, district: District, plan: UUID, tmp_path: Path) -> None:
    sign_in(client, district, "supervisor")
    before = log_size(district)
    shown = preview(client, plan)
    assert shown.status_code == 200, shown.text[:500]
    assert log_size(district) == before  # a preview stores no entry
    assert shown.text.count('class="would_create"') == 4
    assert "公共法律服务管理科" in shown.text and "常青花园司法所" in shown.text
    held_dir = district.settings.evidence_dir / "held"
    assert len(list(held_dir.glob("*/*.json"))) == 1
    action = f"/plans/{plan}/problem-list"
    envelope = hidden_fields(shown.text, action)
    sent = [client.post(action, data=envelope, headers=ORIGIN, follow_redirects=False) for _ in range(2)]
    assert sent[0].status_code == 303 and sent[0].headers["location"] == f"/plans/{plan}?imported=4"
    assert sent[1].status_code == 409 and "已导入或已失效" in sent[1].text
    issues = [i for i in district.issues.issue_ids() if district.issues.issue(i).plan_id == plan]
    assert len(issues) == 4
    assert not list(held_dir.glob("*/*"))  # the held upload is gone once imported
    assert "新建 4 项" in page(client, sent[0].headers["location"])


def test_confirmation_imports_only_an_upload_its_sender_previewed(
        client: TestClient, district: District, plan: UUID) -> None:
    district.accounts.add_user(Command(SYSTEM), name="supervisor-2", unit="bgs", role="supervisor")
    sign_in(client, district, "supervisor")
    digest = hidden_fields(preview(client, plan).text, f"/plans/{plan}/problem-list")["held"]
    client.cookies.clear()
    sign_in(client, district, "supervisor-2")
    before = log_size(district)
    envelope = hidden_fields(page(client, f"/plans/{plan}"), f"/plans/{plan}/problem-list?dry_run=true")
    for held in (digest, "0" * 64, "../" * 5):
        answer = client.post(f"/plans/{plan}/problem-list", data={**envelope, "held": held}, headers=ORIGIN,
                             follow_redirects=False)
        assert answer.status_code == 409 and "已导入或已失效" in answer.text
    assert log_size(district) == before


def test_a_file_that_is_no_problem_list_is_refused_beside_the_file(
        client: TestClient, district: District, plan: UUID) -> None:
    sign_in(client, district, "supervisor")
    answer = preview(client, plan, as_csv([["1", "x", "y"]], "utf-8"), "a.csv")
    assert answer.status_code == 422 and "序号" in field_error(answer.text, "file")
    assert 'name="held"' not in answer.text
    assert not list((district.settings.evidence_dir / "held").glob("*/*"))


def test_assignment_with_co_units_and_several_nodes_is_recorded_once(
        client: TestClient, district: District, issue: UUID) -> None:
    sign_in(client, district, "supervisor")
    form = f"/issues/{issue}/assignment"
    html = page(client, form)
    assert html.count('type="date" name="nodes"') >= 4
    envelope = hidden_fields(html, form)
    fields = {"lead_unit": "gf", "co_units": ["pf", "司法所"], "contact_person": "赵磊", "deadline": "2019-09-30",
              "nodes": ["2019-05-31", "", "2019-07-31"]}
    sent = [submit(client, form, form, fields, envelope=envelope) for _ in range(2)]
    assert [a.status_code for a in sent] == [303, 303]
    assigned = events(district, issue, "Assigned")
    assert len(assigned) == 2  # the fixture's and this form's, once
    state = district.issues.issue(issue)
    assert state.lead_unit == "gf" and state.co_units == ["pf", "sfs-cq", "sfs-zml"]
    assert state.nodes == [date(2019, 5, 31), date(2019, 7, 31)]


def test_a_node_after_the_deadline_is_refused_beside_the_nodes_with_what_was_typed(
        client: TestClient, district: District, issue: UUID) -> None:
    sign_in(client, district, "supervisor")
    form = f"/issues/{issue}/assignment"
    before = log_size(district)
    answer = submit(client, form, form, {"lead_unit": "pf", "contact_person": "陈静", "deadline": "2019-06-30",
                                         "nodes": ["2019-08-01"]})
    assert answer.status_code == 422 and "节点" in field_error(answer.text, "nodes")
    assert 'value="2019-08-01"' in answer.text and log_size(district) == before


def test_an_urging_form_sent_after_another_entry_says_so_and_stores_nothing(
        client: TestClient, district: District, issue: UUID) -> None:
    form = f"/issues/{issue}/urgings"
    envelope = opened(client, district, "supervisor", form)
    district.issues.report_progress(district.cmd("pf-clerk"), issue, "M1", summary="已起草", evidence=[])
    before = log_size(district)
    answer = submit(client, form, form, {"unit": "pf", "message": "请尽快报送", "reply_by": "2019-03-15"},
                    envelope=envelope)
    assert answer.status_code == 409 and "此记录已被他人更新" in answer.text and "请尽快报送" in answer.text
    assert log_size(district) == before
    again = submit(client, form, form, {"unit": "pf", "message": "请尽快报送", "reply_by": "2019-03-15"},
                   envelope=hidden_fields(answer.text, form))
    assert again.status_code == 303 and len(events(district, issue, "Urged")) == 1


def test_wrong_fields_of_urging_and_extension_stand_beside_them(
        client: TestClient, district: District, issue: UUID) -> None:
    sign_in(client, district, "supervisor")
    before = log_size(district)
    urge = f"/issues/{issue}/urgings"
    past = submit(client, urge, urge, {"unit": "pf", "message": "请报送", "reply_by": "2019-02-01"})
    assert past.status_code == 422 and "今天" in field_error(past.text, "reply_by")
    extend = f"/issues/{issue}/deadline-extensions"
    earlier = submit(client, extend, extend, {"deadline": "2019-05-01", "reason": "会签需要时间"})
    assert earlier.status_code == 422 and "晚于" in field_error(earlier.text, "deadline")
    assert "会签需要时间" in earlier.text
    blank = submit(client, extend, extend, {"deadline": "2019-12-31", "reason": " "})
    assert blank.status_code == 422 and field_error(blank.text, "reason")
    assert log_size(district) == before
    done = submit(client, extend, extend, {"deadline": "2019-12-31", "reason": "会签需要时间"})
    assert done.status_code == 303 and district.issues.issue(issue).deadline == date(2019, 12, 31)


def test_every_overdue_unit_is_urged_once_from_the_overdue_list(
        client: TestClient, district: District, issue: UUID, clock) -> None:  # type: ignore[no-untyped-def]
    district.issues.adopt_measure(district.cmd("gf-clerk"), issue, unit="gf", text="建立台账", due=date(2019, 4, 30))
    clock.advance(days=130)  # 2019-07-09: the issue's deadline and both measures are past
    sign_in(client, district, "supervisor")
    listing = page(client, "/issues?overdue=true")
    assert listing.count('name="pairs"') == 2
    envelope = hidden_fields(listing, "/overdue/urgings")
    keys = re.findall(r'name="pairs" value="([^"]+)"', listing)
    fields = {"pairs": keys, "message": "整改期限已过，请尽快报送", "reply_by": "2019-07-20"}
    sent = [client.post("/overdue/urgings", data={**envelope, **fields}, headers=ORIGIN, follow_redirects=False)
            for _ in range(2)]
    assert [a.status_code for a in sent] == [303, 303]
    urged = events(district, issue, "Urged")
    assert sorted(e["fields"]["target"] for e in urged) == ["gf", "pf"]  # type: ignore[index]
    none_chosen = client.post("/overdue/urgings", data={**hidden_fields(listing, "/overdue/urgings"),
                                                        "message": "x", "reply_by": "2019-07-20"},
                              headers=ORIGIN, follow_redirects=False)
    assert none_chosen.status_code == 422 and field_error(none_chosen.text, "pairs")
    assert len(events(district, issue, "Urged")) == 2


def test_year_end_grade_from_the_unit_page_then_closure_and_reopening(
        client: TestClient, district: District, issue: UUID) -> None:
    district.issues.complete_measure(district.cmd("pf-clerk"), issue, "M1", summary="已印发")
    sign_in(client, district, "supervisor")
    offered = page(client, f"/issues/{issue}")
    for path in ("assignment", "urgings", "deadline-extensions", "evaluations", "closure"):
        assert f'href="/issues/{issue}/{path}"' in offered
    unit_page = page(client, "/evaluation/2019/units/pf")
    assert "记录支持" in unit_page and "客观指标" in unit_page
    action = f"/issues/{issue}/evaluations"
    envelope = hidden_fields(unit_page, action)
    bad = client.post(action, data={**envelope, "grade": "优秀", "score": "120"}, headers=ORIGIN,
                      follow_redirects=False)
    assert bad.status_code == 422 and field_error(bad.text, "score")
    good = client.post(action, data={**envelope, "grade": "良好", "score": "88", "findings": "整改到位"},
                       headers=ORIGIN, follow_redirects=False)
    assert good.status_code == 303 and good.headers["location"].startswith("/evaluation/2019/units/pf")
    assert "良好" in page(client, good.headers["location"])
    report = page(client, "/evaluation/2019/report?unit=pf")
    assert "盖章" in report and "签字" in report and "整改到位" in report
    assert "全区" in page(client, "/evaluation/2019/report")

    close = f"/issues/{issue}/closure"
    assert submit(client, close, close, {"summary": "经核查整改到位"}).status_code == 303
    assert district.issues.issue(issue).closed
    assert f'href="/issues/{issue}/reopening"' in page(client, f"/issues/{issue}")
    reopen = f"/issues/{issue}/reopening"
    blank = submit(client, reopen, reopen, {"reason": ""})
    assert blank.status_code == 422 and field_error(blank.text, "reason")
    assert submit(client, reopen, reopen, {"reason": "复查发现台账未更新"}).status_code == 303
    assert not district.issues.issue(issue).closed


@pytest.mark.parametrize("who, status", [("pf-clerk", 403), ("cq-clerk", 404), ("inspector", 403)])
def test_other_roles_are_refused_the_supervision_forms_and_store_nothing(
        client: TestClient, district: District, issue: UUID, plan: UUID, who: str, status: int) -> None:
    sign_in(client, district, "supervisor")
    envelope = hidden_fields(page(client, f"/issues/{issue}/urgings"), f"/issues/{issue}/urgings")
    client.cookies.clear()
    sign_in(client, district, who)
    mine = hidden_fields(page(client, "/evaluation"), "/signout")
    assert f'href="/issues/{issue}/urgings"' not in client.get(f"/issues/{issue}").text
    before = log_size(district)
    for path in ("assignment", "urgings", "deadline-extensions", "evaluations", "closure", "reopening"):
        page(client, f"/issues/{issue}/{path}", status)
        answer = client.post(f"/issues/{issue}/{path}", data={**envelope, "csrf": mine["csrf"], "unit": "pf",
                                                             "message": "x", "reply_by": "2019-03-15"},
                             headers=ORIGIN, follow_redirects=False)
        assert answer.status_code == status and answer.headers["content-type"].startswith("text/html")
    for path, data in (("/plans", {"number": "X", "title": "X", "issuer_unit": "bgs", "year": "2019"}),
                       ("/overdue/urgings", {"message": "x", "reply_by": "2019-03-15"})):
        assert client.post(path, data={**mine, **data}, headers=ORIGIN, follow_redirects=False).status_code == 403
    upload = client.post(f"/plans/{plan}/problem-list?dry_run=true", data=mine, headers=ORIGIN,
                         files=[("file", ("a.csv", CSV, "text/csv"))], follow_redirects=False)
    assert upload.status_code == 403
    assert log_size(district) == before
    assert not list((district.settings.evidence_dir / "held").glob("*/*"))


def test_a_units_extension_request_is_decided_once_from_its_form(
        client: TestClient, district: District, issue: UUID) -> None:
    asked = district.issues.request_extension(district.cmd("gf-clerk"), issue, deadline=date(2019, 9, 30),
                                              reason="需与区法院会签")
    request_id = asked.answer()["request_id"]
    form = f"/issues/{issue}/extension-requests/{request_id}/decision"
    sign_in(client, district, "supervisor")
    assert f'href="{form}"' in page(client, f"/issues/{issue}")
    before = log_size(district)
    blank = submit(client, form, form, {"approved": "true", "reason": ""})
    assert blank.status_code == 422 and field_error(blank.text, "reason") and log_size(district) == before
    envelope = hidden_fields(page(client, form), form)
    sent = [submit(client, form, form, {"approved": "true", "reason": "同意会签延期"}, envelope=envelope)
            for _ in range(2)]
    assert [a.status_code for a in sent] == [303, 303]
    assert len(events(district, issue, "ExtensionDecided")) == 1
    assert district.issues.issue(issue).deadline == date(2019, 9, 30)
    assert f'href="{form}"' not in page(client, f"/issues/{issue}")  # decided: no longer offered
    client.cookies.clear()
    sign_in(client, district, "gf-clerk")
    page(client, form, 403)


def test_a_refused_row_is_previewed_with_its_reason_and_place_never_its_text(
        client: TestClient, district: District, plan: UUID) -> None:
    rows = [list(r) for r in SOURCE_ROWS]
    rows[1][3] = "监护人电话13800138000未接通"
    rows[2][1] = "区气象局"
    sign_in(client, district, "supervisor")
    shown = preview(client, plan, as_csv(source_layout(rows), "utf-8"))
    assert shown.status_code == 200
    assert shown.text.count('class="refused overdue"') == 2 and shown.text.count('class="would_create"') == 2
    assert "13800138000" not in shown.text and "手机号码" in shown.text
    assert "见原文件第" in shown.text
    action = f"/plans/{plan}/problem-list"
    answer = client.post(action, data=hidden_fields(shown.text, action), headers=ORIGIN, follow_redirects=False)
    assert answer.headers["location"] == f"/plans/{plan}?imported=2"


def test_a_grade_above_what_the_record_supports_stands_out_on_the_unit_page(
        client: TestClient, district: District, issue: UUID) -> None:
    district.issues.urge(district.cmd("supervisor"), issue, unit="pf", message="请报送", reply_by=date(2019, 3, 15))
    district.issues.complete_measure(district.cmd("pf-clerk"), issue, "M1", summary="已印发")  # on time
    sign_in(client, district, "supervisor")
    unit_page = page(client, "/evaluation/2019/units/pf")
    assert "最高 良好（当年被催办）" in unit_page
    assert re.search(r'<option value="良好" selected>', unit_page)  # preselected at what the record supports
    action = f"/issues/{issue}/evaluations"
    sent = client.post(action, data={**hidden_fields(unit_page, action), "grade": "优秀", "score": "95"},
                       headers=ORIGIN, follow_redirects=False)
    assert sent.status_code == 303
    after = page(client, sent.headers["location"])
    assert "存疑" in after and "依据记录最高为良好" in after
