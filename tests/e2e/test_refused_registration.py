"""A refused registration leaves everything as it was: no event, and no case key (the
domain's checks run before the key is made)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain.case_personal import case_id, new_case_number
from tests.district import District
from tests.e2e.test_erasure_dump import ID_NUMBER, NAME, bearer


@pytest.mark.parametrize("change", [
    {"street": "电话13812345678"},  # clear free text with a mobile number
    {"community": " "},
    {"birth_date": "2099-01-01"},  # in the future
    {"birth_date": "1990-01-01"},  # not a minor
])
def test_a_refused_registration_leaves_no_case_key(
    client: TestClient, district: District, services: Any, monkeypatch: pytest.MonkeyPatch, change: dict[str, Any]
) -> None:
    number = new_case_number(2026)
    monkeypatch.setattr("application.cases.new_case_number", lambda year: number)
    size = district.ledger.recorder.max_notification_id()
    refused = client.post("/api/v1/cases", headers=bearer(district, "cq-clerk"), json={
        "street": "s街", "community": "c", "household_local": True, "birth_date": "2013-09-17",
        "person": {"name": NAME, "id_number": ID_NUMBER}, **change})
    assert refused.status_code == 422
    assert services.case_keys.get(case_id(number)) is None
    assert district.ledger.recorder.max_notification_id() == size
    # The control: the same number registers, and then has its key.
    accepted = client.post("/api/v1/cases", headers=bearer(district, "cq-clerk"), json={
        "street": "s街", "community": "c", "household_local": True, "birth_date": "2013-09-17",
        "person": {"name": NAME, "id_number": ID_NUMBER}})
    assert accepted.status_code == 201 and services.case_keys.get(case_id(number)) is not None
