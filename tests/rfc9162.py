"""An outsider's RFC 9162: the tree hash, and the proof verifiers, written from the RFC's
text (2.1.1, 2.1.3.2, 2.1.4.2) and sharing no code with projections.merkle, so that the
tests hold careledger's proofs to what any other implementation would accept."""

from __future__ import annotations

import hashlib


def rfc_hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def rfc_leaf(entry: bytes) -> bytes:
    return rfc_hash(b"\x00" + entry)


def rfc_mth(entries: list[bytes]) -> bytes:
    """MTH(D[n]) of 2.1.1, by its recursive definition."""
    n = len(entries)
    if n == 0:
        return rfc_hash(b"")
    if n == 1:
        return rfc_leaf(entries[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return rfc_hash(b"\x01" + rfc_mth(entries[:k]) + rfc_mth(entries[k:]))


def rfc_verify_inclusion(
    leaf_index: int, tree_size: int, leaf_hash: bytes, inclusion_path: list[bytes], root_hash: bytes
) -> bool:
    """2.1.3.2, step by step."""
    if leaf_index >= tree_size:
        return False
    fn, sn = leaf_index, tree_size - 1
    r = leaf_hash
    for p in inclusion_path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = rfc_hash(b"\x01" + p + r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = rfc_hash(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def rfc_verify_consistency(
    first: int, second: int, first_hash: bytes, second_hash: bytes, consistency_path: list[bytes]
) -> bool:
    """2.1.4.2, step by step, for 0 < first < second (2.1.4's domain of PROOF)."""
    if not 0 < first < second:
        return False
    path = list(consistency_path)
    if not path:
        return False
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = rfc_hash(b"\x01" + c + fr)
            sr = rfc_hash(b"\x01" + c + sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = rfc_hash(b"\x01" + sr + c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0
