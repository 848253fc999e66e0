"""The issue API over HTTP: every status code of API.md's table, and agencies of other units refused."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.district import District
from tests.e2e.test_evidence_files import stored


def bearer(district: District, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {district.tokens[who]}"}


def log_size(district: District) -> int:
    return district.ledger.recorder.max_notification_id() or 0


@pytest.fixture
def api(client: TestClient, district: District):  # type: ignore[no-untyped-def]
    sup = bearer(district, "supervisor")
    plan = client.post("/api/v1/plans", headers=sup, json={
        "number": "东政办[2019]6号", "title": "实施方案", "issuer_unit": "bgs", "year": 2019})
    assert plan.status_code == 201, plan.text
    issue = client.post("/api/v1/issues", headers=sup, json={
        "plan_id": plan.json()["id"], "seq": 1, "duty": "法治宣传教育", "problem": "有待加强",
        "units": ["pf", "司法所"], "measures": ["纳入考核标准"], "remarks": ""})
    assert issue.status_code == 201, issue.text
    return {"plan": plan.json()["id"], "issue": issue.json()["id"]}


def test_registering_an_issue_answers_id_version_position(client: TestClient, district: District, api) -> None:  # type: ignore[no-untyped-def]
    got = client.get(f"/api/v1/issues/{api['issue']}", headers=bearer(district, "inspector"))
    assert got.status_code == 200
    body = got.json()
    assert body["version"] == 2 and body["units"] == ["pf", "sfs-cq", "sfs-zml"]
    assert body["measures"][0]["measure_id"] == "M1" and body["measures"][0]["unit"] == "pf"
    for key in ("id", "plan_id", "seq", "duty", "problem", "remarks", "status", "lead_unit", "deadline"):
        assert key in body


def test_full_issue_lifecycle_over_http(client: TestClient, district: District, api, clock) -> None:  # type: ignore[no-untyped-def]
    issue, sup, pf = api["issue"], bearer(district, "supervisor"), bearer(district, "pf-clerk")
    evidence = stored(client, pf, name="考核标准.docx")
    steps: list[tuple[str, dict[str, str], dict[str, Any]]] = [
        ("assignment", sup, {"lead_unit": "pf", "co_units": ["司法所"], "contact_person": "陈静",
                             "deadline": "2019-06-30", "nodes": ["2019-04-30"]}),
        ("measures", bearer(district, "cq-clerk"), {"unit": "sfs-cq", "text": "开展普法活动", "due": "2019-05-31"}),
        ("measures/M1/progress", pf, {"summary": "已起草", "evidence": [{"name": "考核标准.docx", "sha256": evidence}],
                                      "occurred_at": "2019-02-27T10:00:00+08:00"}),
        ("measures/M1/completion", pf, {"summary": "已印发"}),
        ("urgings", sup, {"unit": "sfs-cq", "message": "请加快", "reply_by": "2019-03-15"}),
        ("deadline-extensions", sup, {"deadline": "2019-08-31", "reason": "会签"}),
        ("measures/M2/completion", bearer(district, "cq-clerk"), {"summary": "完成"}),
        ("evaluations", sup, {"year": 2019, "grade": "良好", "score": 86.5, "findings": "按期"}),
        ("closure", sup, {"summary": "核查属实"}),
        ("reopening", sup, {"reason": "复查"}),
    ]
    position = 0
    for path, who, body in steps:
        answer = client.post(f"/api/v1/issues/{issue}/{path}", headers=who, json=body)
        assert answer.status_code == 201, (path, answer.text)
        assert answer.json()["position"] > position
        position = answer.json()["position"]
    events = client.get(f"/api/v1/issues/{issue}/events", headers=sup).json()
    assert [e["type"] for e in events][-3:] == ["EvaluatedAtYearEnd", "Closed", "Reopened"]
    progress = next(e for e in events if e["type"] == "ProgressReported")
    assert progress["recorder"] == "pf-clerk" and progress["unit"] == "pf"
    assert progress["occurred_at"].startswith("2019-02-27T02:00:00")
    corrected = client.post(f"/api/v1/issues/{issue}/corrections", headers=pf, json={
        "position": progress["position"], "changes": {"summary": "已起草并征求意见"}, "reason": "补充"})
    assert corrected.status_code == 201, corrected.text
    shown = client.get(f"/api/v1/issues/{issue}", headers=sup).json()
    assert shown["measures"][0]["progress"][0]["summary"] == "已起草并征求意见"
    assert shown["deadline"] == "2019-08-31" and shown["status"] == "awaiting_closure"


def test_issue_as_of_a_date_shows_it_then(client: TestClient, district: District, api, clock) -> None:  # type: ignore[no-untyped-def]
    clock.advance(days=40)
    client.post(f"/api/v1/issues/{api['issue']}/urgings", headers=bearer(district, "supervisor"),
                json={"unit": "pf", "message": "m", "reply_by": "2019-05-01"})
    then = client.get(f"/api/v1/issues/{api['issue']}?as_of=2019-03-02", headers=bearer(district, "inspector"))
    assert then.status_code == 200 and then.json()["urgings"] == [] and then.json()["version"] == 2
    assert len(client.get(f"/api/v1/issues/{api['issue']}", headers=bearer(district, "inspector")).json()["urgings"]) == 1


def test_no_token_or_unknown_token_is_401(client: TestClient, api) -> None:  # type: ignore[no-untyped-def]
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        answer = client.get("/api/v1/issues", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
        assert {"type", "title", "status", "detail"} <= answer.json().keys()


ISSUE_COMMANDS: list[tuple[str, dict[str, Any]]] = [
    ("measures", {"unit": "gf", "text": "x"}),
    ("measures/M1/progress", {"summary": "x"}),
    ("measures/M1/completion", {"summary": "x"}),
    ("urgings", {"unit": "pf", "message": "m", "reply_by": "2019-04-01"}),
    ("deadline-extensions", {"deadline": "2019-09-01", "reason": "r"}),
    ("evaluations", {"year": 2019, "grade": "优秀", "score": 90, "findings": ""}),
    ("closure", {"summary": "s"}),
    ("reopening", {"reason": "r"}),
    ("assignment", {"lead_unit": "gf", "co_units": [], "contact_person": "x", "deadline": "2019-06-30", "nodes": []}),
    ("corrections", {"position": 1, "changes": {"duty": "x"}, "reason": "r"}),
]


@pytest.mark.parametrize(("path", "body"), ISSUE_COMMANDS, ids=[p for p, _ in ISSUE_COMMANDS])
def test_an_agency_of_another_unit_gets_the_404_of_a_missing_issue_on_every_issue_command(
    client: TestClient, district: District, api, path: str, body: dict[str, Any]  # type: ignore[no-untyped-def]
) -> None:
    before = log_size(district)
    answer = client.post(f"/api/v1/issues/{api['issue']}/{path}", headers=bearer(district, "gf-clerk"), json=body)
    assert answer.status_code == 404 and answer.json()["rule"] == "rectificationissue_exists", answer.text
    assert log_size(district) == before


def test_unknown_issue_unit_or_plan_is_404(client: TestClient, district: District, api) -> None:  # type: ignore[no-untyped-def]
    sup = bearer(district, "supervisor")
    missing = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"/api/v1/issues/{missing}", headers=sup).status_code == 404
    assert client.post("/api/v1/issues", headers=sup, json={
        "plan_id": missing, "seq": 2, "duty": "d", "problem": "p", "units": ["pf"]}).status_code == 404
    assert client.post("/api/v1/issues", headers=sup, json={
        "plan_id": api["plan"], "seq": 2, "duty": "d", "problem": "p", "units": ["nope"]}).status_code == 404
    assert client.post(f"/api/v1/issues/{api['issue']}/measures/M9/progress", headers=bearer(district, "pf-clerk"),
                       json={"summary": "s"}).status_code == 404


def test_state_conflicts_are_409(client: TestClient, district: District, api) -> None:  # type: ignore[no-untyped-def]
    sup, pf = bearer(district, "supervisor"), bearer(district, "pf-clerk")
    assert client.post(f"/api/v1/issues/{api['issue']}/closure", headers=sup, json={"summary": "s"}).status_code == 409
    client.post(f"/api/v1/issues/{api['issue']}/measures/M1/completion", headers=pf, json={"summary": "done"})
    before = log_size(district)
    answer = client.post(f"/api/v1/issues/{api['issue']}/measures/M1/progress", headers=pf, json={"summary": "late"})
    assert answer.status_code == 409 and answer.json()["rule"] == "progress_only_on_open_measure"
    assert log_size(district) == before


def test_if_match_on_another_version_is_412(client: TestClient, district: District, api) -> None:  # type: ignore[no-untyped-def]
    pf = bearer(district, "pf-clerk")
    stale = client.post(f"/api/v1/issues/{api['issue']}/measures/M1/progress",
                        headers={**pf, "If-Match": '"1"'}, json={"summary": "s"})
    assert stale.status_code == 412
    fresh = client.post(f"/api/v1/issues/{api['issue']}/measures/M1/progress",
                        headers={**pf, "If-Match": '"2"'}, json={"summary": "s"})
    assert fresh.status_code == 201 and fresh.json()["version"] == 3


def test_a_body_too_large_is_413(client: TestClient, district: District, api, services) -> None:  # type: ignore[no-untyped-def]
    big = "字" * (services.settings.max_body_bytes // 2)
    answer = client.post(f"/api/v1/issues/{api['issue']}/measures/M1/progress",
                         headers=bearer(district, "pf-clerk"), json={"summary": big})
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("body", [
    {"summary": ""},
    {"summary": "bell\x07"},
    {"summary": "s", "evidence": [{"name": "f", "sha256": "xyz"}]},
    {"summary": "s", "occurred_at": "not a date"},
    {"summary": "s", "occurred_at": "1700-01-01T00:00:00Z"},
    {"summary": "s", "unexpected": 1},
    {"summary": "s", "occurred_at": "2030-01-01T00:00:00+08:00"},
])
def test_malformed_or_invalid_payloads_are_422_and_store_nothing(client: TestClient, district: District, api, body) -> None:  # type: ignore[no-untyped-def]
    before = log_size(district)
    answer = client.post(f"/api/v1/issues/{api['issue']}/measures/M1/progress", headers=bearer(district, "pf-clerk"), json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert log_size(district) == before


def test_an_idempotent_retry_returns_the_first_answer_and_stores_nothing(client: TestClient, district: District, api) -> None:  # type: ignore[no-untyped-def]
    headers = {**bearer(district, "pf-clerk"), "Idempotency-Key": "retry-1"}
    first = client.post(f"/api/v1/issues/{api['issue']}/measures/M1/progress", headers=headers, json={"summary": "s"})
    before = log_size(district)
    again = client.post(f"/api/v1/issues/{api['issue']}/measures/M1/progress", headers=headers, json={"summary": "s"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert log_size(district) == before
    reused = client.post(f"/api/v1/issues/{api['issue']}/measures/M1/progress", headers=headers, json={"summary": "other"})
    assert reused.status_code == 422 and log_size(district) == before


def test_listing_filters_by_unit_status_and_plan(client: TestClient, district: District, api) -> None:  # type: ignore[no-untyped-def]
    sup = bearer(district, "supervisor")
    assert [i["seq"] for i in client.get("/api/v1/issues?unit=sfs-cq", headers=sup).json()] == [1]
    assert client.get("/api/v1/issues?unit=gf", headers=sup).json() == []
    assert len(client.get(f"/api/v1/issues?plan={api['plan']}&status=rectifying", headers=sup).json()) == 1


def test_health_and_readiness_need_no_token(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_docs_load_no_asset_from_the_internet(client: TestClient) -> None:
    import re

    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)=["\']([^"\']+)', page.text) + re.findall(r"url: ?'([^']+)'", page.text)
    assert urls and all(u.startswith("/") for u in urls), urls
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert client.get("/openapi.json").json()["paths"]["/api/v1/issues"]
