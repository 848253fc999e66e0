"""Idempotency answers prove nothing about what a client sent (issue 16, item 1).

The attack this pins: a child registered with an Idempotency-Key used to leave a plain
SHA-256 of the request in the published log; whoever reads the audit trail tries every
name and ID number that fits the clear birth date and region and confirms the child
offline, before and after erasure. Here the same attack runs against every byte any role
can read — API answers, pages, spreadsheets, /metrics, the server's log — and finds
nothing; a control shows it finds the child when the old form is published.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from stdnum.cn import ric
from structlog.testing import capture_logs

from application.access import Actor
from domain.base import Stamp, recording_at
from domain.idempotency import CommandAnswer, is_keyed
from infrastructure.idempotency_key import IdempotencyKeyError, load_idempotency_key
from infrastructure.keyring import Keyring
from infrastructure.merkle_store import merkle_store_for
from infrastructure.verify import verify_log
from interfaces import bootstrap
from interfaces.http.app import create_app
from projections.merkle_log import KEPT_TOPIC, leaf_fields_of, leaf_of
from tests.district import District

ROOT = Path(__file__).parents[2]
REGION_AND_BIRTH = "11010520120515"  # a region python-stdnum knows; the birth date published in clear
BIRTH = "2012-05-15"
# Ten names (the two registered children among them) × the 1,000 sequence numbers of the
# known region and birth date: the 10,000 candidates of the attack.
NAMES = ["王小明", "李小红", "张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵磊", "黄丽"]
CHILDREN = [("王小明", "341"), ("李小红", "672")]
ROLES = ("supervisor", "inspector", "admin", "pf-clerk", "gf-clerk", "cq-clerk", "zml-clerk")
PAGES = ("/", "/issues", "/evaluation", "/ledger", "/audit", "/audit?kind=CommandAnswer.Kept")
# What a kept answer may hold besides id and version: names of things, never a person's field.
NON_PERSONAL_ANSWER_FIELDS = {"id", "version", "case_number", "report_id", "referral_id", "measure_id",
                              "measure_ids", "urging_id", "request_id", "seconds_since_report",
                              "seconds_since_referral", "code"}


def id_number(sequence: str) -> str:
    body = REGION_AND_BIRTH + sequence
    return body + ric.calc_check_digit(body + "0")


def bearer(district: District, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {district.tokens[who]}"}


def registration(name: str, number: str) -> bytes:
    """The exact bytes sent: what the old fingerprint was the SHA-256 of, and the attacker guesses."""
    return json.dumps({"street": "常青花园", "community": "常青一社区", "household_local": True,
                       "birth_date": BIRTH, "person": {"name": name, "id_number": number,
                                                       "address": "某路1号", "guardian": "王大明"}},
                      ensure_ascii=False).encode()


def visit(name: str) -> bytes:
    return json.dumps({"notes": f"走访{name}"}, ensure_ascii=False).encode()


def request_digest(path: str, body: bytes) -> str:
    """The fingerprint as interfaces/http/deps.py takes it (and the old ledger stored it)."""
    return hashlib.sha256(b"POST " + path.encode() + b"\n" + body).hexdigest()


def candidate_digests(case_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Hex digest -> the (name, ID number) it confirms, for every candidate and every plain
    digest the attacker might try: of the request, and of the name, the number and both."""
    found: dict[str, tuple[str, str]] = {}
    cases = list(case_ids)
    for name in NAMES:
        for case in cases:
            found[request_digest(f"/api/v1/cases/{case}/visits", visit(name))] = (name, "")
        for sequence in range(1000):
            number = id_number(f"{sequence:03d}")
            found[request_digest("/api/v1/cases", registration(name, number))] = (name, number)
            for text in (name, number, name + number, number + name, f"{name} {number}", f"{name},{number}"):
                for algorithm in ("sha256", "sha1", "md5"):
                    found[hashlib.new(algorithm, text.encode()).hexdigest()] = (name, number)
    return found


# ---- every byte a role can read, and the digests that can be found in it ------------------

HEX_RUN = re.compile(rb"[0-9a-fA-F]{32,}")
B64_RUN = re.compile(rb"[A-Za-z0-9+/_-]{16,}={0,2}")
DIGEST_HEX_LENGTHS = (32, 40, 64)


def readable_forms(blob: bytes, depth: int = 0) -> Iterator[str]:
    """Every 16-, 20- and 32-byte digest that can be read in ``blob``, as lowercase hex: in
    hex runs, and inside base64 (the leaves' states are base64 of JSON), at every offset."""
    for run in HEX_RUN.findall(blob):
        text = run.decode().lower()
        for width in DIGEST_HEX_LENGTHS:
            for start in range(len(text) - width + 1):
                yield text[start:start + width]
    if depth >= 2:
        return
    for run in B64_RUN.findall(blob):
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                decoded = decode(run + b"=" * (-len(run) % 4))
            except (binascii.Error, ValueError):
                continue
            yield from readable_forms(decoded, depth + 1)
            try:
                decoded.decode("utf-8")
            except UnicodeDecodeError:  # binary: a raw digest would sit at some offset
                for width in (16, 20, 32):
                    for start in range(len(decoded) - width + 1):
                        yield decoded[start:start + width].hex()


def unpacked(blob: bytes) -> list[bytes]:
    """A spreadsheet's parts (zip members) besides its own bytes."""
    if not blob.startswith(b"PK"):
        return [blob]
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        return [blob, *(archive.read(name) for name in archive.namelist())]


def fill(path: str, ids: dict[str, list[str]]) -> list[str]:
    """The path with each parameter replaced by each of its values (none if one is unknown)."""
    paths = [path]
    for name in re.findall(r"\{(\w+)\}", path):
        paths = [p.replace("{" + name + "}", value) for p in paths for value in ids.get(name, [])]
    return paths


def everything_readable(client: TestClient, district: District, ids: dict[str, list[str]]) -> list[bytes]:
    """What every role gets from every GET of the API (paths from the OpenAPI document, so a
    new endpoint is read too), every page, every inclusion proof of a kept answer, and /metrics."""
    spec = client.get("/openapi.json").json()
    paths = [p for p, ops in spec["paths"].items() if "get" in ops and p not in ("/metrics",)]
    filled = [f for p in paths for f in fill(p, ids)]
    assert {f"/api/v1/cases/{case}/events" for case in ids["case_id"]} | {
        "/api/v1/audit/events", "/api/v1/views/ledger.xlsx"} <= set(filled), "the walk reaches every case and the audit"
    extra = ["/api/v1/audit/events?limit=1000", "/api/v1/audit/events?limit=1000&type=Kept",
             "/api/v1/audit/late-entries?days=0&limit=1000", *fill("/issues/{issue_id}", ids), *PAGES]
    blobs: list[bytes] = []
    for who in ROLES:
        for path in [*filled, *extra]:
            answer = client.get(path, headers=bearer(district, who))
            assert answer.status_code < 500, (who, path, answer.status_code)
            blobs.extend(unpacked(answer.content))
    kept = client.get("/api/v1/audit/events?limit=1000&type=Kept", headers=bearer(district, "inspector")).json()
    assert kept, "the log holds kept answers"
    for event in kept:
        proof = client.get(f"/api/v1/audit/proofs/inclusion?position={event['position']}",
                           headers=bearer(district, "inspector"))
        blobs.append(proof.content)
    with TestClient(client.app, raise_server_exceptions=False, client=("127.0.0.1", 50000)) as local:
        metrics = local.get("/metrics")
        assert metrics.status_code == 200
        blobs.append(metrics.content)
    return blobs


def matches(blobs: Iterable[bytes], digests: dict[str, tuple[str, str]]) -> set[tuple[str, str]]:
    readable: set[str] = set()
    for blob in blobs:
        readable.update(readable_forms(blob))
    return {digests[d] for d in readable & digests.keys()}


def in_clear(blobs: Iterable[bytes], needles: Iterable[str]) -> set[str]:
    joined = b"\n".join(blobs)
    return {n for n in needles if n.encode() in joined}


# ---- the attack -------------------------------------------------------------------------------


def keep_plain_answer(ledger: Any, actor: Actor, key: str, digest: str, answer: dict[str, Any]) -> int:
    """An answer as the ledger kept it before fingerprints were keyed: the key as sent and the
    request's plain SHA-256 (the event class is the same; only what it holds differs)."""
    now = ledger.clock()
    stamp = Stamp.make(user=actor.name, unit=actor.unit, recorded_at=now)
    with recording_at(now):
        kept = CommandAnswer(**stamp.fields(), owner=actor.name, key=key, fingerprint=digest, answer=answer)
    return int(ledger.save(kept)[-1].notification.id)


def test_no_role_can_confirm_a_guessed_child_from_any_byte_before_or_after_erasure(
    client: TestClient, district: District, services: bootstrap.Services,
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    cq, sup = bearer(district, "cq-clerk"), bearer(district, "supervisor")
    json_type = {"Content-Type": "application/json"}
    answers: list[bytes] = []
    cases: list[str] = []
    plan = client.post("/api/v1/plans", headers={**sup, "Idempotency-Key": "plan-1"},
                       json={"number": "P-1", "title": "方案", "issuer_unit": "bgs", "year": 2019})
    issue = client.post("/api/v1/issues", headers={**sup, "Idempotency-Key": "issue-1"},
                        json={"plan_id": plan.json()["id"], "seq": 1, "duty": "职责", "problem": "问题", "units": ["sfs-cq"]})
    assert plan.status_code == issue.status_code == 201
    with capture_logs() as logs:
        for n, (name, sequence) in enumerate(CHILDREN):
            body = registration(name, id_number(sequence))
            headers = {**cq, **json_type, "Idempotency-Key": f"register-{n}"}
            first = client.post("/api/v1/cases", headers=headers, content=body)
            again = client.post("/api/v1/cases", headers=headers, content=body)
            assert first.status_code == again.status_code == 201 and first.json() == again.json()
            other = client.post("/api/v1/cases", headers=headers, content=registration(name, id_number("000")))
            assert other.status_code == 422
            case = first.json()["id"]
            cases.append(case)
            noted = client.post(f"/api/v1/cases/{case}/visits", content=visit(name),
                                headers={**cq, **json_type, "Idempotency-Key": f"visit-{n}"})
            reported = client.post(f"/api/v1/cases/{case}/mandatory-reports", headers={**cq, "Idempotency-Key": f"report-{n}"},
                                   json={"reporter": "school", "nature": "unattended", "details": f"{name}无人照看",
                                         "occurred_at": "2019-03-01T08:00:00+08:00"})
            referred = client.post(f"/api/v1/cases/{case}/referrals", headers={**sup, "Idempotency-Key": f"refer-{n}"},
                                   json={"unit": "gf", "duty": "法律援助"})
            assert noted.status_code == reported.status_code == referred.status_code == 201
            answers += [first.content, again.content, other.content, noted.content, reported.content, referred.content]

    digests = candidate_digests(cases)
    assert len({pair for pair in digests.values() if pair[1]}) >= 10_000
    secret = services.settings.idempotency_key_file.read_text().strip()
    people = [name for name, _ in CHILDREN] + [id_number(s) for _, s in CHILDREN] + ["王大明"]
    ids = {"case_id": cases, "issue_id": [issue.json()["id"]], "plan_id": [plan.json()["id"]], "year": ["2019"]}

    def server_log() -> list[bytes]:
        captured = capsys.readouterr()
        return [repr(logs).encode(), captured.out.encode(), captured.err.encode(), caplog.text.encode()]

    def attack() -> list[bytes]:
        blobs = [*answers, *everything_readable(client, district, ids), *server_log()]
        assert matches(blobs, digests) == set()
        assert in_clear(blobs, [secret, base64.b64decode(secret).hex()]) == set()
        return blobs

    attack()
    with capture_logs() as logs:
        for case in cases:
            erased = client.post(f"/api/v1/cases/{case}/erasure", headers=sup, json={"reason": "期满"})
            assert erased.status_code == 201
    readable_after = attack()
    assert in_clear(readable_after, people) == set()

    # Every kept answer in the log holds only keyed forms and no personal field.
    kept = services.ledger.recorder.select_notifications(start=1, limit=10_000, topics=[KEPT_TOPIC])
    assert len(kept) == 4 * len(CHILDREN) + 2
    for notification in kept:
        event = services.ledger.mapper.to_domain_event(notification)
        assert is_keyed(event.key) and is_keyed(event.fingerprint)
        assert set(event.answer) <= NON_PERSONAL_ANSWER_FIELDS
        assert in_clear([json.dumps(event.answer, ensure_ascii=False).encode()], people) == set()
    assert matches([bytes(n.state) for n in kept], digests) == set()

    # The control: the scan finds the first child the moment the old form is readable.
    name, sequence = CHILDREN[0]
    old_position = keep_plain_answer(
        services.ledger, district.actors["cq-clerk"], "register-before-upgrade",
        request_digest("/api/v1/cases", registration(name, id_number(sequence))), {"id": cases[0], "version": 1})
    stored = services.ledger.recorder.stored_at([old_position])[old_position]
    as_once_published = json.dumps({"leaf": leaf_fields_of(stored)}).encode()
    assert matches([as_once_published], digests) == {(name, id_number(sequence))}
    attack()  # and now that it is in the log, it is withheld everywhere


# ---- answers kept before keys were keyed ---------------------------------------------------


def test_an_answer_kept_before_keys_were_keyed_is_withheld_and_still_checks_by_its_leaf_hash(
    client: TestClient, district: District, services: bootstrap.Services, tmp_path: Path,
) -> None:
    cq, ins = bearer(district, "cq-clerk"), bearer(district, "inspector")
    name, sequence = CHILDREN[0]
    body = registration(name, id_number(sequence))
    first = client.post("/api/v1/cases", headers={**cq, "Content-Type": "application/json"}, content=body)
    assert first.status_code == 201
    plain = request_digest("/api/v1/cases", body)
    position = keep_plain_answer(services.ledger, district.actors["cq-clerk"], "old-key", plain,
                                 {"id": first.json()["id"], "version": 1, "case_number": first.json()["case_number"]})

    events = client.get("/api/v1/audit/events?limit=1000", headers=ins)
    assert events.status_code == 200
    entry = next(e for e in events.json() if e["position"] == position)
    stored = services.ledger.recorder.stored_at([position])[position]
    assert entry["leaf"] is None and entry["leaf_withheld"] is True
    assert entry["leaf_hash"] == leaf_of(stored).hex()
    assert plain not in events.text and "old-key" not in events.text
    assert not any(e["leaf_withheld"] for e in events.json() if e["position"] != position)

    # An outsider checks the withheld leaf by its hash alone, with VERIFYING.md's own script.
    head = client.get("/api/v1/audit/tree-head", headers=ins).json()
    proof = client.get(f"/api/v1/audit/proofs/inclusion?position={position}&tree_size={head['tree_size']}",
                       headers=ins).json()
    doc = (ROOT / "docs" / "VERIFYING.md").read_text(encoding="utf-8")
    script = re.findall(r"```python\n(.*?)```", doc, re.DOTALL)[0]
    (tmp_path / "check.py").write_text(script)
    for filename, content in (("event.json", entry), ("inclusion.json", proof), ("tree-head.json", head)):
        (tmp_path / filename).write_text(json.dumps(content))
    checked = subprocess.run([sys.executable, "check.py", "event.json", "inclusion.json", "tree-head.json"],
                             cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and checked.stdout.strip() == "proof holds", checked.stdout + checked.stderr
    (tmp_path / "event.json").write_text(json.dumps({**entry, "leaf_hash": "00" * 32}))
    forged = subprocess.run([sys.executable, "check.py", "event.json", "inclusion.json", "tree-head.json"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert forged.returncode == 1

    keys = Keyring.load(services.settings.signing_key_file, [])
    assert verify_log(services.ledger.recorder, merkle_store_for(services.ledger.factory.datastore), keys).intact  # type: ignore[attr-defined]


def test_a_retry_across_the_upgrade_gets_the_answer_kept_with_a_plain_digest(
    client: TestClient, district: District, services: bootstrap.Services,
) -> None:
    cq = {**bearer(district, "cq-clerk"), "Content-Type": "application/json"}
    name, sequence = CHILDREN[1]
    body = registration(name, id_number(sequence))
    first = client.post("/api/v1/cases", headers=cq, content=body)
    assert first.status_code == 201
    keep_plain_answer(services.ledger, district.actors["cq-clerk"], "sent-before-upgrade",
                      request_digest("/api/v1/cases", body),
                      {"id": first.json()["id"], "version": 1, "case_number": first.json()["case_number"]})
    size = services.ledger.recorder.max_notification_id()

    retry = client.post("/api/v1/cases", headers={**cq, "Idempotency-Key": "sent-before-upgrade"}, content=body)
    assert retry.status_code == 201 and retry.json() == first.json()
    different = client.post("/api/v1/cases", headers={**cq, "Idempotency-Key": "sent-before-upgrade"},
                            content=registration(name, id_number("000")))
    assert different.status_code == 422 and different.json()["type"].endswith("idempotency-key-reused")
    assert services.ledger.recorder.max_notification_id() == size


# ---- the server's key --------------------------------------------------------------------------


def test_the_idempotency_key_file_is_made_0600_and_a_retry_after_a_restart_gets_its_first_answer(
    settings: Any, clock: Any, district: District, client: TestClient,
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    path = settings.idempotency_key_file
    assert path.exists() and path.stat().st_mode & 0o777 == 0o600
    secret = path.read_text().strip()
    assert len(base64.b64decode(secret)) == 32
    sup = {**bearer(district, "supervisor"), "Idempotency-Key": "plan-once"}
    plan = {"number": "P-9", "title": "方案", "issuer_unit": "bgs", "year": 2019}
    with capture_logs() as logs:
        first = client.post("/api/v1/plans", headers=sup, json=plan)
    assert first.status_code == 201

    restarted = bootstrap.build(settings, clock=clock)  # another process, the same key file
    try:
        with TestClient(create_app(services=restarted), raise_server_exceptions=False) as other:
            again = other.post("/api/v1/plans", headers=sup, json=plan)
        assert again.status_code == 201 and again.json() == first.json()
    finally:
        restarted.close()
    assert path.read_text().strip() == secret
    captured = capsys.readouterr()
    text = repr(logs) + captured.out + captured.err + caplog.text
    assert secret not in text and base64.b64decode(secret).hex() not in text


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "idempotency-key"
    key = load_idempotency_key(path)
    assert load_idempotency_key(path) == key and path.stat().st_mode & 0o777 == 0o600
    os.chmod(path, 0o644)
    with pytest.raises(IdempotencyKeyError) as refused:
        load_idempotency_key(path)
    assert base64.b64encode(key).decode() not in str(refused.value)


@pytest.mark.parametrize("key, fingerprint", [
    ("k", "hmac-sha256:" + "0" * 64),
    ("hmac-sha256:" + "0" * 64, hashlib.sha256(b"POST /api/v1/cases\n{}").hexdigest()),
])
def test_the_ledger_never_keeps_a_plain_key_or_fingerprint(key: str, fingerprint: str) -> None:
    stamp = Stamp.make(user="u", unit="x", recorded_at=datetime.now(timezone.utc))
    with pytest.raises(ValueError):
        CommandAnswer.keep(stamp, owner="u", key=key, fingerprint=fingerprint,
                           answer={"id": str(UUID(int=1)), "version": 1})
