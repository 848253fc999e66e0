"""A case registered before the exact birth date was sealed holds it in clear in its old
events. The history shows the month instead, the date shows only in the personal fields,
and erasure deletes the case's snapshots (derived, outside the Merkle log), which held it
too; the log still verifies."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from domain.base import Stamp, recording_at
from domain.case import ChildCase
from domain.case_personal import new_case_number
from tests.district import District
from tests.e2e.test_erasure_dump import ID_NUMBER, NAME
from tests.integration.test_snapshot_check import verify
from tests.integration.test_snapshots import snapshot_versions, snapshotting

LEGACY_BIRTH = "2010-02-10"
LEGACY_CORRECTED_BIRTH = "2010-03-10"


def bearer(district: District, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {district.tokens[who]}"}


def legacy_case(ledger: Any) -> ChildCase:
    """A case as the version before sealing stored it: the exact date in the Registered
    event, and a correction of it holding the new date in its clear changes."""
    now = ledger.clock()
    stamp = Stamp.make(user="cq-clerk", unit="sfs-cq", recorded_at=now)
    number = new_case_number(now.year)
    cid = ChildCase.create_id(case_number=number)
    with recording_at(now):
        case = ChildCase(
            **stamp.fields(), case_number=number, street="旧区街道", community="旧社区", household_local=True,
            birth_date=date.fromisoformat(LEGACY_BIRTH), registering_unit="sfs-cq", birth_month=None,
            sealed=ledger.seals.seal_new(cid, {"name": NAME, "id_number": "x"}),
        )
    vars(case.pending_events[0]).pop("birth_month")
    ledger.save(case)
    position = ledger.index.positions(case.id)[1]
    with recording_at(now):
        case._entry_corrected(  # as the earlier version recorded a corrected birth date
            **stamp.fields(), corrected_version=1, corrected_position=position, corrected_type="Registered",
            changes={"birth_date": LEGACY_CORRECTED_BIRTH}, reason="出生日期登记错误", sealed_reason=None,
        )
    vars(case.pending_events[0]).pop("sealed_reason")
    ledger.save(case)
    return case


def shows_a_legacy_date(text: str) -> bool:
    return LEGACY_BIRTH in text or LEGACY_CORRECTED_BIRTH in text


def test_a_legacy_clear_birth_date_shows_only_as_its_month_in_the_history_and_only_in_personal_fields(
    client: TestClient, district: District, services: Any
) -> None:
    case = legacy_case(services.ledger)
    path = f"/api/v1/cases/{case.id}"

    events = client.get(f"{path}/events", headers=bearer(district, "cq-clerk"))
    assert events.status_code == 200 and not shows_a_legacy_date(events.text)
    registered, corrected = events.json()[:2]
    assert registered["birth_month"] == "2010-02" and "birth_date" not in registered
    assert corrected["changes"] == {"birth_month": "2010-03"}
    clerk_view = client.get(path, headers=bearer(district, "cq-clerk"))
    assert clerk_view.json()["personal"] is None and not shows_a_legacy_date(clerk_view.text)

    personal = client.get(path, headers=bearer(district, "supervisor")).json()["personal"]
    assert personal["person"]["birth_date"] == LEGACY_CORRECTED_BIRTH
    assert personal["corrections"][0]["changes"] == {"birth_date": LEGACY_CORRECTED_BIRTH}
    assert len(client.get(f"{path}/access-log", headers=bearer(district, "inspector")).json()) == 1


def test_the_audit_log_publishes_a_legacy_clear_birth_date_event_by_its_hash_alone(
    client: TestClient, district: District, services: Any
) -> None:
    case = legacy_case(services.ledger)
    services.merkle.catch_up()
    for who in ("inspector", "supervisor"):
        rows = client.get(f"/api/v1/audit/events?aggregate={case.id}", headers=bearer(district, who))
        assert rows.status_code == 200 and not shows_a_legacy_date(rows.text)
        assert [(r["version"], r["leaf_withheld"], r["leaf"] is None, len(r["leaf_hash"] or "")) for r in rows.json()] == [
            (1, True, True, 64), (2, True, True, 64)]
    result = verify(services)
    assert result.intact, result.summary()


@pytest.fixture
def snapshotting_ledger(services: Any) -> Any:
    """The ledger, snapshotting cases and issues every 4 versions."""
    snapshotting(services.ledger, 4)
    return services.ledger


def test_erasure_deletes_a_cases_snapshots_and_none_holding_a_clear_date_are_taken_again(
    client: TestClient, district: District, services: Any, snapshotting_ledger: Any
) -> None:
    ledger = snapshotting_ledger
    case = legacy_case(ledger)
    path = f"/api/v1/cases/{case.id}"
    for _ in range(6):
        assert client.post(f"{path}/visits", headers=bearer(district, "cq-clerk"), json={}).status_code == 201
    assert snapshot_versions(ledger, case.id) == [4, 8]

    erased = client.post(f"{path}/erasure", headers=bearer(district, "supervisor"), json={"reason": "期满"})
    assert erased.status_code == 201
    assert snapshot_versions(ledger, case.id) == []
    for _ in range(4):
        assert client.post(f"{path}/visits", headers=bearer(district, "cq-clerk"), json={}).status_code == 201
    assert ledger.repository.get(case.id).version == 13
    assert snapshot_versions(ledger, case.id) == []  # version 12 would hold the clear date
    for who in ("supervisor", "cq-clerk"):
        for page in (path, f"{path}/events"):
            answer = client.get(page, headers=bearer(district, who))
            assert answer.status_code == 200 and not shows_a_legacy_date(answer.text)
    result = verify(services)
    assert result.intact, result.summary()


def test_erasure_deletes_the_snapshots_of_a_sealed_case_too(
    client: TestClient, district: District, services: Any, snapshotting_ledger: Any
) -> None:
    ledger = snapshotting_ledger
    registered = client.post("/api/v1/cases", headers=bearer(district, "cq-clerk"), json={
        "street": "s街", "community": "c", "household_local": True, "birth_date": "2013-09-17",
        "person": {"name": NAME, "id_number": ID_NUMBER}}).json()
    path, case_id = f"/api/v1/cases/{registered['id']}", UUID(registered["id"])
    for _ in range(4):
        assert client.post(f"{path}/visits", headers=bearer(district, "cq-clerk"), json={}).status_code == 201
    assert snapshot_versions(ledger, case_id) == [4]
    assert client.post(f"{path}/erasure", headers=bearer(district, "supervisor"),
                       json={"reason": "期满"}).status_code == 201
    assert snapshot_versions(ledger, case_id) == []
    result = verify(services)
    assert result.intact, result.summary()

