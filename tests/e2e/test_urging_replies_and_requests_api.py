"""Replies to urgings, extension requests and their decision, and referral acceptance over HTTP, on
both backends: the answers, the refusals (problem answers that store nothing), the issue's and the
case's answers and the views that show them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.application.test_child_cases import BIRTH, NAME, valid_id
from tests.district import Clock, District


def bearer(district: District, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {district.tokens[who]}"}


def log_size(district: District) -> int:
    return district.ledger.recorder.max_notification_id() or 0


@pytest.fixture
def issue(client: TestClient, district: District) -> str:
    """An issue of pf (lead) and sfs-cq, assigned with a deadline of 30 June 2019."""
    sup = bearer(district, "supervisor")
    plan = client.post("/api/v1/plans", headers=sup, json={
        "number": "东政办[2019]6号", "title": "实施方案", "issuer_unit": "bgs", "year": 2019}).json()["id"]
    made = client.post("/api/v1/issues", headers=sup, json={
        "plan_id": plan, "seq": 1, "duty": "法治宣传教育", "problem": "有待加强", "units": ["pf", "sfs-cq"],
        "measures": ["纳入考核标准"]})
    assert made.status_code == 201, made.text
    assigned = client.post(f"/api/v1/issues/{made.json()['id']}/assignment", headers=sup, json={
        "lead_unit": "pf", "co_units": ["sfs-cq"], "contact_person": "陈静", "deadline": "2019-06-30"})
    assert assigned.status_code == 201, assigned.text
    return str(made.json()["id"])


def post(client: TestClient, district: District, who: str, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, headers=bearer(district, who), json=body)


def refused(client: TestClient, district: District, who: str, path: str, body: dict[str, Any], status: int,
            rule: str) -> None:
    before = log_size(district)
    answer = post(client, district, who, path, body)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["rule"] == rule
    assert log_size(district) == before


def supervision_row(client: TestClient, district: District, issue: str, position: int) -> dict[str, Any]:
    view = client.get(f"/api/v1/views/supervision?min_position={position}", headers=bearer(district, "supervisor"))
    assert view.status_code == 200, view.text
    return next(r for r in view.json()["rows"] if r["id"] == issue)


def test_urged_units_reply_and_the_issue_and_the_supervision_view_tell_on_time_from_late(
    client: TestClient, district: District, issue: str, clock: Clock,
) -> None:
    path = f"/api/v1/issues/{issue}/urgings"
    urged = {unit: post(client, district, "supervisor", path, {"unit": unit, "message": "请加快",
                                                                "reply_by": "2019-03-10"}) for unit in ("pf", "sfs-cq")}
    assert all(a.status_code == 201 for a in urged.values())
    ids = {unit: a.json()["urging_id"] for unit, a in urged.items()}
    assert ids["pf"] == str(urged["pf"].json()["version"])
    row = supervision_row(client, district, issue, urged["sfs-cq"].json()["position"])
    assert (row["urgings"], row["urgings_awaiting_reply"], row["urgings_replied_late"]) == (2, 2, 0)

    on_time = post(client, district, "pf-clerk", f"{path}/{ids['pf']}/reply", {"message": "已部署"})
    clock.advance(days=15)
    late = post(client, district, "cq-clerk", f"{path}/{ids['sfs-cq']}/reply", {"message": "正在办理"})
    assert (on_time.status_code, late.status_code) == (201, 201), late.text
    assert (on_time.json()["late"], late.json()["late"]) == (False, True)

    shown = client.get(f"/api/v1/issues/{issue}", headers=bearer(district, "inspector")).json()
    assert [(u["urging_id"], u["reply_status"], u["reply"]) for u in shown["urgings"]] == [
        (ids["pf"], "replied_on_time", "已部署"), (ids["sfs-cq"], "replied_late", "正在办理")]
    row = supervision_row(client, district, issue, late.json()["position"])
    assert (row["urgings_awaiting_reply"], row["urgings_replied_on_time"], row["urgings_replied_late"]) == (0, 1, 1)
    events = client.get(f"/api/v1/issues/{issue}/events", headers=bearer(district, "supervisor")).json()
    replied = [e for e in events if e["type"] == "UrgingReplied"]
    assert [(e["unit"], e["urging_id"], e["late"]) for e in replied] == [
        ("pf", ids["pf"], False), ("sfs-cq", ids["sfs-cq"], True)]


def test_a_reply_is_refused_to_other_units_a_second_time_and_for_an_unknown_urging(
    client: TestClient, district: District, issue: str,
) -> None:
    path = f"/api/v1/issues/{issue}/urgings"
    urging = post(client, district, "supervisor", path, {"unit": "sfs-cq", "message": "请加快",
                                                         "reply_by": "2019-03-10"}).json()["urging_id"]
    refused(client, district, "pf-clerk", f"{path}/{urging}/reply", {"message": "代答"}, 403, "only_urged_unit_replies")
    refused(client, district, "supervisor", f"{path}/{urging}/reply", {"message": "代答"}, 403,
            "only_urged_unit_replies")
    refused(client, district, "gf-clerk", f"{path}/{urging}/reply", {"message": "代答"}, 404,
            "rectificationissue_exists")
    refused(client, district, "cq-clerk", f"{path}/999/reply", {"message": "回复"}, 404, "urging_exists")
    refused(client, district, "cq-clerk", f"{path}/{urging}/reply", {"message": " "}, 422, "request_schema")
    assert post(client, district, "cq-clerk", f"{path}/{urging}/reply", {"message": "已部署"}).status_code == 201
    refused(client, district, "cq-clerk", f"{path}/{urging}/reply", {"message": "再答"}, 409, "urging_replied_once")


def test_an_approved_extension_request_moves_the_deadline_everywhere_and_is_decided_once(
    client: TestClient, district: District, issue: str,
) -> None:
    path = f"/api/v1/issues/{issue}/extension-requests"
    asked = post(client, district, "cq-clerk", path, {"deadline": "2019-09-30", "reason": "涉及多部门会签"})
    assert asked.status_code == 201, asked.text
    request = asked.json()["request_id"]
    refused(client, district, "cq-clerk", path, {"deadline": "2019-10-31", "reason": "再申请"}, 409,
            "one_pending_extension_request_per_unit")
    shown = client.get(f"/api/v1/issues/{issue}", headers=bearer(district, "pf-clerk")).json()
    assert [(r["request_id"], r["unit"], r["status"], r["previous"]) for r in shown["extension_requests"]] == [
        (request, "sfs-cq", "pending", "2019-06-30")]

    decided = post(client, district, "supervisor", f"{path}/{request}/decision", {"approved": True, "reason": "同意"})
    assert decided.status_code == 201, decided.text
    shown = client.get(f"/api/v1/issues/{issue}", headers=bearer(district, "pf-clerk")).json()
    assert shown["deadline"] == "2019-09-30" and shown["extension_requests"][0]["status"] == "approved"
    assert shown["extensions"][-1]["deadline"] == "2019-09-30"
    assert supervision_row(client, district, issue, decided.json()["position"])["deadline"] == "2019-09-30"
    refused(client, district, "supervisor", f"{path}/{request}/decision", {"approved": False, "reason": "撤回"}, 409,
            "extension_request_decided_once")
    events = [e["type"] for e in client.get(f"/api/v1/issues/{issue}/events", headers=bearer(district, "inspector")).json()]
    assert events[-3:] == ["ExtensionRequested", "ExtensionDecided", "DeadlineExtended"]


def test_extension_requests_refused_by_the_rules_store_nothing(client: TestClient, district: District, issue: str) -> None:
    path = f"/api/v1/issues/{issue}/extension-requests"
    refused(client, district, "pf-clerk", path, {"deadline": "2019-06-30", "reason": "理由"}, 422,
            "extension_moves_deadline_later")
    refused(client, district, "pf-clerk", path, {"deadline": "2019-09-30"}, 422, "request_schema")
    refused(client, district, "supervisor", path, {"deadline": "2019-09-30", "reason": "理由"}, 403,
            "only_responsible_unit_requests_extension")
    request = post(client, district, "pf-clerk", path, {"deadline": "2019-09-30", "reason": "理由"}).json()["request_id"]
    refused(client, district, "pf-clerk", f"{path}/{request}/decision", {"approved": True, "reason": "自批"}, 403,
            "role_may_not_decide_extension")
    refused(client, district, "supervisor", f"{path}/{request}/decision", {"reason": "缺 approved"}, 422,
            "request_schema")
    refused(client, district, "supervisor", f"{path}/ER9/decision", {"approved": True, "reason": "同意"}, 404,
            "extension_request_exists")
    refused_decision = post(client, district, "supervisor", f"{path}/{request}/decision",
                            {"approved": False, "reason": "理由不足"})
    assert refused_decision.status_code == 201
    assert client.get(f"/api/v1/issues/{issue}", headers=bearer(district, "pf-clerk")).json()["deadline"] == "2019-06-30"


def test_the_referred_unit_takes_the_case_on_and_the_case_and_the_ledger_show_when(
    client: TestClient, district: District, clock: Clock,
) -> None:
    case = client.post("/api/v1/cases", headers=bearer(district, "cq-clerk"), json={
        "street": "常青花园", "community": "常青一社区", "household_local": True, "birth_date": BIRTH.isoformat(),
        "person": {"name": NAME, "id_number": valid_id()}}).json()["id"]
    referral = post(client, district, "supervisor", f"/api/v1/cases/{case}/referrals",
                    {"unit": "gf", "duty": "法律援助"}).json()["referral_id"]
    path = f"/api/v1/cases/{case}/referrals/{referral}/acceptance"
    waiting = client.get(f"/api/v1/cases/{case}", headers=bearer(district, "gf-clerk")).json()["referrals"][0]
    assert (waiting["acceptance"], waiting["accepted_at"]) == ("awaiting_acceptance", None)
    refused(client, district, "cq-clerk", path, {}, 403, "only_referred_unit_accepts")
    refused(client, district, "pf-clerk", path, {}, 404, "childcase_exists")
    clock.advance(hours=3)
    taken = post(client, district, "gf-clerk", path, {})
    assert taken.status_code == 201 and taken.json()["seconds_since_referral"] == 3 * 3600, taken.text
    refused(client, district, "gf-clerk", path, {}, 409, "referral_accepted_once")

    accepted = client.get(f"/api/v1/cases/{case}", headers=bearer(district, "cq-clerk")).json()["referrals"][0]
    assert (accepted["acceptance"], accepted["seconds_to_acceptance"]) == ("accepted", 3 * 3600)
    assert (accepted["accepted_by"], accepted["accepted_by_name"]) == ("gf", "公共法律服务管理科")
    ledger = client.get(f"/api/v1/views/ledger?min_position={taken.json()['position']}",
                        headers=bearer(district, "supervisor")).json()
    row = next(r for r in ledger["sections"]["转介与响应"]["rows"] if r["referral_id"] == referral)
    assert (row["acceptance"], row["hours_to_acceptance"]) == ("已接收", 3.0) and row["accepted_at"]
    assert NAME not in str(ledger)
