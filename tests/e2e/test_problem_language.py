"""Every error a person can meet over HTTP is problem+json in Chinese, naming the field,
never repeating what was sent; an unknown filter value is a 422 that lists the known ones."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.district import District

CJK = re.compile(r"[\u4e00-\u9fff]")
# pydantic's and Starlette's own English, which must not reach a person.
ENGLISH = re.compile(r"Field required|Input should|JSON decode|Not Found|Method Not Allowed|Extra inputs|"
                     r"There was an error|String should|Value error")
CHILD = "王小明"  # stands for personal data a client might put in the wrong place


def bearer(district: District, who: str = "supervisor") -> dict[str, str]:
    return {"Authorization": f"Bearer {district.tokens[who]}"}


def log_size(district: District) -> int:
    return district.ledger.recorder.max_notification_id() or 0


def assert_chinese_problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert CJK.search(body["title"]) and CJK.search(body["detail"]), body
    assert not ENGLISH.search(answer.text), body
    assert CHILD not in answer.text
    return body


@pytest.fixture
def plan(client: TestClient, district: District) -> str:
    answer = client.post("/api/v1/plans", headers=bearer(district), json={
        "number": "东政办[2019]6号", "title": "实施方案", "issuer_unit": "bgs", "year": 2019})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


ISSUE = {"seq": 1, "duty": "法治宣传教育", "problem": "有待加强", "units": ["pf"]}


@pytest.mark.parametrize(
    ("change", "field", "error_type", "says"),
    [
        ({"seq": None, "units": None}, "seq", "missing", "缺少必填字段"),
        ({"seq": f"{CHILD}1"}, "seq", "int_parsing", "应为整数"),
        ({"seq": 0}, "seq", "greater_than_equal", "须不小于 1"),
        ({"units": []}, "units", "too_short", "至少 1 项"),
        ({"units": ["x" * 65]}, "units[0]", "string_too_long", "最多 64 个字符"),
        ({"measures": [{"text": "纳入考核", "due": f"{CHILD}-5-1"}]}, "measures[0].due", None, "日期"),
        ({"measures": [{"text": "纳入考核", "due": "2019-13-45"}]}, "measures[0].due", None, "YYYY-MM-DD"),
        ({"name": CHILD}, "name", "extra_forbidden", "接口中没有这个字段"),
        ({"plan_id": CHILD}, "plan_id", "uuid_parsing", "应为 UUID"),
        ({"duty": "\x00"}, "duty", "string_pattern_mismatch", "不能包含控制字符"),
    ],
)
def test_an_invalid_body_is_a_chinese_problem_naming_the_field(
    client: TestClient, district: District, plan: str, change: dict[str, Any], field: str, error_type: str | None,
    says: str,
) -> None:
    body = {"plan_id": plan, **ISSUE, **change}
    body = {k: v for k, v in body.items() if v is not None}
    before = log_size(district)
    problem = assert_chinese_problem(client.post("/api/v1/issues", headers=bearer(district), json=body), 422)
    matching = [e for e in problem["errors"] if e["field"] == field]
    assert matching, problem
    assert says in matching[0]["msg"] and CJK.search(matching[0]["msg"])
    assert error_type is None or matching[0]["type"] == error_type
    assert all(CJK.search(e["msg"]) for e in problem["errors"])
    assert field in problem["detail"] or len(problem["errors"]) > 1
    assert log_size(district) == before


def test_a_body_that_is_not_json_is_a_chinese_problem(client: TestClient, district: District) -> None:
    answer = client.post("/api/v1/issues", headers={**bearer(district), "Content-Type": "application/json"},
                         content=f'{{"duty": "{CHILD}", '.encode())
    problem = assert_chinese_problem(answer, 422)
    assert problem["errors"][0]["type"] == "json_invalid" and "JSON" in problem["detail"]


def test_a_grade_outside_the_list_names_the_allowed_grades(client: TestClient, district: District, plan: str) -> None:
    issue = client.post("/api/v1/issues", headers=bearer(district), json={"plan_id": plan, **ISSUE}).json()["id"]
    answer = client.post(f"/api/v1/issues/{issue}/evaluations", headers=bearer(district),
                         json={"year": 2019, "grade": CHILD, "score": 90, "findings": "x"})
    problem = assert_chinese_problem(answer, 422)
    assert "优秀、良好、合格、不合格" in problem["errors"][0]["msg"] and problem["errors"][0]["field"] == "grade"


def test_an_unknown_path_is_a_chinese_404(client: TestClient, district: District) -> None:
    problem = assert_chinese_problem(client.get(f"/api/v1/{CHILD}", headers=bearer(district)), 404)
    assert problem["rule"] == "no_such_path"


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("PUT", "/api/v1/issues", "GET, POST"),
    ("DELETE", "/api/v1/plans", "POST"),
    ("POST", "/api/v1/audit/tree-head", "GET"),
])
def test_a_wrong_method_is_a_chinese_405_with_every_allowed_method(
    client: TestClient, district: District, method: str, path: str, allowed: str
) -> None:
    answer = client.request(method, path, headers=bearer(district))
    problem = assert_chinese_problem(answer, 405)
    assert answer.headers["allow"] == allowed
    assert allowed.replace(", ", "、") in problem["detail"]


@pytest.mark.parametrize("content", [b"--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n" + CHILD.encode(),
                                     b"no boundary at all"])
def test_a_malformed_multipart_upload_is_a_chinese_problem_and_stores_nothing(
    client: TestClient, district: District, plan: str, content: bytes
) -> None:
    before = log_size(district)
    answer = client.post(f"/api/v1/plans/{plan}/problem-list", content=content,
                         headers={**bearer(district), "Content-Type": "multipart/form-data; boundary=xyz"})
    problem = assert_chinese_problem(answer, 422)
    assert "file" in problem["detail"]
    assert log_size(district) == before


@pytest.mark.parametrize(("query", "rule", "known"), [
    ("unit=nowhere", "unit_is_known", {"pf", "gf", "sfs-cq", "司法所"}),
    ("plan=00000000-0000-4000-8000-000000000000", "plan_is_known", None),
])
def test_an_unknown_issue_filter_is_a_422_listing_the_known_values(
    client: TestClient, district: District, plan: str, query: str, rule: str, known: set[str] | None
) -> None:
    problem = assert_chinese_problem(client.get(f"/api/v1/issues?{query}", headers=bearer(district)), 422)
    assert problem["rule"] == rule
    assert set(problem["known_values"]) >= (known if known is not None else {plan})
    assert "nowhere" not in problem["detail"]


def test_an_unknown_status_filter_names_the_statuses(client: TestClient, district: District) -> None:
    problem = assert_chinese_problem(client.get("/api/v1/issues?status=done", headers=bearer(district)), 422)
    assert problem["errors"][0]["field"] == "status"
    assert "registered、assigned、rectifying、awaiting_closure、closed" in problem["errors"][0]["msg"]


def test_known_filter_values_still_list_and_a_group_code_stands_for_its_members(
    client: TestClient, district: District, plan: str
) -> None:
    sup = bearer(district)
    made = client.post("/api/v1/issues", headers=sup, json={"plan_id": plan, **ISSUE, "units": ["sfs-cq"]})
    assert made.status_code == 201
    for query in ("unit=sfs-cq", "unit=司法所", f"plan={plan}", "status=registered"):
        answer = client.get(f"/api/v1/issues?{query}", headers=sup)
        assert answer.status_code == 200 and [i["id"] for i in answer.json()] == [made.json()["id"]], query
    assert client.get("/api/v1/issues?unit=gf", headers=sup).json() == []


@pytest.mark.parametrize(("query", "rule", "listed"), [
    ("type=Nothing", "type_is_known", {"Registered", "Assigned", "MeasureAdopted"}),
    ("unit=nowhere", "unit_is_known", {"pf", "system"}),
    ("user=nobody", "user_is_known", None),
])
def test_an_unknown_audit_filter_is_a_422(
    client: TestClient, district: District, query: str, rule: str, listed: set[str] | None
) -> None:
    problem = assert_chinese_problem(client.get(f"/api/v1/audit/events?{query}", headers=bearer(district)), 422)
    assert problem["rule"] == rule
    if listed is None:
        assert "known_values" not in problem  # staff names are the admins' to list
    else:
        assert set(problem["known_values"]) >= listed
    known = client.get("/api/v1/audit/events?type=Registered&unit=system&user=system", headers=bearer(district))
    assert known.status_code == 200 and known.json()


def test_a_known_user_and_unit_filter_the_audit_trail(client: TestClient, district: District, plan: str) -> None:
    supervisor = district.actors["supervisor"]
    answer = client.get(f"/api/v1/audit/events?user={supervisor.name}&unit={supervisor.unit}&type=Registered",
                        headers=bearer(district))
    assert answer.status_code == 200, answer.text
    assert [(e["recorder"], e["type"]) for e in answer.json()] == [(supervisor.name, "Registered")]
    late = client.get(f"/api/v1/audit/late-entries?unit={CHILD}", headers=bearer(district))
    assert assert_chinese_problem(late, 422)["rule"] == "unit_is_known"
