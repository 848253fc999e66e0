"""Failed sign-ins and refused requests are logged, without tokens or personal data, and counted
in the process' Prometheus counters (what /metrics serves; see tests/integration/test_operations.py)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from tests.application.test_child_cases import BIRTH, NAME, valid_id
from tests.district import District


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_failed_sign_in_is_logged_without_the_token_and_counted(client: TestClient) -> None:
    secret = "not-a-real-token-" + "q" * 30
    before = counted("careledger_failed_sign_ins_total")
    with capture_logs() as logs:
        unknown = client.get("/api/v1/issues", headers={"Authorization": f"Bearer {secret}"})
        missing = client.get("/api/v1/issues")
    assert unknown.status_code == missing.status_code == 401
    failed = [entry for entry in logs if entry["event"] == "sign_in_failed"]
    assert len(failed) == 2 and all(entry["status"] == 401 for entry in failed)
    assert secret not in repr(logs)
    assert counted("careledger_failed_sign_ins_total") - before == 2


def test_refused_requests_are_logged_by_rule_and_status_without_personal_data(
    client: TestClient, district: District,
) -> None:
    cq = {"Authorization": f"Bearer {district.tokens['cq-clerk']}"}
    inspector = {"Authorization": f"Bearer {district.tokens['inspector']}"}
    id_number = valid_id()
    person: dict[str, Any] = {"name": NAME, "id_number": id_number, "address": "某路1号"}
    case = {"street": "常青花园", "community": "常青一社区", "household_local": True,
            "birth_date": BIRTH.isoformat(), "person": person}
    forbidden_before = counted("careledger_http_requests_total", route="/api/v1/cases", method="POST", status="403")
    with capture_logs() as logs:
        # refused by role (an inspector may not register a case), by schema, by size
        assert client.post("/api/v1/cases", headers=inspector, json=case).status_code == 403
        assert client.post("/api/v1/cases", headers=cq, json={**case, "birth_date": "1800-01-01"}).status_code == 422
        assert client.post("/api/v1/cases", headers=cq,
                           json={**case, "person": {**person, "address": f"{NAME}家" * 2_000_000}}).status_code == 413
    events = [(entry["event"], entry.get("status"), entry.get("rule")) for entry in logs]
    assert ("command_refused", 403, "role_may_not_register_case") in events
    assert ("request_refused", 422, "request_schema") in events
    assert ("request_refused", 413, "body_too_large") in events
    text = repr(logs)
    assert NAME not in text and id_number not in text and "某路" not in text
    assert counted("careledger_http_requests_total", route="/api/v1/cases", method="POST",
                   status="403") - forbidden_before == 1


def test_a_request_id_that_could_be_a_personal_number_is_replaced_not_logged(client: TestClient) -> None:
    id_number, mobile = valid_id(), "13812345678"
    with capture_logs() as logs:
        answers = [client.get("/healthz", headers={"X-Request-ID": given})
                   for given in (id_number, mobile, "4201060123456789", "trace42abc")]
    echoed = [answer.headers["x-request-id"] for answer in answers]
    assert id_number not in echoed and mobile not in echoed and "4201060123456789" not in echoed
    assert echoed[3] == "trace42abc"  # an ordinary client id is still carried through
    assert id_number not in repr(logs) and mobile not in repr(logs)
