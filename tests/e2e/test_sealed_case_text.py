"""Over HTTP: clear free text refuses ID and mobile numbers (422 pointing to the sealed
fields); personal fields are corrected sealed; a case stored before the birth date was
sealed still loads, projects and counts ages from its clear date."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from stdnum.cn import ric

from domain.base import Stamp, recording_at
from domain.case import ChildCase
from domain.case_personal import new_case_number
from tests.district import District
from tests.e2e.test_erasure_dump import BIRTH, ID_NUMBER, NAME, PHONE
from tests.e2e.test_evidence_files import stored
from tests.unit.test_free_text import ID_NUMBER as OTHER_ID

BORN_2012 = "2012-05-15"  # OTHER_ID's birth date


def bearer(district: District, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {district.tokens[who]}"}


def log_size(district: District) -> int:
    return district.ledger.recorder.max_notification_id() or 0


@pytest.fixture
def world(client: TestClient, district: District) -> dict[str, Any]:
    sup = bearer(district, "supervisor")
    plan = client.post("/api/v1/plans", headers=sup, json={
        "number": "东政办[2019]6号", "title": "实施方案", "issuer_unit": "bgs", "year": 2019}).json()["id"]
    issue = client.post("/api/v1/issues", headers=sup, json={
        "plan_id": plan, "seq": 1, "duty": "法治宣传教育", "problem": "有待加强", "units": ["pf"],
        "measures": ["纳入考核标准"]}).json()["id"]
    assert client.post(f"/api/v1/issues/{issue}/assignment", headers=sup, json={
        "lead_unit": "pf", "co_units": [], "contact_person": "陈静", "deadline": "2019-06-30",
        "nodes": []}).status_code == 201
    case = client.post("/api/v1/cases", headers=bearer(district, "cq-clerk"), json={
        "street": "常青花园", "community": "常青一社区", "household_local": True, "birth_date": BIRTH,
        "person": {"name": NAME, "id_number": ID_NUMBER}})
    assert case.status_code == 201, case.text
    return {"plan": plan, "issue": f"/api/v1/issues/{issue}", "case": f"/api/v1/cases/{case.json()['id']}",
            "registered": case.json()["position"]}


REFUSING: list[tuple[str, str, str, dict[str, Any]]] = [
    ("issue duty", "supervisor", "/api/v1/issues", {"seq": 2, "duty": "{bad}", "problem": "p", "units": ["pf"]}),
    ("progress summary", "pf-clerk", "{issue}/measures/M1/progress", {"summary": "{bad}"}),
    ("urging message", "supervisor", "{issue}/urgings", {"unit": "pf", "message": "{bad}", "reply_by": "2019-04-01"}),
    ("extension reason", "supervisor", "{issue}/deadline-extensions", {"deadline": "2019-09-01", "reason": "{bad}"}),
    ("issue findings", "supervisor", "{issue}/evaluations", {"year": 2019, "grade": "良好", "score": 80, "findings": "{bad}"}),
    ("referral duty", "supervisor", "{case}/referrals", {"unit": "gf", "duty": "{bad}"}),
    ("erasure reason", "supervisor", "{case}/erasure", {"reason": "{bad}"}),
]


@pytest.mark.parametrize("bad", [f"孩子身份证{OTHER_ID}", f"家长电话{PHONE}"], ids=["id number", "mobile number"])
@pytest.mark.parametrize(("field", "who", "path", "body"), REFUSING, ids=[r[0] for r in REFUSING])
def test_clear_free_text_with_an_id_or_mobile_number_is_422_and_records_nothing(
    client: TestClient, district: District, world: dict[str, Any], field: str, who: str, path: str,
    body: dict[str, Any], bad: str,
) -> None:
    filled = {k: (bad if v == "{bad}" else v) for k, v in body.items()}
    if field == "issue duty":
        filled["plan_id"] = world["plan"]
    before = log_size(district)
    answer = client.post(path.format(**world), headers=bearer(district, who), json=filled)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["rule"] == "free_text_holds_no_id_or_mobile_number"
    assert "加密" in problem["detail"] and "身份证号码" in problem["detail"]
    assert OTHER_ID not in answer.text and PHONE not in answer.text
    assert log_size(district) == before
    # A refused erasure keeps the key: the personal fields still open.
    shown = client.get(world["case"], headers=bearer(district, "supervisor")).json()
    assert shown["personal"]["person"]["name"] == NAME


def test_personal_fields_are_corrected_sealed_and_read_back_logged(
    client: TestClient, district: District, world: dict[str, Any]
) -> None:
    case, sup = world["case"], bearer(district, "supervisor")

    def correct(changes: dict[str, Any], reason: str = "登记错误", who: str = "cq-clerk") -> Any:
        return client.post(f"{case}/corrections", headers=bearer(district, who), json={
            "position": world["registered"], "changes": changes, "reason": reason})

    before = log_size(district)
    moved = correct({"birth_date": BORN_2012}, who="supervisor")
    assert moved.status_code == 422 and moved.json()["rule"] == "id_number_agrees_with_birth_date"
    for reserved in ({"sealed": "sealed.v1." + "A" * 64}, {"birth_month": "2012-05"}):
        answer = correct(reserved)
        assert answer.status_code == 422 and answer.json()["rule"] == "correction_changes_correctable_fields"
    assert log_size(district) == before

    reason = f"{NAME}的出生日期和身份证号码{ID_NUMBER}登记错误"
    assert correct({"birth_date": BORN_2012, "id_number": OTHER_ID}, reason=reason).status_code == 201
    reads = len(client.get(f"{case}/access-log", headers=sup).json())
    shown = client.get(case, headers=sup).json()
    assert shown["birth_month"] == "2012-05"
    assert shown["personal"]["person"] == {"name": NAME, "id_number": OTHER_ID, "birth_date": BORN_2012}
    assert shown["personal"]["corrections"][0]["reason"] == reason
    assert len(client.get(f"{case}/access-log", headers=sup).json()) == reads + 1
    events = client.get(f"{case}/events", headers=sup)
    assert OTHER_ID not in events.text and NAME not in events.text and "sealed.v1." not in events.text
    corrected = events.json()[-1]
    assert corrected["type"] == "EntryCorrected" and corrected["reason"] is None
    assert corrected["sealed_reason"] == "［已加密］" and corrected["changes"]["birth_month"] == "2012-05"
    # The registering unit sees the case, not the personal fields nor the reason.
    plain = client.get(case, headers=bearer(district, "cq-clerk")).json()
    assert plain["personal"] is None and NAME not in str(plain)


def test_an_issue_evidence_correction_with_an_id_number_or_a_bad_item_is_422_and_records_nothing(
    client: TestClient, district: District, world: dict[str, Any]
) -> None:
    issue, sup = world["issue"], bearer(district, "supervisor")
    first, second = stored(client, sup), stored(client, sup)
    reported = client.post(f"{issue}/measures/M1/progress", headers=bearer(district, "pf-clerk"),
                           json={"summary": "进展", "evidence": [{"name": "a.pdf", "sha256": first}]})
    assert reported.status_code == 201
    before = log_size(district)
    for evidence in ([{"name": f"{NAME}身份证{OTHER_ID}", "sha256": first}],
                     [{"name": "a.pdf", "sha256": "x"}, PHONE]):
        refused = client.post(f"{issue}/corrections", headers=sup, json={
            "position": reported.json()["position"], "changes": {"evidence": evidence}, "reason": "补充材料"})
        assert refused.status_code == 422 and OTHER_ID not in refused.text and PHONE not in refused.text
    assert log_size(district) == before
    assert OTHER_ID not in client.get(f"{issue}/events", headers=sup).text
    accepted = client.post(f"{issue}/corrections", headers=sup, json={
        "position": reported.json()["position"], "reason": "补充材料",
        "changes": {"evidence": [{"name": "b.pdf", "sha256": second.upper()}]}})
    assert accepted.status_code == 201


def test_a_registering_clerk_cannot_learn_the_sealed_birth_date_from_which_rule_refuses_a_correction(
    client: TestClient, district: District, world: dict[str, Any]
) -> None:
    """The clerk reads no personal fields, but may correct what they recorded: ID numbers
    made for each day of the clear birth month must all be answered alike."""
    case, cq = world["case"], bearer(district, "cq-clerk")
    assert client.get(case, headers=cq).json()["personal"] is None
    month = BIRTH[:7].replace("-", "")
    before = log_size(district)

    def rules(extra: dict[str, Any]) -> set[str]:
        answers = set()
        for day in range(1, 31):
            body = f"110105{month}{day:02d}123"
            guess = body + ric.calc_check_digit(body + "0")
            answer = client.post(f"{case}/corrections", headers=cq, json={
                "position": world["registered"], "changes": {"id_number": guess, **extra}, "reason": "r"})
            assert answer.status_code == 422
            answers.add(answer.json()["rule"])
        return answers

    assert rules({"address": "x" * 501}) == {"address_not_too_long"}
    assert rules({}) == {"id_number_corrected_with_birth_date"}
    assert log_size(district) == before
    # Given both, the answer compares the clerk's two values, not a sealed one.
    right = client.post(f"{case}/corrections", headers=cq, json={
        "position": world["registered"], "changes": {"id_number": OTHER_ID, "birth_date": BIRTH}, "reason": "r"})
    assert right.status_code == 422 and right.json()["rule"] == "id_number_agrees_with_birth_date"
    both = client.post(f"{case}/corrections", headers=cq, json={
        "position": world["registered"], "changes": {"id_number": OTHER_ID, "birth_date": BORN_2012}, "reason": "r"})
    assert both.status_code == 201


def test_a_corrected_correction_reason_is_read_back_sealed_and_logged(
    client: TestClient, district: District, world: dict[str, Any]
) -> None:
    case, sup, cq = world["case"], bearer(district, "supervisor"), bearer(district, "cq-clerk")
    first = client.post(f"{case}/corrections", headers=cq, json={
        "position": world["registered"], "changes": {"street": "新街"}, "reason": f"{NAME}原理由"})
    assert first.status_code == 201
    second = client.post(f"{case}/corrections", headers=cq, json={
        "position": first.json()["position"], "changes": {"reason": f"{NAME}新理由"}, "reason": "措辞"})
    assert second.status_code == 201
    reads = len(client.get(f"{case}/access-log", headers=bearer(district, "inspector")).json())
    corrections = client.get(case, headers=sup).json()["personal"]["corrections"]
    assert len(client.get(f"{case}/access-log", headers=bearer(district, "inspector")).json()) == reads + 1
    # The corrected correction shows its reason as corrected; the correcting one, the change.
    assert [(c["reason"], c.get("changes")) for c in corrections[-2:]] == [
        (f"{NAME}新理由", None), ("措辞", {"reason": f"{NAME}新理由"})]
    events = client.get(f"{case}/events", headers=sup)
    assert f"{NAME}新理由" not in events.text and events.json()[-1]["changes"] == {"sealed_reason": "［已加密］"}
    assert f"{NAME}新理由" not in client.get(case, headers=cq).text


def test_after_erasure_a_correction_reason_is_clear_and_refuses_numbers(
    client: TestClient, district: District, world: dict[str, Any]
) -> None:
    case, sup = world["case"], bearer(district, "supervisor")
    erased = client.post(f"{case}/erasure", headers=sup, json={"reason": "保存期限届满"})
    assert erased.status_code == 201
    before = log_size(district)
    personal = client.post(f"{case}/corrections", headers=sup, json={
        "position": world["registered"], "changes": {"name": "王大明"}, "reason": "更名"})
    assert personal.status_code == 409 and personal.json()["rule"] == "no_personal_data_after_erasure"
    numbered = client.post(f"{case}/corrections", headers=sup, json={
        "position": erased.json()["position"], "changes": {"reason": "期满"}, "reason": f"见{OTHER_ID}"})
    assert numbered.status_code == 422 and numbered.json()["rule"] == "free_text_holds_no_id_or_mobile_number"
    assert log_size(district) == before
    plain = client.post(f"{case}/corrections", headers=sup, json={
        "position": erased.json()["position"], "changes": {"reason": "保存期满"}, "reason": "措辞"})
    assert plain.status_code == 201, plain.text
    assert client.get(f"{case}/events", headers=sup).json()[-1]["reason"] == "措辞"


def test_a_case_stored_before_the_birth_date_was_sealed_loads_projects_and_counts_ages(
    client: TestClient, district: District, services: Any
) -> None:
    ledger, sup = services.ledger, bearer(district, "supervisor")
    now = ledger.clock()
    stamp = Stamp.make(user="cq-clerk", unit="sfs-cq", recorded_at=now)
    number = new_case_number(now.year)
    with recording_at(now):
        case = ChildCase(
            **stamp.fields(), case_number=number, street="旧区街道", community="旧社区", household_local=True,
            birth_date=date(2003, 2, 10), registering_unit="sfs-cq", birth_month=None,
            sealed=ledger.seals.seal_new(ChildCase.create_id(case_number=number), {"name": NAME, "id_number": "x"}),
        )
    vars(case.pending_events[0]).pop("birth_month")  # as the earlier version stored it
    ledger.save(case)
    path = f"/api/v1/cases/{case.id}"

    shown = client.get(path, headers=sup).json()
    assert shown["birth_month"] == "2003-02" and shown["personal"]["person"]["birth_date"] == "2003-02-10"
    # 16 on 10 February 2019 by the clear date (the month alone would allow it until the 28th).
    late = client.post(f"{path}/classifications", headers=sup, json={
        "left_behind": True, "categories": [], "occurred_at": "2019-02-20T10:00:00+08:00"})
    assert late.status_code == 409 and late.json()["rule"] == "left_behind_child_is_under_16"
    classified = client.post(f"{path}/classifications", headers=sup, json={
        "left_behind": False, "categories": ["poverty"]})
    assert classified.status_code == 201
    ledger_view = client.get(f"/api/v1/views/ledger?min_position={classified.json()['position']}",
                             headers=bearer(district, "inspector"))
    assert ledger_view.status_code == 200
    rows = [r for r in ledger_view.json()["rows"] if r["street"] == "旧区街道"]
    assert [(r["category"], r["open"]) for r in rows] == [("家庭贫困", 1)]


def test_a_plan_number_with_an_id_number_is_422_and_an_unknown_unit_is_not_echoed(
    client: TestClient, district: District, world: dict[str, Any]
) -> None:
    sup = bearer(district, "supervisor")
    before = log_size(district)
    plan = client.post("/api/v1/plans", headers=sup, json={
        "number": f"东政办{OTHER_ID}号", "title": "实施方案二", "issuer_unit": "bgs", "year": 2019})
    assert plan.status_code == 422 and plan.json()["rule"] == "free_text_holds_no_id_or_mobile_number"
    assert OTHER_ID not in plan.text
    unknown = client.post("/api/v1/issues", headers=sup, json={
        "plan_id": world["plan"], "seq": 3, "duty": "职责", "problem": "问题", "units": [NAME]})
    assert unknown.status_code == 404 and unknown.json()["rule"] == "unit_is_registered"
    assert NAME not in unknown.text
    assert log_size(district) == before
