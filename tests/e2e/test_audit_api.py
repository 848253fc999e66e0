"""The audit API: the global log with leaves, late entries, signed heads and proofs an outsider checks."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi.testclient import TestClient

from application.commands import Command
from domain.plan import plan_id
from tests.district import District
from tests.rfc9162 import rfc_hash, rfc_verify_consistency, rfc_verify_inclusion


def bearer(district: District, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {district.tokens[who]}"}


def history(district: District, clock) -> None:  # type: ignore[no-untyped-def]
    district.issues.register_plan(district.cmd("supervisor"), number="P", title="t", issuer_unit="bgs", year=2019)
    issue = district.issues.register_issue(district.cmd("supervisor"), plan=plan_id("P"), seq=1, duty="d", problem="p",
                                  units=["pf"], measures=[(None, "m", None)]).id
    clock.advance(days=30)
    district.issues.report_progress(Command(actor=district.actors["pf-clerk"], occurred_at=clock.now - timedelta(days=20)),
                           issue, "M1", summary="迟报", evidence=[])
    district.issues.report_progress(district.cmd("pf-clerk"), issue, "M1", summary="按时", evidence=[])


def test_the_global_log_is_paged_and_filtered(client: TestClient, district: District, clock) -> None:  # type: ignore[no-untyped-def]
    history(district, clock)
    sup = bearer(district, "supervisor")
    everything = client.get("/api/v1/audit/events?limit=1000", headers=sup).json()
    positions = [e["position"] for e in everything]
    assert positions == sorted(positions) and len(positions) == district.ledger.recorder.max_notification_id()
    first_page = client.get("/api/v1/audit/events?limit=5", headers=sup).json()
    second_page = client.get(f"/api/v1/audit/events?limit=5&after={first_page[-1]['position']}", headers=sup).json()
    assert [e["position"] for e in first_page + second_page] == positions[:10]
    by_unit = client.get("/api/v1/audit/events?unit=pf&type=ProgressReported", headers=sup).json()
    assert [e["recorder"] for e in by_unit] == ["pf-clerk", "pf-clerk"]
    by_user = client.get("/api/v1/audit/events?user=pf-clerk&limit=1000", headers=sup).json()
    assert {e["unit"] for e in by_user} == {"pf"}
    late = client.get("/api/v1/audit/late-entries", headers=bearer(district, "inspector")).json()
    assert [(e["type"], e["late_by_seconds"]) for e in late] == [("ProgressReported", 20 * 86400)]
    assert client.get("/api/v1/audit/events", headers=bearer(district, "pf-clerk")).status_code == 403


def test_heads_and_proofs_check_out_with_an_outsiders_code(client: TestClient, district: District, clock) -> None:  # type: ignore[no-untyped-def]
    history(district, clock)
    ins = bearer(district, "inspector")
    first_head = client.get("/api/v1/audit/tree-head", headers=ins).json()
    district.registry.add_unit(Command(actor=district.actors["admin"]), code="new", name="新单位")
    head = client.get("/api/v1/audit/tree-head", headers=ins).json()
    assert head["tree_size"] > first_head["tree_size"]

    key = load_pem_public_key(client.get("/api/v1/audit/public-key", headers=ins).text.encode())
    message = json.dumps({"root_hash": head["root_hash"], "timestamp": head["timestamp"], "tree_size": head["tree_size"]},
                         sort_keys=True, separators=(",", ":")).encode()
    key.verify(base64.b64decode(head["signature"]), message)  # raises if it does not verify

    events = client.get("/api/v1/audit/events?limit=1000", headers=ins).json()
    root = bytes.fromhex(head["root_hash"])
    for event in events[:: max(1, len(events) // 7)]:
        proof = client.get(f"/api/v1/audit/proofs/inclusion?position={event['position']}&tree_size={head['tree_size']}",
                           headers=ins).json()
        assert proof["leaf_hash"] == event["leaf_hash"]
        assert rfc_verify_inclusion(proof["leaf_index"], head["tree_size"], bytes.fromhex(proof["leaf_hash"]),
                                    [bytes.fromhex(h) for h in proof["audit_path"]], root)
        assert not rfc_verify_inclusion(proof["leaf_index"], head["tree_size"], rfc_hash(b"forged"),
                                        [bytes.fromhex(h) for h in proof["audit_path"]], root)

    consistency = client.get(f"/api/v1/audit/proofs/consistency?first={first_head['tree_size']}&second={head['tree_size']}",
                             headers=ins).json()
    assert rfc_verify_consistency(first_head["tree_size"], head["tree_size"], bytes.fromhex(first_head["root_hash"]),
                                  root, [bytes.fromhex(h) for h in consistency["proof"]])
    assert client.get("/api/v1/audit/proofs/inclusion?position=999999", headers=ins).status_code == 404
    assert client.get(f"/api/v1/audit/proofs/consistency?first=5&second={head['tree_size'] + 5}",
                      headers=ins).status_code == 422


def test_an_outsider_recomputes_each_leaf_hash_from_the_leaf_object(client: TestClient, district: District, clock) -> None:  # type: ignore[no-untyped-def]
    history(district, clock)
    events = client.get("/api/v1/audit/events?limit=1000", headers=bearer(district, "inspector")).json()
    assert events
    for event in events:
        encoded = json.dumps(event["leaf"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert rfc_hash(b"\x00" + encoded).hex() == event["leaf_hash"]
        assert event["leaf"]["position"] == event["position"]


def test_verification_after_erasure_still_passes(district: District, services, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from infrastructure.merkle_store import merkle_store_for
    from infrastructure.verify import verify_log
    from tests.application.test_child_cases import valid_id

    ledger = district.ledger
    case = district.cases.register_case(district.cmd("cq-clerk"), street="s", community="c", household_local=True,
                                birth_date=date(2012, 5, 15), person={"name": "王小明", "id_number": valid_id()}).id
    services.merkle.catch_up()
    district.cases.erase_personal_data(district.cmd("supervisor"), case, reason="期满")
    services.merkle.catch_up()
    store = merkle_store_for(ledger.factory.datastore)
    result = verify_log(ledger.recorder, store, services.signer.public_key)
    assert result.intact, result.summary()
    assert result.events_checked == ledger.recorder.max_notification_id()


def test_an_admin_reads_the_logs_metadata_and_leaf_hashes_but_not_the_stored_events(  # type: ignore[no-untyped-def]
    client: TestClient, district: District, clock
) -> None:
    history(district, clock)
    as_admin = client.get("/api/v1/audit/events?limit=1000", headers=bearer(district, "admin")).json()
    as_inspector = client.get("/api/v1/audit/events?limit=1000", headers=bearer(district, "inspector")).json()
    assert len(as_admin) == len(as_inspector) > 0
    assert all(e["leaf"] is None for e in as_admin) and all(e["leaf"] is not None for e in as_inspector)
    assert [{**e, "leaf": None} for e in as_inspector] == as_admin  # the same metadata and leaf hashes
    late = client.get("/api/v1/audit/late-entries", headers=bearer(district, "admin")).json()
    assert len(late) == 1 and late[0]["leaf"] is None and late[0]["leaf_hash"]
