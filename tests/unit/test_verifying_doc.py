"""docs/VERIFYING.md's worked example still holds: its numbers are the code's, and its
stand-alone Python checker accepts the code's proofs and refuses altered ones."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from infrastructure.signing import SignatureVerifier
from projections import merkle
from projections.merkle_log import TreeHead

DOC = (Path(__file__).parents[2] / "docs" / "VERIFYING.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, re.DOTALL)


LEAF, HEAD, INCLUSION, CONSISTENCY = (json.loads(b) for b in blocks("json"))
LEAF_HASHES = [
    bytes.fromhex(h)
    for h in re.findall(r"^\| \d \| \d \| .*? \| `([0-9a-f]{64})` \|$", DOC, re.MULTILINE)
]
PEM = re.search(r"-----BEGIN PUBLIC KEY-----\n.*?\n-----END PUBLIC KEY-----\n", DOC, re.DOTALL)


@pytest.fixture(scope="module")
def checker() -> dict[str, Any]:
    source = blocks("python")[0]
    # The script's functions, without running its command line at the bottom.
    namespace: dict[str, Any] = {}
    exec(source.split("# python3 check.py")[0], namespace)  # noqa: S102 - our own document
    return namespace


def test_the_example_leaf_hashes_as_the_doc_says() -> None:
    assert len(LEAF_HASHES) == 6
    assert merkle.leaf_hash(merkle.encode_leaf(LEAF)) == LEAF_HASHES[2]
    assert INCLUSION["leaf_hash"] == LEAF_HASHES[2].hex()
    assert merkle.encode_leaf(LEAF).decode() in DOC


def test_the_example_head_is_the_root_of_the_six_leaves_and_signed() -> None:
    assert PEM is not None
    head = TreeHead.from_json(HEAD)
    assert head.root_hash == merkle.root(LEAF_HASHES)
    assert SignatureVerifier.from_pem(PEM.group(0)).verify(head.message(), head.signature)
    assert head.message().decode() in DOC


def test_the_example_proofs_are_the_codes() -> None:
    path = merkle.inclusion_proof(LEAF_HASHES, 2, 6)
    assert [h.hex() for h in path] == INCLUSION["audit_path"]
    proof = merkle.consistency_proof(LEAF_HASHES, 2, 6)
    assert [h.hex() for h in proof] == CONSISTENCY["proof"]
    assert CONSISTENCY["first_root_hash"] == merkle.root(LEAF_HASHES[:2]).hex()


def test_the_docs_checker_accepts_every_proof_and_refuses_altered_ones(
    checker: dict[str, Any],
) -> None:
    leaves = [merkle.leaf_hash(f"e{i}".encode()) for i in range(40)]
    for n in range(1, 41):
        root = merkle.root(leaves[:n])
        for i in range(n):
            path = merkle.inclusion_proof(leaves, i, n)
            assert checker["verify_inclusion"](i, n, leaves[i], path, root)
            assert not checker["verify_inclusion"](i, n, leaves[(i + 1) % 40], path, root)
        for m in range(1, n + 1):
            proof = merkle.consistency_proof(leaves, m, n)
            old = merkle.root(leaves[:m])
            assert checker["verify_consistency"](m, n, old, root, proof)
            if m < n:
                assert not checker["verify_consistency"](
                    m, n, bytes([old[0] ^ 1]) + old[1:], root, proof
                )
    assert checker["leaf_hash"](LEAF) == LEAF_HASHES[2]
