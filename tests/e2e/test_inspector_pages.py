"""The inspector's pages over HTTP, on both backends: the audit trail searched by names and
kinds in Chinese, an issue, a case and a view replayed and compared between two moments,
and the tree head and proofs downloaded as files."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from fastapi.testclient import TestClient

from domain.case import ChildCase
from domain.registry import user_id
from tests.district import District
from tests.e2e.test_dashboard_http import (  # noqa: F401 — the fixture is used by name
    CHILD_ADDRESS,
    CHILD_NAME,
    History,
    history,
    valid_id,
)
from tests.pages import page, sign_in
from tests.rfc9162 import rfc_verify_consistency, rfc_verify_inclusion


def kinds_of(html: str) -> list[str]:
    return re.findall(r'<td class="kind" data-label="事件种类">([^<]*)</td>', html)


def cells(html: str, label: str) -> list[str]:
    return re.findall(rf'<td data-label="{label}">([^<]*)</td>', html)


def test_the_audit_filters_are_lists_of_names_and_chinese_event_kinds(client: TestClient, district: District,
                                                                     history: History) -> None:
    sign_in(client, district, "inspector")
    html = page(client, "/audit")
    assert '<option value="pf" >普法和依法治理科</option>' in html
    assert '<option value="pf-clerk" >pf-clerk</option>' in html
    assert '<optgroup label="整改问题">' in html and '<option value="Unit.Registered" >登记单位</option>' in html
    shown = kinds_of(html)
    assert "登记单位" in shown and "登记用户" in shown and "登记整改问题" in shown
    assert all(re.search(r"[\u4e00-\u9fff]", k) and not re.search(r"[A-Za-z]", k) for k in shown)
    assert '<small>' not in html  # no code or English type name beside the names

    units = page(client, "/audit?kind=Unit.Registered")
    assert kinds_of(units) == ["登记单位"] * 5  # the district's five units, not its issues or cases
    urged = page(client, "/audit?kind=RectificationIssue.Urged&unit=bgs")
    assert kinds_of(urged) == ["催办"] and cells(urged, "记录单位") == ["办公室"]
    assert 'value="RectificationIssue.Urged" selected' in urged and 'value="bgs" selected' in urged
    by_clerk = page(client, "/audit?user=pf-clerk")
    assert set(cells(by_clerk, "记录人")) == {"pf-clerk"}
    assert kinds_of(by_clerk) == ["报送阶段性进展", "更正问题记录"]
    assert kinds_of(page(client, "/audit?unit=sfs-zml")) == []


def test_an_unknown_filter_value_is_a_400_page(client: TestClient, district: District, history: History) -> None:
    sign_in(client, district, "inspector")
    for query in ("kind=Registered", "kind=Unit.Urged", "unit=nowhere", "user=nobody", "from=yesterday"):
        assert "请求有误" in page(client, f"/audit?{query}", 400), query


def test_an_issue_replayed_at_a_moment_and_compared_with_an_earlier_one(client: TestClient, district: District,
                                                                        history: History) -> None:
    sign_in(client, district, "inspector")
    base = f"/replay/issue?id={history.overdue}"
    then = page(client, f"{base}&at=2019-03-15T12:00")
    assert "正在回看：台账在 2019-03-15 12:00（北京时间）" in then
    assert "<dt>催办次数</dt><dd>0</dd>" in then and "报送阶段性进展" not in then
    assert 'value="2019-03-15T12:00"' in then  # the datetime-local field keeps what was chosen

    compared = page(client, f"{base}&since=2019-03-15T12:00&at=2019-06-01T00:00")
    changes = compared.split('<section class="changes">')[1].split("</section>")[0]
    assert "2019-03-15 12:00 至 2019-06-01 00:00 的变化" in changes
    assert re.search(r"<td data-label=\"项目\">催办次数</td><td data-label=\"之前\">0</td><td data-label=\"之后\">1</td>",
                     changes)
    assert "其间新增的记录（3 条）" in changes
    assert [k for k in re.findall(r'<span class="kind">([^<]+)</span>', changes)] == [
        "报送阶段性进展", "更正问题记录", "催办"]

    before_it = page(client, f"{base}&since=2018-12-01T00:00&at=2019-03-02T00:00")
    assert "<td data-label=\"项目\">状态</td><td data-label=\"之前\">（无）</td>" in before_it
    assert "还没有这个整改问题" in page(client, f"{base}&at=2018-01-01T00:00", 404)
    assert "比较起点须早于查看时间" in page(client, f"{base}&since=2019-06-01T00:00&at=2019-03-15T00:00", 400)
    assert "请求有误" in page(client, f"{base}&at=soon", 400)


def test_the_replay_form_names_an_issue_by_its_plan_and_number(client: TestClient, district: District,
                                                               history: History) -> None:
    sign_in(client, district, "inspector")
    start = page(client, "/replay")
    assert '<option value="东政办[2019]6号">' in start and 'type="datetime-local" name="at"' in start
    plan = quote("东政办[2019]6号")
    chosen = page(client, f"/replay/issue?plan={plan}&seq=1&at=2019-03-15T12:00")
    assert "整改问题第 1 项" in chosen and f'name="id" value="{history.overdue}"' in chosen
    assert "未找到" in page(client, f"/replay/issue?plan={plan}&seq=99", 404)
    assert "请选择实施方案并填写问题序号" in page(client, f"/replay/issue?plan={plan}", 400)


def test_an_agency_replays_only_what_it_reads_and_an_admin_nothing(client: TestClient, district: District,
                                                                   history: History) -> None:
    sign_in(client, district, "gf-clerk")
    page(client, f"/replay/issue?id={history.other}")
    assert "未找到" in page(client, f"/replay/issue?id={history.overdue}&at=2019-06-01T00:00", 404)
    client.cookies.clear()
    sign_in(client, district, "admin")
    for path in ("/replay", f"/replay/issue?id={history.overdue}", "/replay/view?name=units"):
        assert "普法有待加强" not in page(client, path, 403)
    assert "/replay/" not in page(client, "/audit")  # the audit metadata, without a way into the issues


def test_the_inspector_pages_load_nothing_from_outside(client: TestClient, district: District,
                                                       history: History) -> None:
    sign_in(client, district, "inspector")
    for path in ("/replay", f"/replay/issue?id={history.overdue}&since=2019-03-02T00:00",
                 "/replay/view?name=supervision&since=2019-03-02T00:00", "/audit?kind=User.Enrolled"):
        answer = client.get(path)
        assert answer.status_code == 200 and "default-src 'self'" in answer.headers["content-security-policy"]
        assert not re.search(r'(?:src|href|action)="(?:https?:)?//', answer.text), path


def test_a_case_replayed_shows_no_personal_field_and_records_no_read(client: TestClient, district: District,
                                                                     history: History) -> None:
    case = district.ledger.created_ids(ChildCase.Registered)[0]
    reads = len(district.cases.case_access_log(district.actors["supervisor"], case))
    sign_in(client, district, "inspector")
    html = page(client, f"/replay/case?id={case}")
    assert "<dt>街道</dt><dd>常青花园</dd>" in html and "留守儿童</dt><dd>是" in html
    assert "登记儿童个案" in html and "认定类别" in html
    compared = page(client, f"/replay/case?id={case}&since=2019-05-01T00:00")  # before its registration
    assert "其间新增的记录（2 条）" in compared
    assert '<td data-label="项目">街道</td><td data-label="之前">（无）</td><td data-label="之后">常青花园</td>' in compared
    for secret in (CHILD_NAME, CHILD_ADDRESS, valid_id(), "2012-05-15"):
        assert secret not in html and secret not in compared
    assert len(district.cases.case_access_log(district.actors["supervisor"], case)) == reads
    client.cookies.clear()
    sign_in(client, district, "zml-clerk")
    page(client, f"/replay/case?id={case}", 404)


def test_a_view_replayed_and_what_changed_between_two_moments(client: TestClient, district: District,
                                                              history: History) -> None:
    sign_in(client, district, "inspector")
    then = page(client, "/replay/view?name=units&at=2019-03-15T12:00")
    assert "各单位整改情况" in then and "<th>单位代码</th>" not in then
    compared = page(client, "/replay/view?name=units&since=2019-03-15T12:00&at=2019-06-01T00:00")
    assert re.search(r'<td data-label="行">普法和依法治理科</td><td data-label="项目">逾期</td>'
                     r'<td data-label="之前">0</td><td data-label="之后">1</td>', compared)
    same = page(client, "/replay/view?name=supervision&since=2019-03-02T00:00&at=2019-03-03T00:00")
    assert "视图没有变化" in same
    assert "2019 年度" in page(client, "/replay/view?name=evaluation&year=2019&at=2020-02-01T00:00")
    page(client, "/replay/view?name=secrets", 400)


def test_the_tree_head_and_proofs_download_as_named_files_that_verify(client: TestClient, district: District,
                                                                      history: History) -> None:
    sign_in(client, district, "inspector")
    html = page(client, "/audit")
    assert 'href="/audit/tree-head.json"' in html and 'action="/audit/proofs/consistency.json"' in html
    head_file = client.get("/audit/tree-head.json")
    assert head_file.status_code == 200 and head_file.headers["content-type"].startswith("application/json")
    head = json.loads(head_file.text)
    size = head["tree_size"]
    assert head_file.headers["content-disposition"] == (
        f"attachment; filename=\"tree-head-{size}.json\"; filename*=UTF-8''{quote(f'签名树头_大小{size}.json')}")
    assert head == client.get("/api/v1/audit/tree-head", headers={"Authorization": f"Bearer {district.tokens['inspector']}"}).json()

    link = re.search(r'href="(/audit/proofs/inclusion\.json\?position=(\d+)&amp;tree_size=\d+)"', html)
    assert link
    proof_file = client.get(link.group(1).replace("&amp;", "&"))
    assert proof_file.status_code == 200
    assert "filename*=UTF-8''" + quote(f"包含证明_位置{link.group(2)}_树大小{size}.json") in proof_file.headers[
        "content-disposition"]
    proof = proof_file.json()
    assert proof["root_hash"] == head["root_hash"]
    assert rfc_verify_inclusion(proof["leaf_index"], size, bytes.fromhex(proof["leaf_hash"]),
                                [bytes.fromhex(h) for h in proof["audit_path"]], bytes.fromhex(head["root_hash"]))

    consistency = client.get(f"/audit/proofs/consistency.json?first=3&second={size}")
    assert consistency.status_code == 200
    assert "filename*=UTF-8''" + quote(f"一致性证明_树大小3至{size}.json") in consistency.headers["content-disposition"]
    c = consistency.json()
    assert rfc_verify_consistency(3, size, bytes.fromhex(c["first_root_hash"]), bytes.fromhex(c["second_root_hash"]),
                              [bytes.fromhex(h) for h in c["proof"]])
    assert "请求有误" in page(client, f"/audit/proofs/consistency.json?first={size}&second=3", 400)
    assert "请求有误" in page(client, "/audit/proofs/inclusion.json?position=0", 400)
    assert client.get("/audit/public-key.pem").text.startswith("-----BEGIN PUBLIC KEY-----")
    client.cookies.clear()
    sign_in(client, district, "pf-clerk")
    for path in ("/audit/tree-head.json", "/audit/proofs/inclusion.json?position=1", "/audit/public-key.pem",
                 f"/audit/proofs/consistency.json?first=1&second={size}"):
        page(client, path, 403)


def test_a_registry_entry_names_its_unit_or_user_and_leads_to_that_objects_entries(
        client: TestClient, district: District, history: History) -> None:
    sign_in(client, district, "inspector")
    units = page(client, "/audit?kind=Unit.Registered")
    assert re.findall(r'<span class="named">([^<]+)</span>', units) == [
        "普法和依法治理科", "公共法律服务管理科", "办公室", "常青花园司法所", "走马岭司法所"]
    clerk = str(user_id("pf-clerk"))
    assert f'href="/audit?aggregate={clerk}"' in page(client, "/audit?kind=User.Enrolled")
    own = page(client, f"/audit?aggregate={clerk}")
    assert kinds_of(own) == ["登记用户"]
    assert set(re.findall(r'<span class="named">([^<]+)</span>', own)) == {"pf-clerk"}
