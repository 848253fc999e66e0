"""Limits on input, over HTTP: body size, string lengths, list sizes, Unicode NFC, control
characters, dates out of range. Every refusal is problem+json and stores nothing."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from tests.district import District

PROBLEM = "application/problem+json"


def bearer(district: District, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {district.tokens[who]}"}


@pytest.fixture
def plan(client: TestClient, district: District) -> str:
    answer = client.post("/api/v1/plans", headers=bearer(district, "supervisor"), json={
        "number": "汉司〔2019〕1号", "title": "整改方案", "issuer_unit": "bgs", "year": 2019})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def issue_body(plan: str, **changes: Any) -> dict[str, Any]:
    return {"plan_id": plan, "seq": 1, "duty": "法治宣传教育", "problem": "有待加强", "units": ["sfs-cq"],
            "measures": ["纳入考核"], "remarks": "", **changes}


def refused(client: TestClient, district: District, path: str, body: Any, status: int = 422,
            who: str = "supervisor") -> dict[str, Any]:
    before = district.ledger.recorder.max_notification_id()
    # json.dumps escapes every non-ASCII character, lone surrogates included ("\ud800").
    answer = client.post(path, headers={**bearer(district, who), "Content-Type": "application/json"},
                         content=json.dumps(body))
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert district.ledger.recorder.max_notification_id() == before, "a refused command stored events"
    return answer.json()  # type: ignore[no-any-return]


# ---- body size ---------------------------------------------------------------------------------

def test_a_body_declared_larger_than_the_limit_is_413_before_it_is_read(
    client: TestClient, district: District, services, plan: str,  # type: ignore[no-untyped-def]
) -> None:
    limit = services.settings.max_body_bytes
    body = refused(client, district, "/api/v1/issues", issue_body(plan, remarks="x" * (limit + 1)), status=413)
    assert body["rule"] == "body_too_large" and body["status"] == 413


def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit_with_413(
    client: TestClient, district: District, services, plan: str,  # type: ignore[no-untyped-def]
) -> None:
    limit = services.settings.max_body_bytes
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"plan_id": "' + plan.encode() + b'", "seq": 1, "duty": "d", "problem": "p", "units": ["sfs-cq"], "remarks": "'
        while sent <= limit:
            sent += 64 * 1024
            yield b"x" * (64 * 1024)
        yield b'"}'

    before = district.ledger.recorder.max_notification_id()
    answer = client.post("/api/v1/issues", headers={**bearer(district, "supervisor"),
                                                     "Content-Type": "application/json"}, content=chunks())
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert district.ledger.recorder.max_notification_id() == before


def test_a_body_just_under_the_limit_is_accepted(client: TestClient, district: District, plan: str) -> None:
    # 20,000 characters is the bound on a text field; the body is far under the byte limit.
    answer = client.post("/api/v1/issues", headers=bearer(district, "supervisor"),
                         json=issue_body(plan, remarks="备" * 20_000))
    assert answer.status_code == 201, answer.text


# ---- bounded strings and lists -----------------------------------------------------------------

@pytest.mark.parametrize(("field", "value"), [
    ("remarks", "字" * 20_001),             # text: 20,000 characters
    ("duty", "字" * 20_001),
    ("units", ["x" * 65]),                  # unit code: 64 characters
    ("measures", ["措施"] * 51),              # measures: 50
    ("units", ["sfs-cq"] * 51),             # units: 50
    ("seq", 100_001),                       # seq: 1–100,000
    ("seq", 0),
])
def test_strings_lists_and_numbers_over_their_bounds_are_422(
    client: TestClient, district: District, plan: str, field: str, value: Any,
) -> None:
    body = refused(client, district, "/api/v1/issues", issue_body(plan, **{field: value}))
    assert body["rule"] == "request_schema"
    assert any(field in error["loc"] for error in body["errors"]), body


def test_a_name_over_200_characters_and_a_year_out_of_range_are_422(
    client: TestClient, district: District,
) -> None:
    refused(client, district, "/api/v1/plans",
            {"number": "号" * 201, "title": "方案", "issuer_unit": "bgs", "year": 2019})
    refused(client, district, "/api/v1/plans",
            {"number": "1号", "title": "方案", "issuer_unit": "bgs", "year": 1999})  # year 2000–2100


def test_a_query_parameter_over_its_bound_is_422(client: TestClient, district: District) -> None:
    answer = client.get("/api/v1/issues", params={"unit": "u" * 65}, headers=bearer(district, "supervisor"))
    assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM
    answer = client.get("/api/v1/audit/events", params={"limit": 1001}, headers=bearer(district, "supervisor"))
    assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM


def test_an_idempotency_key_over_200_characters_is_422(client: TestClient, district: District, plan: str) -> None:
    before = district.ledger.recorder.max_notification_id()
    answer = client.post("/api/v1/issues", headers={**bearer(district, "supervisor"), "Idempotency-Key": "k" * 201},
                         json=issue_body(plan))
    assert answer.status_code == 422 and answer.json()["rule"] == "request_schema"
    assert district.ledger.recorder.max_notification_id() == before


# ---- Unicode -----------------------------------------------------------------------------------

def test_a_decomposed_string_is_stored_composed(client: TestClient, district: District, plan: str) -> None:
    decomposed = "Cafe\u0301 路口的 A\u030a"  # e + combining acute, A + combining ring
    composed = unicodedata.normalize("NFC", decomposed)
    assert decomposed != composed
    answer = client.post("/api/v1/issues", headers=bearer(district, "supervisor"),
                         json=issue_body(plan, duty=decomposed, problem=decomposed))
    assert answer.status_code == 201, answer.text
    shown = client.get(f"/api/v1/issues/{answer.json()['id']}", headers=bearer(district, "supervisor")).json()
    assert shown["duty"] == composed == "Café 路口的 Å" and shown["problem"] == composed
    stored = district.issues.issue(UUID(answer.json()["id"]))
    assert stored.duty == composed


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x1b[31m", "\x7f", "\u0085", "\u202e", "\u200b", "\ud800", "\ue000"])
def test_control_format_surrogate_and_private_use_characters_are_refused(
    client: TestClient, district: District, plan: str, bad: str,
) -> None:
    body = refused(client, district, "/api/v1/issues", issue_body(plan, duty=f"职责{bad}说明"))
    assert body["rule"] == "request_schema"


def test_newlines_and_tabs_are_kept_in_texts_but_refused_in_names(
    client: TestClient, district: District, plan: str,
) -> None:
    answer = client.post("/api/v1/issues", headers=bearer(district, "supervisor"),
                         json=issue_body(plan, problem="第一行\r\n第二行\t完"))
    assert answer.status_code == 201, answer.text
    shown = client.get(f"/api/v1/issues/{answer.json()['id']}", headers=bearer(district, "supervisor")).json()
    assert shown["problem"] == "第一行\n第二行\t完"
    refused(client, district, "/api/v1/plans", {"number": "1号\n2号", "title": "方案", "issuer_unit": "bgs", "year": 2019})


# ---- dates -------------------------------------------------------------------------------------

@pytest.fixture
def issue(client: TestClient, district: District, plan: str) -> str:
    answer = client.post("/api/v1/issues", headers=bearer(district, "supervisor"), json=issue_body(plan))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


@pytest.mark.parametrize("deadline", ["1989-12-31", "2101-01-01", "0001-01-01", "9999-12-31", "2019-13-01",
                                      "2019-02-30", "20190301", "2019-3-1"])
def test_dates_out_of_range_or_malformed_are_refused(
    client: TestClient, district: District, issue: str, deadline: str,
) -> None:
    refused(client, district, f"/api/v1/issues/{issue}/assignment",
            {"lead_unit": "sfs-cq", "contact_person": "张三", "deadline": deadline})


@pytest.mark.parametrize("moment", ["1700-01-01T00:00:00Z", "2200-01-01T00:00:00+08:00", "not a time"])
def test_moments_out_of_range_are_refused(client: TestClient, district: District, issue: str, moment: str) -> None:
    refused(client, district, f"/api/v1/issues/{issue}/urgings",
            {"unit": "sfs-cq", "message": "请加快", "reply_by": "2019-04-01", "occurred_at": moment})


@pytest.mark.parametrize("as_of", ["1800-01-01", "2300-01-01T00:00:00Z", "yesterday"])
def test_as_of_out_of_range_is_422(client: TestClient, district: District, issue: str, as_of: str) -> None:
    answer = client.get(f"/api/v1/issues/{issue}", params={"as_of": as_of}, headers=bearer(district, "supervisor"))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM


def test_the_bounds_themselves_are_accepted(client: TestClient, district: District, issue: str) -> None:
    answer = client.post(f"/api/v1/issues/{issue}/assignment", headers=bearer(district, "supervisor"),
                         json={"lead_unit": "sfs-cq", "contact_person": "张三", "deadline": "2100-12-31",
                               "nodes": ["1990-01-01"]})
    assert answer.status_code == 201, answer.text
