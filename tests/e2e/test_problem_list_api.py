"""Importing the justice bureau's problem list over HTTP, idempotently, and exporting it back."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.district import District
from tests.unit.test_problem_list import SOURCE_ROWS, as_csv, justice_bureau_xlsx, source_layout

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def bearer(district: District, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {district.tokens[who]}"}


def new_plan(client: TestClient, district: District, number: str) -> str:
    answer = client.post("/api/v1/plans", headers=bearer(district, "supervisor"),
                         json={"number": number, "title": "实施方案", "issuer_unit": "bgs", "year": 2019})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def upload(client: TestClient, district: District, plan: str, data: bytes, name: str, *, dry_run: bool = False):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/plans/{plan}/problem-list?dry_run={str(dry_run).lower()}",
                       headers=bearer(district, "supervisor"), files={"file": (name, data)})


def log_size(district: District) -> int:
    return district.ledger.recorder.max_notification_id() or 0


def test_import_dry_run_then_real_then_again(client: TestClient, district: District) -> None:
    plan = new_plan(client, district, "东政办[2019]6号")
    data = justice_bureau_xlsx()
    before = log_size(district)
    dry = upload(client, district, plan, data, "问题清单.xlsx", dry_run=True)
    assert dry.status_code == 200, dry.text
    assert dry.json()["counts"]["would_create"] == 4 and log_size(district) == before
    warned = [r for r in dry.json()["rows"] if r["warnings"]]
    assert [r["seq"] for r in warned] == [3, 4]  # 公共法律服务 / 务管理科 broken across a line

    real = upload(client, district, plan, data, "问题清单.xlsx").json()
    assert real["counts"]["created"] == 4
    issues = client.get(f"/api/v1/issues?plan={plan}", headers=bearer(district, "supervisor")).json()
    by_seq = {i["seq"]: i for i in issues}
    assert by_seq[1]["units"] == ["pf", "sfs-cq", "sfs-zml"]
    assert by_seq[3]["units"] == ["gf", "sfs-cq", "sfs-zml"]
    first = client.get(f"/api/v1/issues/{by_seq[1]['id']}", headers=bearer(district, "supervisor")).json()
    assert [(m["unit"], m["text"][:6]) for m in first["measures"]] == [
        ("pf", "普法和依法治"), ("sfs-cq", "各司法所加强"), ("sfs-zml", "各司法所加强")]

    size = log_size(district)
    again = upload(client, district, plan, data, "问题清单.xlsx").json()
    assert again["counts"]["unchanged"] == 4 and log_size(district) == size

    changed_rows = [list(r) for r in SOURCE_ROWS]
    changed_rows[1][3] = "针对性仍不足。"
    changed = upload(client, district, plan, as_csv(source_layout(changed_rows), "gb18030"), "问题清单.csv").json()
    assert changed["counts"] == {"created": 0, "would_create": 0, "unchanged": 3, "changed": 1, "refused": 0}
    assert log_size(district) == size


def test_a_file_without_header_or_unreadable_is_refused_and_stores_nothing(client: TestClient, district: District) -> None:
    plan = new_plan(client, district, "P-1")
    before = log_size(district)
    for data, name in ((as_csv([["1", "x", "y"]], "utf-8"), "a.csv"), (b"\x00\x01garbage", "a.xlsx"),
                       (b"PK\x03\x04broken", "a.xlsx"), (b"x", "a.xls")):
        answer = upload(client, district, plan, data, name)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    assert log_size(district) == before
    assert upload(client, district, "00000000-0000-4000-8000-000000000000", b"x", "a.csv").status_code == 404
    forbidden = client.post(f"/api/v1/plans/{plan}/problem-list", headers=bearer(district, "pf-clerk"),
                            files={"file": ("a.csv", as_csv(source_layout(SOURCE_ROWS), "utf-8"))})
    assert forbidden.status_code == 403 and log_size(district) == before


def test_export_then_import_into_a_new_plan_gives_the_same_issues(client: TestClient, district: District) -> None:
    plan = new_plan(client, district, "P-A")
    upload(client, district, plan, as_csv(source_layout(SOURCE_ROWS), "utf-8-sig"), "问题清单.csv")
    exported = client.get(f"/api/v1/plans/{plan}/problem-list.xlsx", headers=bearer(district, "inspector"))
    assert exported.status_code == 200 and exported.headers["content-type"] == XLSX
    assert "filename*=UTF-8''" in exported.headers["content-disposition"]
    other = new_plan(client, district, "P-B")
    assert upload(client, district, other, exported.content, "导出.xlsx").json()["counts"]["created"] == 4

    def shape(plan_id: str) -> list[tuple]:  # type: ignore[type-arg]
        rows = []
        for item in client.get(f"/api/v1/issues?plan={plan_id}", headers=bearer(district, "supervisor")).json():
            issue = client.get(f"/api/v1/issues/{item['id']}", headers=bearer(district, "supervisor")).json()
            rows.append((issue["seq"], issue["units"], issue["duty"], issue["problem"], issue["remarks"],
                         [(m["unit"], m["text"]) for m in issue["measures"]]))
        return sorted(rows)

    assert shape(plan) == shape(other)


def _sheet_column(data: bytes, label: str) -> list[object]:
    import io

    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    header = next(i for i, row in enumerate(rows) if label in row)
    column = rows[header].index(label)
    return [row[column] for row in rows[header + 1:] if any(cell is not None for cell in row)]


def test_an_imported_issue_shows_its_lead_unit_in_the_api_views_exports_and_pages(
    client: TestClient, district: District
) -> None:
    plan = new_plan(client, district, "东政办[2019]7号")
    sup = bearer(district, "supervisor")
    real = upload(client, district, plan, justice_bureau_xlsx(), "问题清单.xlsx").json()
    assert real["counts"]["created"] == 4
    expected = {1: "pf", 2: "pf", 3: "gf", 4: "gf"}  # the first unit each row names
    names = {"pf": "普法和依法治理科", "gf": "公共法律服务管理科"}

    listed = client.get(f"/api/v1/issues?plan={plan}", headers=sup).json()
    assert {i["seq"]: i["lead_unit"] for i in listed} == expected
    for item in listed:
        issue = client.get(f"/api/v1/issues/{item['id']}", headers=sup).json()
        assert issue["lead_unit"] == expected[issue["seq"]]
        assert issue["deadline"] is None  # a lead from the list is not an assignment
        assert issue["lead_unit"] not in issue["co_units"]
        assert [issue["lead_unit"], *issue["co_units"]] == issue["units"]
        page = client.get(f"/issues/{item['id']}", headers=sup)
        assert page.status_code == 200
        assert f"<dt>牵头单位</dt><dd>{names[expected[issue['seq']]]}</dd>" in page.text

    position = real["rows"][-1]["position"]
    view = client.get(f"/api/v1/views/supervision?min_position={position}", headers=sup).json()
    by_id = {i["id"]: i["seq"] for i in listed}
    assert {by_id[r["id"]]: r["lead_unit"] for r in view["rows"] if r["id"] in by_id} == expected

    views_xlsx = client.get(f"/api/v1/views/supervision.xlsx?min_position={position}", headers=sup)
    assert sorted(_sheet_column(views_xlsx.content, "牵头单位代码")) == sorted(expected.values())
    assert sorted(_sheet_column(views_xlsx.content, "牵头单位")) == sorted(names[u] for u in expected.values())
    plan_xlsx = client.get(f"/api/v1/plans/{plan}/problem-list.xlsx", headers=sup)
    assert _sheet_column(plan_xlsx.content, "牵头单位") == [names[expected[seq]] for seq in sorted(expected)]
