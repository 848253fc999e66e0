"""Access over HTTP (API.md, "Access"): the caller, users and tokens; revocation and
deactivation refused on the very next request by another worker on the same database."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from domain.registry import Token, token_digest, user_id
from tests.district import UNITS, District


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_me_answers_the_caller_and_the_token_it_signed_in_with(client: TestClient, district: District) -> None:
    answer = client.get("/api/v1/me", headers=bearer(district.tokens["pf-clerk"]))
    assert answer.status_code == 200
    assert answer.json() == {"user_id": str(user_id("pf-clerk")), "name": "pf-clerk", "unit": "pf",
                             "unit_name": dict((c, n) for c, n, _ in UNITS)["pf"], "role": "agency",
                             "token_id": str(Token.create_id(digest=token_digest(district.tokens["pf-clerk"])))}


def test_an_admin_creates_a_user_whose_token_is_answered_once_and_listed_without_secrets(
    client: TestClient, district: District,
) -> None:
    admin = bearer(district.tokens["admin"])
    made = client.post("/api/v1/users", json={"name": "新同事", "unit": "gf", "role": "agency"}, headers=admin)
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    assert client.get("/api/v1/me", headers=bearer(token)).json()["name"] == "新同事"
    users = client.get("/api/v1/users", headers=admin)
    assert users.status_code == 200 and "新同事" in {u["name"] for u in users.json()}
    tokens = client.get("/api/v1/tokens", params={"user": made.json()["user_id"]}, headers=admin)
    assert tokens.status_code == 200
    [listed] = tokens.json()
    assert listed["token_id"] == made.json()["token_id"] and listed["last_used_at"] is not None
    assert token not in tokens.text and token_digest(token) not in tokens.text and token not in users.text


def test_a_token_revoked_in_one_worker_gets_401_on_its_next_request_in_another(
    client: TestClient, other_worker: TestClient, district: District,
) -> None:
    admin = bearer(district.tokens["admin"])
    issued = client.post(f"/api/v1/users/{user_id('gf-clerk')}/tokens", headers=admin)
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    assert other_worker.get("/api/v1/issues", headers=bearer(token)).status_code == 200
    assert other_worker.get("/api/v1/issues", headers=bearer(token)).status_code == 200  # remembered there
    revoked = client.delete(f"/api/v1/tokens/{issued.json()['token_id']}", headers=bearer(token))  # by its owner
    assert revoked.status_code == 204
    answer = other_worker.get("/api/v1/issues", headers=bearer(token))
    assert answer.status_code == 401 and answer.headers["content-type"].startswith("application/problem+json")
    assert other_worker.get("/api/v1/issues", headers=bearer(district.tokens["gf-clerk"])).status_code == 200


def test_a_deactivated_user_gets_401_everywhere_until_reactivated(
    client: TestClient, other_worker: TestClient, district: District,
) -> None:
    admin, clerk = bearer(district.tokens["admin"]), bearer(district.tokens["cq-clerk"])
    assert other_worker.get("/api/v1/me", headers=clerk).status_code == 200
    target = user_id("cq-clerk")
    assert client.post(f"/api/v1/users/{target}/deactivation", headers=admin).status_code == 201
    assert other_worker.get("/api/v1/me", headers=clerk).status_code == 401
    assert client.post(f"/api/v1/users/{target}/deactivation", headers=admin).status_code == 409
    assert client.post(f"/api/v1/users/{target}/activation", headers=admin).status_code == 201
    assert other_worker.get("/api/v1/me", headers=clerk).status_code == 200


def test_the_audit_trail_shows_who_took_access_back(client: TestClient, district: District, services) -> None:  # type: ignore[no-untyped-def]
    admin = bearer(district.tokens["admin"])
    client.post(f"/api/v1/users/{user_id('zml-clerk')}/deactivation", headers=admin)
    services.audit.catch_up()
    events = client.get("/api/v1/audit/events", params={"aggregate": str(user_id("zml-clerk"))},
                        headers=bearer(district.tokens["supervisor"])).json()
    rows = events["events"] if isinstance(events, dict) else events
    assert [(e["type"], e["recorder"]) for e in rows][-1] == ("Deactivated", "admin")


@pytest.mark.parametrize("body", [{"name": "x", "unit": "gf", "role": "root"}, {"name": "", "unit": "gf", "role": "agency"},
                                  {"name": "x", "unit": "gf"}, {"name": "x", "unit": "gf", "role": "agency", "extra": 1}])
def test_a_malformed_user_is_refused_and_nothing_is_stored(
    client: TestClient, district: District, services, body: dict[str, object],  # type: ignore[no-untyped-def]
) -> None:
    before = services.ledger.recorder.max_notification_id()
    answer = client.post("/api/v1/users", json=body, headers=bearer(district.tokens["admin"]))
    assert answer.status_code == 422 and answer.headers["content-type"].startswith("application/problem+json")
    assert services.ledger.recorder.max_notification_id() == before


def test_unknown_users_and_tokens_are_404(client: TestClient, district: District) -> None:
    admin = bearer(district.tokens["admin"])
    missing = "00000000-0000-0000-0000-000000000000"
    assert client.post(f"/api/v1/users/{missing}/deactivation", headers=admin).status_code == 404
    assert client.post(f"/api/v1/users/{missing}/tokens", headers=admin).status_code == 404
    assert client.delete(f"/api/v1/tokens/{missing}", headers=admin).status_code == 404
    assert client.post("/api/v1/users", json={"name": "y", "unit": "nowhere", "role": "agency"},
                       headers=admin).status_code == 404


def test_an_admin_changes_a_users_role_and_unit_and_the_next_request_acts_with_them(
    client: TestClient, district: District, services,  # type: ignore[no-untyped-def]
) -> None:
    admin, target = bearer(district.tokens["admin"]), user_id("zml-clerk")
    before = client.get("/api/v1/users", headers=admin).json()
    version = next(u["version"] for u in before if u["name"] == "zml-clerk")
    changed = client.post(f"/api/v1/users/{target}/changes", json={"role": "inspector", "unit": "bgs"},
                          headers={**admin, "If-Match": f'"{version}"'})
    assert changed.status_code == 201, changed.text
    assert changed.json()["version"] == version + 2
    me = client.get("/api/v1/me", headers=bearer(district.tokens["zml-clerk"])).json()
    assert (me["role"], me["unit"]) == ("inspector", "bgs")
    kinds = [e["type"] for e in services.trail.history(target)]
    assert kinds[-2:] == ["RoleChanged", "UnitChanged"]

    log = services.ledger.recorder.max_notification_id()
    stale = client.post(f"/api/v1/users/{target}/changes", json={"role": "agency"},
                        headers={**admin, "If-Match": f'"{version}"'})
    assert stale.status_code == 412 and stale.json()["rule"] == "if_match_version"
    assert client.post(f"/api/v1/users/{target}/changes", json={}, headers=admin).status_code == 422
    assert client.post(f"/api/v1/users/{target}/changes", json={"unit": "nowhere"}, headers=admin).status_code == 404
    assert client.post(f"/api/v1/users/{target}/changes", json={"role": "admin"},
                       headers=bearer(district.tokens["supervisor"])).status_code == 403
    assert client.post(f"/api/v1/users/{user_id('admin')}/changes", json={"role": "agency"},
                       headers=admin).status_code == 403  # an admin keeps their own role
    assert services.ledger.recorder.max_notification_id() == log
