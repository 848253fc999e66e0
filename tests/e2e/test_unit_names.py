"""Names, not codes (issue 19, point 1): every answer that names a unit gives its name beside
its code; spreadsheets read 是/否; downloads carry the view, plan or year, and the day."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from io import BytesIO
from typing import Any
from urllib.parse import quote, unquote

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from stdnum.cn import ric

from domain.plan import plan_id
from tests.district import UNITS, District

NAMES = {code: name for code, name, _ in UNITS}
PLAN_NUMBER = "东司法[2019]3号"
ID_BODY = "11010520120515341"
# Nested values shown exactly as recorded (a Merkle leaf, personal data, a correction's changes).
AS_RECORDED = {"leaf", "personal", "changes"}


def holds_units(key: str) -> bool:
    return key in ("unit", "units", "accepted_by", "dispatched_by") or key.endswith(("_unit", "_units"))


def beside(key: str) -> str:
    return f"{key[:-1]}_names" if key.endswith("units") else f"{key}_name"


def unnamed(value: Any, where: str = "$") -> list[str]:
    """Where a field naming units has no name field beside it, or a wrong name."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in AS_RECORDED:
                continue
            if holds_units(key) and item is not None:
                if beside(key) not in value:
                    found.append(f"{where}.{key}")
                elif value[beside(key)] != named(item):
                    found.append(f"{where}.{beside(key)}={value[beside(key)]!r}")
            found += unnamed(item, f"{where}.{key}")
        if isinstance(value.get("columns"), list):
            keys = {c["key"] for c in value["columns"]}
            found += [f"{where}.columns:{k}" for k in keys if holds_units(k) and beside(k) not in keys]
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += unnamed(item, f"{where}[{index}]")
    return found


def named(codes: Any) -> Any:
    if isinstance(codes, list):
        return [named(c) for c in codes]
    if "、" in codes:
        return "、".join(named(c) for c in codes.split("、"))
    return {**NAMES, "system": "系统"}.get(codes, codes)


def bearer(district: District, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {district.tokens[who]}"}


@pytest.fixture
def recorded(district: District, clock) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A plan, an issue assigned, with measures, urged and graded; a case referred, reported,
    accepted and served: every kind of record that names a unit."""
    sup = district.cmd("supervisor")
    district.issues.register_plan(sup, number=PLAN_NUMBER, title="方案", issuer_unit="bgs", year=2019)
    issue = district.issues.register_issue(sup, plan=plan_id(PLAN_NUMBER), seq=1, duty="职责", problem="问题",
                             units=["pf", "司法所"], measures=[(None, "措施一", None)]).id
    district.issues.assign_issue(sup, issue, lead_unit="pf", co_units=["司法所"], contact_person="甲",
                   deadline=date(2019, 6, 30), nodes=[])
    district.issues.adopt_measure(district.cmd("cq-clerk"), issue, unit="sfs-cq", text="措施二", due=date(2019, 5, 31))
    district.issues.urge(sup, issue, unit="sfs-cq", message="请加快", reply_by=date(2019, 3, 15))
    district.issues.evaluate_issue(sup, issue, year=2019, grade="优秀", score=95, findings="")
    case = district.cases.register_case(
        district.cmd("cq-clerk"), street="常青花园", community="一社区", household_local=True,
        birth_date=date(2012, 5, 15),
        person={"name": "王小明", "id_number": ID_BODY + ric.calc_check_digit(ID_BODY + "0"), "address": "某路1号"},
    ).id
    referral = district.cases.refer_case(sup, case, unit="gf", duty="法律援助").extra["referral_id"]
    report = district.cases.file_mandatory_report(sup, case, reporter="school", nature="unattended", details=None).extra["report_id"]
    district.cases.accept_report(sup, case, report)
    last = district.cases.provide_service(district.cmd("gf-clerk"), case, kind="legal_aid", referral_id=referral, notes="面谈")
    return {"plan_id": plan_id(PLAN_NUMBER), "issue_id": issue, "case_id": case, "year": 2019,
            "position": last.position}


def get_paths(client: TestClient) -> list[str]:
    paths = client.get("/openapi.json").json()["paths"]
    return [p for p, ops in paths.items() if "get" in ops]


def test_every_json_answer_that_names_a_unit_gives_its_name_beside_the_code(
    client: TestClient, district: District, recorded: dict[str, Any]
) -> None:
    answered, missing = [], {}
    for path in get_paths(client):
        url = re.sub(r"\{(\w+)\}", lambda m: str(recorded.get(m.group(1), "x")), path)
        for who in ("supervisor", "inspector", "admin", "pf-clerk"):
            answer = client.get(url, params={"min_position": recorded["position"]}, headers=bearer(district, who))
            if answer.status_code == 200 and answer.headers["content-type"].startswith("application/json"):
                answered.append(path)
                if found := unnamed(answer.json()):
                    missing[f"{who} {path}"] = found
    assert missing == {}
    # The walk reached every answer that names units (not a vacuous pass).
    for path in ("/api/v1/plans/{plan_id}", "/api/v1/issues", "/api/v1/issues/{issue_id}",
                 "/api/v1/issues/{issue_id}/events", "/api/v1/cases/{case_id}", "/api/v1/cases/{case_id}/events",
                 "/api/v1/cases/{case_id}/access-log", "/api/v1/audit/events", "/api/v1/views/supervision",
                 "/api/v1/views/supervision/units", "/api/v1/views/evaluation/{year}", "/api/v1/views/ledger",
                 "/api/v1/me", "/api/v1/users"):
        assert path in answered


def test_an_issue_answer_names_its_units_lead_measures_and_urgings(
    client: TestClient, district: District, recorded: dict[str, Any]
) -> None:
    issue = client.get(f"/api/v1/issues/{recorded['issue_id']}", headers=bearer(district, "pf-clerk")).json()
    assert issue["lead_unit"] == "pf" and issue["lead_unit_name"] == NAMES["pf"]
    assert issue["unit_names"] == [NAMES[u] for u in issue["units"]]
    assert issue["co_unit_names"] == [NAMES[u] for u in issue["co_units"]] and issue["co_units"]
    assert [m["unit_name"] for m in issue["measures"]] == [NAMES[m["unit"]] for m in issue["measures"]]
    assert issue["urgings"][0]["unit_name"] == NAMES["sfs-cq"]
    listed = client.get("/api/v1/issues", headers=bearer(district, "pf-clerk")).json()
    assert [(i["lead_unit"], i["lead_unit_name"]) for i in listed] == [("pf", NAMES["pf"])]


def test_the_openapi_document_declares_a_name_beside_every_unit_field_of_an_answer(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    reached: set[str] = set()

    def reach(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.rsplit("/", 1)[-1] not in reached:
                reached.add(ref.rsplit("/", 1)[-1])
                reach(schemas[ref.rsplit("/", 1)[-1]])
            for item in node.values():
                reach(item)
        elif isinstance(node, list):
            for item in node:
                reach(item)

    for ops in document["paths"].values():
        if "get" in ops:
            reach(ops["get"].get("responses", {}).get("200", {}))
    declared = {name: schemas[name].get("properties", {}) for name in reached}
    unit_fields = [(n, k) for n, props in declared.items() for k in props if holds_units(k)]
    assert unit_fields, "no answer schema names a unit"
    assert [(n, k) for n, k in unit_fields if beside(k) not in declared[n]] == []


def sheet_values(content: bytes) -> list[Any]:
    book = load_workbook(BytesIO(content))
    return [cell for ws in book.worksheets for row in ws.iter_rows(values_only=True) for cell in row]


def test_spreadsheets_read_yes_or_no_and_never_true_or_false(
    client: TestClient, district: District, recorded: dict[str, Any]
) -> None:
    sup = bearer(district, "supervisor")
    query = {"min_position": recorded["position"]}
    for path in ("supervision", "supervision/units", "evaluation/2019", "ledger"):
        answer = client.get(f"/api/v1/views/{path}.xlsx", params=query, headers=sup)
        assert answer.status_code == 200
        values = sheet_values(answer.content)
        assert not any(isinstance(v, bool) for v in values)
        assert not {"True", "False", "TRUE", "FALSE"} & {v for v in values if isinstance(v, str)}
    evaluation = client.get("/api/v1/views/evaluation/2019", params=query, headers=sup).json()
    flagged = {r["unit"]: r["flagged"] for r in evaluation["rows"]}
    assert True in flagged.values() and False in flagged.values()
    book = load_workbook(BytesIO(client.get("/api/v1/views/evaluation/2019.xlsx", params=query, headers=sup).content))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    column, code = rows[0].index("等次存疑"), rows[0].index("单位代码")
    assert {r[code]: r[column] for r in rows[1:]} == {u: "是" if f else "否" for u, f in flagged.items()}
    # The unit column shows the name, its code in a column of its own.
    assert [r[rows[0].index("单位")] for r in rows[1:]] == [NAMES[r[code]] for r in rows[1:]]


def download_name(answer: Any) -> str:
    disposition = answer.headers["content-disposition"]
    match = re.search(r"filename\*=UTF-8''(\S+)$", disposition)
    assert match, disposition
    assert re.fullmatch(r'attachment; filename="[\x20-\x7e]+"; filename\*=UTF-8\'\'\S+', disposition)
    return unquote(match.group(1))


def beijing_day(moment: datetime) -> str:
    from projections.indicators import day_of

    return str(day_of(moment))


def test_downloads_carry_the_view_plan_or_year_and_the_beijing_day(
    client: TestClient, district: District, recorded: dict[str, Any], clock  # type: ignore[no-untyped-def]
) -> None:
    sup = bearer(district, "supervisor")
    clock.now = datetime(2019, 12, 3, 17, 30, tzinfo=UTC)  # already 4 December in Beijing
    expected = {
        "/api/v1/views/supervision.xlsx": "督查督办台账_2019-12-04.xlsx",
        "/api/v1/views/supervision/units.xlsx": "督查督办台账（按单位）_2019-12-04.xlsx",
        "/api/v1/views/evaluation/2019.xlsx": "年终考核_2019_2019-12-04.xlsx",
        "/api/v1/views/ledger.xlsx": "信息台账_2019-12-04.xlsx",
        f"/api/v1/plans/{recorded['plan_id']}/problem-list.xlsx": "问题清单_东司法[2019]3号_2019-12-04.xlsx",
    }
    for path, name in expected.items():
        answer = client.get(path, headers=sup)
        assert answer.status_code == 200, answer.text
        assert download_name(answer) == name
        assert f"filename*=UTF-8''{quote(name, safe='')}" in answer.headers["content-disposition"]


def test_two_downloads_on_different_days_get_different_names(
    client: TestClient, district: District, recorded: dict[str, Any], clock  # type: ignore[no-untyped-def]
) -> None:
    sup = bearer(district, "supervisor")
    for path in ("/api/v1/views/supervision.xlsx", f"/api/v1/plans/{recorded['plan_id']}/problem-list.xlsx"):
        first = download_name(client.get(path, headers=sup))
        before = clock.now
        clock.advance(days=1)
        second = download_name(client.get(path, headers=sup))
        assert first != second
        assert beijing_day(before) in first and beijing_day(clock.now) in second


def test_a_view_as_of_a_past_day_is_named_for_that_day(
    client: TestClient, district: District, recorded: dict[str, Any]
) -> None:
    answer = client.get("/api/v1/views/supervision.xlsx", params={"as_of": "2019-03-01"}, headers=bearer(district, "supervisor"))
    assert answer.status_code == 200
    assert download_name(answer) == "督查督办台账_2019-03-01.xlsx"


def test_a_plan_number_with_characters_file_systems_refuse_is_made_safe(
    client: TestClient, district: District, clock  # type: ignore[no-untyped-def]
) -> None:
    number = '东司法/2019\\3号:*?"<>|'
    district.issues.register_plan(district.cmd("supervisor"), number=number, title="方案", issuer_unit="bgs", year=2019)
    answer = client.get(f"/api/v1/plans/{plan_id(number)}/problem-list.xlsx", headers=bearer(district, "supervisor"))
    assert answer.status_code == 200
    name = download_name(answer)
    assert not set('/\\:*?"<>|') & set(name)
    assert name == f"问题清单_东司法_2019_3号_{beijing_day(clock.now)}.xlsx"


def test_the_audit_page_names_the_unit_of_each_entry_and_lists_units_by_name(
    client: TestClient, district: District, recorded: dict[str, Any]
) -> None:
    from tests.pages import page, sign_in

    sign_in(client, district, "inspector")
    html = page(client, "/audit?kind=RectificationIssue.Urged")
    assert f'<td data-label="记录单位">{NAMES["bgs"]}</td>' in html and "<small>bgs</small>" not in html
    assert f'<option value="bgs" >{NAMES["bgs"]}</option>' in html


def test_the_admin_page_names_each_users_unit_beside_its_code(client: TestClient, district: District) -> None:
    from tests.pages import page, sign_in

    sign_in(client, district, "admin")
    html = page(client, "/admin")
    assert re.search(rf'>pf-clerk</a></td>\s*<td data-label="单位">{NAMES["pf"]} <small>pf</small></td>', html)


def test_every_form_and_filter_offers_the_units_in_the_order_they_were_registered(
        client: TestClient, district: District) -> None:
    from tests.pages import page, sign_in

    def offered(path: str, select: str) -> list[tuple[str, str]]:
        html = page(client, path)
        chosen = re.search(rf'<select[^>]*name="{select}".*?</select>', html, re.DOTALL)
        assert chosen, select
        return re.findall(r'<option value="([^"]+)"[^>]*>([^<]*)</option>', chosen.group(0))

    registered = [(code, name) for code, name, _ in UNITS]
    sign_in(client, district, "supervisor")
    assert offered("/plans", "issuer_unit") == registered
    client.cookies.clear()
    sign_in(client, district, "inspector")
    assert offered("/audit", "unit") == [("system", "系统（命令行、初始化）"), *registered]
    client.cookies.clear()
    sign_in(client, district, "admin")
    assert offered("/admin/users/new", "unit") == [(code, f"{name}（{code}）") for code, name in registered]
