"""The Merkle math against RFC 9162 itself.

The verifiers and the reference tree hash (tests.rfc9162) are written from the RFC's
text, not from projections.merkle: an outsider's code, which the proofs careledger gives
must satisfy. Known answers are the Certificate Transparency
reference vectors (RFC 6962 trees are the same trees).
"""

from __future__ import annotations

import hashlib
from uuid import UUID

import pytest
from hypothesis import given, settings, strategies as st

from projections import merkle
from tests.rfc9162 import rfc_leaf, rfc_mth, rfc_verify_consistency, rfc_verify_inclusion

# ---- known answers -------------------------------------------------------------------

CT_ENTRIES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_LEAVES = [merkle.leaf_hash(e) for e in CT_ENTRIES]


def test_the_empty_tree_hashes_to_sha256_of_nothing() -> None:
    assert merkle.root([]).hex() == CT_ROOTS[0] == hashlib.sha256(b"").hexdigest()


def test_a_leaf_is_hashed_with_a_zero_byte_prefix() -> None:
    assert merkle.leaf_hash(b"").hex() == CT_ROOTS[1] == hashlib.sha256(b"\x00").hexdigest()


@pytest.mark.parametrize("size", range(9))
def test_roots_match_the_reference_vectors(size: int) -> None:
    assert merkle.root(CT_LEAVES[:size]).hex() == CT_ROOTS[size]


@pytest.mark.parametrize(
    ("index", "size", "path"),
    [
        (
            0,
            8,
            [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            [
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        (0, 1, []),
    ],
)
def test_inclusion_proofs_match_the_reference_vectors(
    index: int, size: int, path: list[str]
) -> None:
    assert [h.hex() for h in merkle.inclusion_proof(CT_LEAVES, index, size)] == path


@pytest.mark.parametrize(
    ("first", "second", "proof"),
    [
        (1, 1, []),
        (
            1,
            8,
            [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            [
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            [
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ],
)
def test_consistency_proofs_match_the_reference_vectors(
    first: int, second: int, proof: list[str]
) -> None:
    assert [h.hex() for h in merkle.consistency_proof(CT_LEAVES, first, second)] == proof


def test_proofs_outside_the_tree_are_refused() -> None:
    with pytest.raises(ValueError):
        merkle.inclusion_ranges(5, 5)
    with pytest.raises(ValueError):
        merkle.consistency_ranges(0, 5)
    with pytest.raises(ValueError):
        merkle.consistency_ranges(6, 5)
    with pytest.raises(ValueError):
        merkle.inclusion_proof(CT_LEAVES, 0, 9)


# ---- every proof of many trees, checked by the outsider ------------------------------


def entries(n: int) -> list[bytes]:
    return [f"event {i}".encode() for i in range(n)]


def flip(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


@pytest.mark.parametrize("n", range(1, 34))
def test_every_proof_of_small_trees_verifies(n: int) -> None:
    data = entries(n)
    leaves = [merkle.leaf_hash(e) for e in data]
    roots = [rfc_mth(data[:m]) for m in range(n + 1)]
    assert merkle.root(leaves) == roots[n]
    for i in range(n):
        path = merkle.inclusion_proof(leaves, i, n)
        assert rfc_verify_inclusion(i, n, rfc_leaf(data[i]), path, roots[n]), (i, n)
    for m in range(1, n):
        proof = merkle.consistency_proof(leaves, m, n)
        assert rfc_verify_consistency(m, n, roots[m], roots[n], proof), (m, n)
    assert merkle.consistency_proof(leaves, n, n) == []


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_inclusion_proofs_verify_and_alterations_do_not(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 300), label="tree_size")
    i = data.draw(st.integers(0, n - 1), label="leaf_index")
    items = entries(n)
    leaves = [merkle.leaf_hash(e) for e in items]
    root_n = rfc_mth(items)
    path = merkle.inclusion_proof(leaves, i, n)
    leaf = rfc_leaf(items[i])

    assert rfc_verify_inclusion(i, n, leaf, path, root_n)

    # Another entry at the same place, or this entry claimed at another place.
    assert not rfc_verify_inclusion(i, n, rfc_leaf(items[i] + b"!"), path, root_n)
    if n > 1:
        other = data.draw(st.integers(0, n - 1).filter(lambda j: j != i), label="other_index")
        assert not rfc_verify_inclusion(other, n, leaf, path, root_n)
    # The proof bent, shortened or lengthened.
    if path:
        j = data.draw(st.integers(0, len(path) - 1), label="altered_element")
        bit = data.draw(st.integers(0, 7), label="bit")
        assert not rfc_verify_inclusion(
            i, n, leaf, [*path[:j], flip(path[j], bit), *path[j + 1 :]], root_n
        )
        assert not rfc_verify_inclusion(i, n, leaf, path[:-1], root_n)
    assert not rfc_verify_inclusion(i, n, leaf, [*path, leaves[0]], root_n)
    # The proof offered for a tree of another size, against that tree's real root.
    other_size = data.draw(st.integers(i + 1, 301).filter(lambda s: s != n), label="other_size")
    assert not rfc_verify_inclusion(i, other_size, leaf, path, rfc_mth(entries(other_size)))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_consistency_proofs_verify_and_alterations_do_not(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 300), label="second")
    m = data.draw(st.integers(1, n - 1), label="first")
    items = entries(n)
    leaves = [merkle.leaf_hash(e) for e in items]
    root_m, root_n = rfc_mth(items[:m]), rfc_mth(items)
    proof = merkle.consistency_proof(leaves, m, n)

    assert rfc_verify_consistency(m, n, root_m, root_n, proof)

    # A rewritten history: the old tree had other content than this log's prefix.
    k = data.draw(st.integers(0, m - 1), label="rewritten_entry")
    forged_old = rfc_mth([*items[:k], items[k] + b"!", *items[k + 1 : m]])
    assert not rfc_verify_consistency(m, n, forged_old, root_n, proof)
    assert not rfc_verify_consistency(m, n, root_m, flip(root_n), proof)
    j = data.draw(st.integers(0, len(proof) - 1), label="altered_element")
    bit = data.draw(st.integers(0, 7), label="bit")
    assert not rfc_verify_consistency(
        m, n, root_m, root_n, [*proof[:j], flip(proof[j], bit), *proof[j + 1 :]]
    )
    assert not rfc_verify_consistency(m, n, root_m, root_n, proof[:-1])
    assert not rfc_verify_consistency(m, n, root_m, root_n, [*proof, leaves[0]])
    # The proof offered between other sizes, against those trees' real roots.
    other_m = (
        data.draw(st.integers(1, n - 1).filter(lambda s: s != m), label="other_first")
        if n > 2
        else None
    )
    if other_m is not None:
        assert not rfc_verify_consistency(other_m, n, rfc_mth(items[:other_m]), root_n, proof)
    other_n = data.draw(st.integers(m + 1, 301).filter(lambda s: s != n), label="other_second")
    assert not rfc_verify_consistency(m, other_n, root_m, rfc_mth(entries(other_n)), proof)


# ---- the growing tree and proofs from stored subtrees --------------------------------


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.data())
def test_proofs_from_completed_subtrees_equal_proofs_from_leaves(
    n: int, data: st.DataObject
) -> None:
    items = entries(n)
    leaves = [merkle.leaf_hash(e) for e in items]
    frontier = merkle.Frontier()
    stored: dict[merkle.Subtree, bytes] = {}
    for index, leaf in enumerate(leaves):
        stored[(0, index)] = leaf
        for done in frontier.append(leaf):
            stored[(done.level, done.index)] = done.hash
            size = 1 << done.level
            assert done.hash == rfc_mth(items[done.index * size : (done.index + 1) * size])
        assert frontier.root() == rfc_mth(items[: index + 1])

    m = data.draw(st.integers(1, n), label="tree_size")
    i = data.draw(st.integers(0, m - 1), label="leaf_index")
    ranges = merkle.inclusion_ranges(i, m)
    assert merkle.subtrees_for(ranges) <= stored.keys()
    assert merkle.proof_from_subtrees(ranges, stored) == merkle.inclusion_proof(leaves, i, m)
    first = data.draw(st.integers(1, m), label="first")
    ranges = merkle.consistency_ranges(first, m)
    assert merkle.proof_from_subtrees(ranges, stored) == merkle.consistency_proof(leaves, first, m)


def test_a_frontier_resumes_from_its_bytes() -> None:
    leaves = [merkle.leaf_hash(e) for e in entries(45)]
    whole = merkle.Frontier()
    for leaf in leaves[:27]:
        whole.append(leaf)
    resumed = merkle.Frontier.from_bytes(27, whole.to_bytes())
    for leaf in leaves[27:]:
        whole.append(leaf)
        resumed.append(leaf)
    assert resumed.size == 45
    assert resumed.root() == whole.root() == merkle.root(leaves)
    with pytest.raises(ValueError):
        merkle.Frontier.from_bytes(28, whole.to_bytes())


def test_appending_a_leaf_costs_a_carry_not_a_recomputation() -> None:
    # Not a benchmark: it counts the node hashes done. A tree of 2**k leaves has 2**k - 1
    # nodes; each is hashed once however often the root is asked for on the way.
    frontier = merkle.Frontier()
    completed = 0
    leaf = merkle.leaf_hash(b"x")
    for _ in range(1 << 17):
        completed += len(frontier.append(leaf))
        frontier.root()
    assert completed == (1 << 17) - 1
    assert len(frontier.to_bytes()) == merkle.HASH_SIZE


# ---- the bytes careledger hashes and signs -------------------------------------------


def test_the_canonical_leaf_is_sorted_compact_json_of_the_stored_event() -> None:
    leaf = merkle.canonical_leaf(
        UUID("0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0"),
        3,
        "domain.issue:整改问题.Created",
        b"\x00\xffhi",
        42,
    )
    assert (
        leaf
        == (
            '{"aggregate_id":"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0","position":42,'
            '"state":"AP9oaQ==","topic":"domain.issue:整改问题.Created","version":3}'
        ).encode()
    )


def test_the_tree_head_message_is_sorted_compact_json() -> None:
    assert merkle.tree_head_message(7, "ab" * 32, "2026-01-02T03:04:05.000Z") == (
        b'{"root_hash":"' + b"ab" * 32 + b'","timestamp":"2026-01-02T03:04:05.000Z","tree_size":7}'
    )
