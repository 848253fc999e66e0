"""What the Merkle log proves: inclusion and consistency proofs, read from the stored log
(``merkle_log``) and never recomputed from the events."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from projections import merkle
from projections.merkle_log import Leaf, MerkleLogStore, TreeHead


class NotLogged(LookupError):
    """No event at this position is in the log (yet)."""


class BadTreeSize(ValueError):
    """The tree sizes asked for do not make a proof against this log."""


@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    leaf_hash: bytes
    tree_size: int
    root_hash: bytes
    audit_path: list[bytes]

    def as_json(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "leaf_hash": self.leaf_hash.hex(),
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "audit_path": [h.hex() for h in self.audit_path],
        }


@dataclass(frozen=True)
class ConsistencyProof:
    first: int
    second: int
    first_root: bytes
    second_root: bytes
    proof: list[bytes]

    def as_json(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "second": self.second,
            "first_root_hash": self.first_root.hex(),
            "second_root_hash": self.second_root.hex(),
            "proof": [h.hex() for h in self.proof],
        }


class MerkleLogReader:
    """Answers the audit endpoints from the stored log, never recomputing it."""

    def __init__(self, store: MerkleLogStore) -> None:
        self.store = store

    def tree_head(self) -> TreeHead | None:
        return self.store.latest_head()

    def leaves_at(self, positions: Iterable[int]) -> dict[int, Leaf]:
        return self.store.leaves_at(positions)

    def inclusion_proof(self, position: int, tree_size: int | None = None) -> InclusionProof:
        """The audit path of the event at ``position`` in the tree of ``tree_size`` leaves
        (by default the latest signed head's)."""
        leaf = self.store.leaves_at([position]).get(position)
        if leaf is None:
            raise NotLogged(f"no event at position {position} is in the log")
        if tree_size is None:
            head = self.store.latest_head()
            tree_size = head.tree_size if head else 0
        self._check_size(tree_size)
        if leaf.leaf_index >= tree_size:
            raise BadTreeSize(
                f"the event at position {position} is leaf {leaf.leaf_index}, "
                f"not in a tree of {tree_size} leaves"
            )
        ranges = merkle.inclusion_ranges(leaf.leaf_index, tree_size)
        path = self._hashes(ranges)
        return InclusionProof(
            leaf.leaf_index, leaf.leaf_hash, tree_size, self._root(tree_size), path
        )

    def consistency_proof(self, first: int, second: int) -> ConsistencyProof:
        if not 0 < first <= second:
            raise BadTreeSize(f"no consistency proof from size {first} to size {second}")
        self._check_size(second)
        proof = self._hashes(merkle.consistency_ranges(first, second))
        return ConsistencyProof(first, second, self._root(first), self._root(second), proof)

    def _check_size(self, tree_size: int) -> None:
        logged = self.store.progress().tree_size
        if not 0 <= tree_size <= logged:
            raise BadTreeSize(f"the log holds {logged} leaves, not {tree_size}")

    def _root(self, tree_size: int) -> bytes:
        if tree_size == 0:
            return merkle.EMPTY_ROOT
        return self._hashes([(0, tree_size)])[0]

    def _hashes(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        found = self.store.subtrees(merkle.subtrees_for(ranges))
        return merkle.proof_from_subtrees(ranges, found)
