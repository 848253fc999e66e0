"""Child cases over HTTP: register, refer, read by the referred unit, erase — no personal data leaks."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.application.test_child_cases import BIRTH, NAME, valid_id
from tests.district import District
from tests.e2e.test_evidence_files import stored
from tests.scan import scan_store


def bearer(district: District, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {district.tokens[who]}"}


def test_register_refer_read_and_erase(client: TestClient, district: District, services, capsys) -> None:  # type: ignore[no-untyped-def]
    registered = client.post("/api/v1/cases", headers=bearer(district, "cq-clerk"), json={
        "street": "常青花园", "community": "常青一社区", "household_local": True, "birth_date": BIRTH.isoformat(),
        "person": {"name": NAME, "id_number": valid_id(), "address": "某路1号", "guardian": "王大明"}})
    assert registered.status_code == 201, registered.text
    case = registered.json()["id"]
    assert registered.json()["case_number"].startswith("ET")

    assert client.get(f"/api/v1/cases/{case}", headers=bearer(district, "gf-clerk")).status_code == 404
    referral = client.post(f"/api/v1/cases/{case}/referrals", headers=bearer(district, "supervisor"),
                           json={"unit": "gf", "duty": "法律援助"})
    assert referral.status_code == 201, referral.text
    seen = client.get(f"/api/v1/cases/{case}", headers=bearer(district, "gf-clerk"))
    assert seen.status_code == 200 and seen.json()["personal"]["person"]["name"] == NAME
    plain = client.get(f"/api/v1/cases/{case}", headers=bearer(district, "cq-clerk")).json()
    assert plain["personal"] is None and NAME not in str(plain)

    log = client.get(f"/api/v1/cases/{case}/access-log", headers=bearer(district, "inspector")).json()
    assert [(e["user"], e["unit"]) for e in log] == [("gf-clerk", "gf")]

    evidence = stored(client, bearer(district, "cq-clerk"), case_id=case)
    steps = [
        ("classifications", "cq-clerk", {"left_behind": True, "categories": ["poverty"], "evidence": [evidence]}),
        ("mandatory-reports", "cq-clerk", {"reporter": "school", "nature": "unattended", "details": f"{NAME}无人照看",
                                           "occurred_at": "2019-03-01T08:00:00+08:00"}),
        ("mandatory-reports/MR1/acceptance", "supervisor", {"occurred_at": "2019-03-01T08:30:00+08:00"}),
        ("mandatory-reports/MR1/dispatch", "supervisor", {}),
        ("services", "gf-clerk", {"kind": "legal_aid", "referral_id": "RF1"}),
        ("visits", "cq-clerk", {"notes": "走访"}),
        ("evaluations", "supervisor", {"year": 2019, "grade": "良好", "score": 80}),
    ]
    for path, who, body in steps:
        answer = client.post(f"/api/v1/cases/{case}/{path}", headers=bearer(district, who), json=body)
        assert answer.status_code == 201, (path, answer.text)

    erased = client.post(f"/api/v1/cases/{case}/erasure", headers=bearer(district, "supervisor"), json={"reason": "期满"})
    assert erased.status_code == 201
    for who in ("supervisor", "inspector", "gf-clerk", "cq-clerk"):
        for path in ("", "/events", "/access-log"):
            answer = client.get(f"/api/v1/cases/{case}{path}", headers=bearer(district, who))
            assert NAME not in answer.text and valid_id() not in answer.text
    for path in ("/api/v1/views/ledger", "/api/v1/views/supervision", "/api/v1/views/evaluation/2019",
                 "/api/v1/audit/events?limit=1000", "/api/v1/views/ledger.xlsx"):
        answer = client.get(path, headers=bearer(district, "inspector"))
        assert answer.status_code == 200, path
        assert NAME.encode() not in answer.content and valid_id().encode() not in answer.content, path
    audit_answer = client.get(f"/api/v1/cases/{case}/events", headers=bearer(district, "inspector"))
    assert audit_answer.status_code == 200 and "sealed.v1." not in audit_answer.text
    for needle in (NAME, valid_id(), "王大明"):
        assert not scan_store(services.settings, needle), needle
    captured = capsys.readouterr()
    assert NAME not in captured.out + captured.err and valid_id() not in captured.out + captured.err


@pytest.mark.parametrize("person", [
    {"name": NAME, "id_number": "110105201205153411"},
    {"name": NAME, "id_number": "not-a-number-at-all"},
    {"name": "", "id_number": "110105201205153416"},
])
def test_bad_personal_data_is_refused_without_being_echoed(client: TestClient, district: District, person) -> None:  # type: ignore[no-untyped-def]
    before = district.ledger.recorder.max_notification_id()
    answer = client.post("/api/v1/cases", headers=bearer(district, "cq-clerk"), json={
        "street": "s", "community": "c", "household_local": True, "birth_date": BIRTH.isoformat(), "person": person})
    assert answer.status_code == 422
    assert person["id_number"] not in answer.text and (not person["name"] or person["name"] not in answer.text)
    assert district.ledger.recorder.max_notification_id() == before


def test_an_agency_with_no_referral_reads_and_writes_the_case_as_missing(
    client: TestClient, district: District
) -> None:
    case = client.post("/api/v1/cases", headers=bearer(district, "supervisor"), json={
        "street": "s", "community": "c", "household_local": False, "birth_date": BIRTH.isoformat(),
        "person": {"name": NAME, "id_number": valid_id()}}).json()["id"]
    for who in ("gf-clerk", "pf-clerk"):
        assert client.get(f"/api/v1/cases/{case}", headers=bearer(district, who)).status_code == 404
        assert client.get(f"/api/v1/cases/{case}/events", headers=bearer(district, who)).status_code == 404
        assert client.post(f"/api/v1/cases/{case}/visits", headers=bearer(district, who), json={}).status_code == 404
    answer = client.post(f"/api/v1/cases/{case}/classifications", headers=bearer(district, "supervisor"),
                         json={"left_behind": False, "categories": ["poverty"]})
    assert answer.status_code == 409 and answer.json()["rule"] == "difficulty_categories_need_local_household"
