"""Merkle tree math of RFC 9162 section 2.1, and the bytes careledger hashes and signs.

Everything here is pure: hashes in, hashes out. The tree over ``n`` leaves splits at
``k``, the largest power of two below ``n``; so every node of it covers a range
``[start, end)`` whose left part is a perfect, aligned subtree. That is what lets the
log keep only perfect subtrees (``Frontier`` emits them as they complete) and still
answer any proof: a proof is a list of ranges (``inclusion_ranges``,
``consistency_ranges``), and each range's hash folds from a few perfect subtrees
(``perfect_subtrees``, ``range_hash``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

# A perfect subtree: (level, index) covers leaves [index * 2**level, (index + 1) * 2**level).
Subtree = tuple[int, int]


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly less than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over already-hashed leaves."""
    if not leaf_hashes:
        return EMPTY_ROOT
    frontier = Frontier()
    for h in leaf_hashes:
        frontier.append(h)
    return frontier.root()


# ---- proofs as ranges of leaves ------------------------------------------------------


def inclusion_ranges(index: int, tree_size: int) -> list[tuple[int, int]]:
    """The ranges whose hashes form PATH(index, D[tree_size]), in proof order (leaf first)."""
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf index {index} is outside a tree of size {tree_size}")
    ranges: list[tuple[int, int]] = []
    start, end = 0, tree_size
    # Walk down from the root, collecting the sibling of each node on the way; the RFC
    # lists them from the leaf up, so the walk's order is reversed at the end.
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start = start + k
    ranges.reverse()
    return ranges


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The ranges whose hashes form PROOF(first, D[second]) (RFC 9162 2.1.4.1)."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    ranges: list[tuple[int, int]] = []
    start, end, m = 0, second, first
    # SUBPROOF(m, D[start:end], b), unrolled: b stays true while m sits on the left edge.
    whole_old_tree_known = True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m = start + k, m - k
            whole_old_tree_known = False
    if not whole_old_tree_known:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def perfect_subtrees(start: int, end: int) -> list[Subtree]:
    """The perfect aligned subtrees whose fold from the right is MTH(D[start:end]).

    Valid for the ranges of a proof: each begins at a multiple of a power of two at
    least as large as the range, so it decomposes by the binary digits of its size.
    """
    size = end - start
    if size <= 0:
        raise ValueError("empty range")
    parts: list[Subtree] = []
    offset = start
    for level in range(size.bit_length() - 1, -1, -1):
        if size & (1 << level):
            if offset % (1 << level):
                raise ValueError(f"[{start}, {end}) is not a node of an RFC 9162 tree")
            parts.append((level, offset >> level))
            offset += 1 << level
    return parts


def range_hash(start: int, end: int, subtree: Callable[[Subtree], bytes]) -> bytes:
    parts = [subtree(s) for s in perfect_subtrees(start, end)]
    acc = parts[-1]
    for left in reversed(parts[:-1]):
        acc = node_hash(left, acc)
    return acc


def subtrees_for(ranges: Iterable[tuple[int, int]]) -> set[Subtree]:
    """Every perfect subtree a store must look up to answer a proof over ``ranges``."""
    return {s for start, end in ranges for s in perfect_subtrees(start, end)}


def proof_from_subtrees(
    ranges: Sequence[tuple[int, int]], subtrees: Mapping[Subtree, bytes]
) -> list[bytes]:
    return [range_hash(start, end, subtrees.__getitem__) for start, end in ranges]


def _proof_from_leaves(
    leaf_hashes: Sequence[bytes], ranges: Sequence[tuple[int, int]]
) -> list[bytes]:
    return [root(leaf_hashes[start:end]) for start, end in ranges]


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, tree_size: int) -> list[bytes]:
    if tree_size > len(leaf_hashes):
        raise ValueError(f"tree size {tree_size} exceeds the {len(leaf_hashes)} leaves given")
    return _proof_from_leaves(leaf_hashes, inclusion_ranges(index, tree_size))


def consistency_proof(leaf_hashes: Sequence[bytes], m: int, n: int) -> list[bytes]:
    if n > len(leaf_hashes):
        raise ValueError(f"tree size {n} exceeds the {len(leaf_hashes)} leaves given")
    return _proof_from_leaves(leaf_hashes, consistency_ranges(m, n))


# ---- the growing tree ----------------------------------------------------------------


@dataclass(frozen=True)
class CompletedSubtree:
    level: int
    index: int
    hash: bytes


class Frontier:
    """The roots of the perfect subtrees that make up a tree of ``size`` leaves.

    One root per set bit of ``size``, largest first: appending a leaf merges equal-sized
    subtrees like a binary carry, so it costs O(log n) and the root costs O(log n).
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != size.bit_count():
            raise ValueError(
                f"a tree of size {size} has {size.bit_count()} full subtrees, not {len(hashes)}"
            )
        self.size = size
        self._hashes = list(hashes)

    def append(self, leaf: bytes) -> list[CompletedSubtree]:
        """Adds a leaf hash; answers the subtrees of level >= 1 that it completes."""
        completed: list[CompletedSubtree] = []
        acc, level, index = leaf, 0, self.size
        while index & 1:
            acc = node_hash(self._hashes.pop(), acc)
            level, index = level + 1, index >> 1
            completed.append(CompletedSubtree(level, index, acc))
        self._hashes.append(acc)
        self.size += 1
        return completed

    def push(self, leaf: bytes, completed: Callable[[int, int, bytes], None]) -> None:
        """``append`` without building its list: each subtree completed is handed to
        ``completed(level, index, hash)`` (the verifier's walk, once per stored node)."""
        acc, level, index = leaf, 0, self.size
        hashes = self._hashes
        while index & 1:
            acc = node_hash(hashes.pop(), acc)
            level, index = level + 1, index >> 1
            completed(level, index, acc)
        hashes.append(acc)
        self.size += 1

    def extend(self, leaves: Iterable[bytes], levels: list[list[tuple[int, bytes]]]) -> None:
        """``push`` for many leaves: each subtree completed goes to ``levels[level]`` as
        ``(index, hash)`` (the verifier compares them a level at a time, not one a call)."""
        hashes, size, sha256 = self._hashes, self.size, hashlib.sha256
        pop, keep = hashes.pop, hashes.append
        for acc in leaves:
            level, index = 0, size
            while index & 1:
                acc = sha256(b"\x01" + pop() + acc).digest()
                level, index = level + 1, index >> 1
                levels[level].append((index, acc))
            keep(acc)
            size += 1
        self.size = size

    def root(self) -> bytes:
        if not self._hashes:
            return EMPTY_ROOT
        acc = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            acc = node_hash(left, acc)
        return acc

    def to_bytes(self) -> bytes:
        return b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> Frontier:
        if len(data) % HASH_SIZE:
            raise ValueError("a frontier is a whole number of hashes")
        return cls(size, [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)])

    def copy(self) -> Frontier:
        return Frontier(self.size, self._hashes)


# ---- what careledger hashes and signs ------------------------------------------------


def leaf_fields(
    aggregate_id: UUID, version: int, topic: str, state: bytes, position: int
) -> dict[str, Any]:
    """The JSON object a leaf encodes: what the database holds for one event, and where.

    Published as is (the state as base64, ciphertext and all), so that an outsider can
    re-encode it and hash it without knowing anything of the events' meaning."""
    return {
        "aggregate_id": str(aggregate_id),
        "position": position,
        "state": base64.b64encode(state).decode("ascii"),
        "topic": topic,
        "version": version,
    }


def canonical_leaf(
    aggregate_id: UUID, version: int, topic: str, state: bytes, position: int
) -> bytes:
    """The leaf bytes of one stored event: its ``leaf_fields`` as sorted, compact JSON."""
    return encode_leaf(leaf_fields(aggregate_id, version, topic, state, position))


@functools.lru_cache(maxsize=4096)
def _json_text(text: str) -> bytes:
    return json.dumps(text, ensure_ascii=False).encode("utf-8")


def stored_leaf_hash(
    aggregate_id: UUID, version: int, topic: str, state: bytes, position: int
) -> bytes:
    """``leaf_hash(canonical_leaf(...))`` without building the dict and JSON-encoding it:
    the leaf's keys are fixed and its values need no escaping except the topic, so the
    bytes are laid out directly (the verifier hashes every stored event this way).

    Values of any other type than the stored columns' (a tampered SQLite row can hold
    anything) take the general encoding, so the bytes are always ``canonical_leaf``'s."""
    if type(version) is int and type(position) is int and type(state) is bytes and type(topic) is str:
        return hashlib.sha256(
            b'\x00{"aggregate_id":"%s","position":%d,"state":"%s","topic":%s,"version":%d}'
            % (str(aggregate_id).encode("ascii"), position, base64.b64encode(state),
               _json_text(topic), version)
        ).digest()
    return leaf_hash(canonical_leaf(aggregate_id, version, topic, state, position))


def stored_leaf_hashes(rows: Sequence[tuple[int, str, int, str, bytes]]) -> list[bytes] | None:
    """``stored_leaf_hash`` of many ``(position, aggregate id as canonical text, version,
    topic, state)`` rows in one comprehension; None when a row holds a value of another
    type than the stored columns' (the caller then takes them one by one)."""
    for row in rows:
        if not (type(row[0]) is int and type(row[2]) is int and type(row[4]) is bytes and type(row[3]) is str):
            return None
    sha256, b64 = hashlib.sha256, base64.b64encode
    texts: dict[str, bytes] = {}
    for row in rows:
        if row[3] not in texts:
            texts[row[3]] = _json_text(row[3])
    return [
        sha256(b'\x00{"aggregate_id":"%s","position":%d,"state":"%s","topic":%s,"version":%d}'
               % (aggregate_id.encode("ascii"), position, b64(state), texts[topic], version)).digest()
        for position, aggregate_id, version, topic, state in rows
    ]


def encode_leaf(fields: Mapping[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def tree_head_message(tree_size: int, root_hash_hex: str, timestamp_iso: str) -> bytes:
    """The bytes a tree head's Ed25519 signature covers (API.md, Audit)."""
    return json.dumps(
        {"root_hash": root_hash_hex, "timestamp": timestamp_iso, "tree_size": tree_size},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")
