"""The Merkle log on both backends: what it stores, what it proves, and how it resumes.

Proofs are checked with tests.rfc9162, an outsider's verifier that shares no code with
the log, against the roots of heads checked with the published public key.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from infrastructure.merkle_runner import MerkleLogRunner
from infrastructure.signing import SignatureVerifier
from infrastructure.verify import verify_log
from projections import merkle
from projections.merkle_log import LogMoved, TreeHead
from projections.merkle_proofs import BadTreeSize, MerkleLogReader, NotLogged
from tests.backends import scratch_schema
from tests.integration.merkle_logs import Counter, SmallLog, record_events, small_log
from tests.rfc9162 import rfc_leaf, rfc_verify_consistency, rfc_verify_inclusion

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SmallLog]:
    if request.param == "sqlite":
        with small_log("sqlite", tmp_path) as built:
            yield built
        return
    url = request.getfixturevalue("postgres_database")
    with scratch_schema(url) as schema, small_log("postgres", tmp_path, (url, schema)) as built:
        yield built


def published_heads(log: SmallLog) -> dict[int, TreeHead]:
    """Every head, as an outsider takes it: from JSON, checked with the public PEM."""
    key = SignatureVerifier.from_pem(log.signer.public_key_pem())
    heads = {}
    for head in log.store.heads(0, 1000):
        received = TreeHead.from_json(head.as_json())
        assert key.verify(received.message(), received.signature)
        heads[received.tree_size] = received
    return heads


def test_every_proof_the_log_gives_verifies_against_its_signed_heads(log: SmallLog) -> None:
    record_events(log, aggregates=4, counts=4)
    reader = MerkleLogReader(log.store)
    heads = published_heads(log)
    notifications = log.recorder.select_notifications(None, 100)
    assert sorted(heads) == list(range(1, 21))

    for size, head in heads.items():
        for index, n in enumerate(notifications[:size]):
            proof = reader.inclusion_proof(n.id, size)
            entry = merkle.canonical_leaf(
                n.originator_id, n.originator_version, n.topic, n.state, n.id
            )
            assert proof.leaf_index == index
            assert proof.leaf_hash == rfc_leaf(entry)
            assert proof.root_hash == head.root_hash
            assert rfc_verify_inclusion(
                index, size, rfc_leaf(entry), proof.audit_path, head.root_hash
            )
        for first in range(1, size):
            proof = reader.consistency_proof(first, size)
            assert rfc_verify_consistency(
                first, size, heads[first].root_hash, head.root_hash, proof.proof
            )


def test_an_altered_proof_or_leaf_fails_the_outsiders_check(log: SmallLog) -> None:
    record_events(log)
    reader = MerkleLogReader(log.store)
    head = log.store.latest_head()
    assert head is not None
    position = log.positions()[5]
    proof = reader.inclusion_proof(position)
    assert proof.tree_size == head.tree_size == 12
    assert rfc_verify_inclusion(5, 12, proof.leaf_hash, proof.audit_path, head.root_hash)
    bent = [
        proof.audit_path[0],
        bytes([proof.audit_path[1][0] ^ 1]) + proof.audit_path[1][1:],
        *proof.audit_path[2:],
    ]
    assert not rfc_verify_inclusion(5, 12, proof.leaf_hash, bent, head.root_hash)
    assert not rfc_verify_inclusion(
        5, 12, merkle.leaf_hash(b"another event"), proof.audit_path, head.root_hash
    )
    assert not rfc_verify_inclusion(6, 12, proof.leaf_hash, proof.audit_path, head.root_hash)


def test_a_changed_head_fails_its_signature(log: SmallLog) -> None:
    record_events(log)
    head = log.store.latest_head()
    assert head is not None
    key = SignatureVerifier.from_pem(log.signer.public_key_pem())
    answer = head.as_json()
    assert key.verify(
        merkle.tree_head_message(answer["tree_size"], answer["root_hash"], answer["timestamp"]),
        base64.b64decode(answer["signature"]),
    )
    for changed in (
        {**answer, "tree_size": answer["tree_size"] + 1},
        {**answer, "root_hash": "00" * 32},
        {**answer, "timestamp": "2030-01-01T00:00:00.000Z"},
    ):
        received = TreeHead.from_json(changed)
        assert not key.verify(received.message(), received.signature)


def test_proofs_outside_the_log_are_refused(log: SmallLog) -> None:
    record_events(log, aggregates=1, counts=2)
    reader = MerkleLogReader(log.store)
    positions = log.positions()
    with pytest.raises(NotLogged):
        reader.inclusion_proof(positions[-1] + 1)
    with pytest.raises(BadTreeSize):
        reader.inclusion_proof(positions[2], 2)
    with pytest.raises(BadTreeSize):
        reader.inclusion_proof(positions[0], 4)
    with pytest.raises(BadTreeSize):
        reader.consistency_proof(0, 3)
    with pytest.raises(BadTreeSize):
        reader.consistency_proof(2, 4)
    assert reader.consistency_proof(3, 3).proof == []


def test_the_first_catch_up_signs_the_empty_tree(log: SmallLog) -> None:
    head = log.projection.catch_up()
    assert head is not None
    assert (head.tree_size, head.root_hash) == (0, merkle.EMPTY_ROOT)
    assert log.projection.catch_up() == head


def test_a_restarted_projection_resumes_and_folds_nothing_twice(log: SmallLog) -> None:
    record_events(log, aggregates=2, counts=1)
    for _ in range(5):
        log.app.save(Counter(name="more"))
    restarted = log.fresh_projection()
    restarted.batch_size = 2
    head = restarted.catch_up()
    assert head is not None and head.tree_size == 9
    assert log.fresh_projection().catch_up() == head
    assert [x.position for x in log.store.leaves(0, 100)] == log.positions()
    assert verify_log(log.recorder, log.store, log.signer.public_key).intact


def test_a_writer_that_read_stale_tracking_is_turned_away(log: SmallLog) -> None:
    record_events(log, aggregates=1, counts=0)
    stale = log.store.progress()
    log.app.save(Counter(name="raced"))
    log.fresh_projection().catch_up()
    with pytest.raises(LogMoved):
        log.store.append(stale, [], [], stale)
    assert log.store.progress().tree_size == 2


def test_the_runner_signs_a_head_for_new_events_when_woken(log: SmallLog) -> None:
    # An interval far beyond the test's length: only the wake-up can make the head.
    runner = MerkleLogRunner(log.projection, interval=3600).start()
    try:
        assert runner.wait(0, timeout=10)
        recordings = log.app.save(Counter(name="woken"))
        position = recordings[-1].notification.id
        assert runner.wait(position, timeout=10)
        head = log.store.latest_head()
        assert head is not None and head.tree_size == 1
    finally:
        runner.stop()
