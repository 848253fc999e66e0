"""The audit index and the Merkle log read from a hot standby's copy of their tables
(infrastructure.read_replica), written and followed on the primary only.

A read goes to the standby when the standby's copy has reached the position the primary's
holds at that moment (its tracking row; for the Merkle log also its latest signed head), waiting for it up to the router's wait: an
audit page or proof that follows a catch-up on the primary then shows everything the
primary had, and each later read is at least as recent as the earlier ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from infrastructure.merkle_store import MerkleStore
from infrastructure.read_replica import ReadRouter
from projections.audit_index import AuditFilter, AuditIndexStore, AuditRow
from projections.merkle import CompletedSubtree, Subtree
from projections.merkle_log import Leaf, LeafRow, MerkleLogStore, Progress, StoredRow, TreeHead

T = TypeVar("T")


class RoutedAuditStore(AuditIndexStore):
    def __init__(self, primary: AuditIndexStore, replica: AuditIndexStore, router: ReadRouter) -> None:
        self.primary, self.replica, self.router = primary, replica, router

    def create_tables(self) -> None:
        self.primary.create_tables()

    def position(self) -> int:
        return self.primary.position()

    def append(self, before: int, rows: Sequence[AuditRow], after: int) -> None:
        self.primary.append(before, rows, after)

    def query(self, where: AuditFilter) -> list[AuditRow]:
        needed = self.primary.position()
        return self.router.read(lambda: self.replica.position() >= needed,
                                lambda: self.replica.query(where), lambda: self.primary.query(where), wait=True)


class RoutedMerkleStore(MerkleLogStore):
    """What the proofs read (projections.merkle_proofs.MerkleLogReader); its progress, the
    writes and the verifier's walk over the events stay on the primary."""

    def __init__(self, primary: MerkleStore, replica: MerkleStore, router: ReadRouter) -> None:
        self.primary, self.replica, self.router = primary, replica, router

    def _read(self, read: Callable[[MerkleLogStore], T]) -> T:
        position, head = self.primary.mark()

        def reached() -> bool:
            there = self.replica.mark()
            return there[0] >= position and there[1] >= head

        return self.router.read(reached, lambda: read(self.replica), lambda: read(self.primary), wait=True)

    def create_tables(self) -> None:
        self.primary.create_tables()

    def progress(self) -> Progress:
        return self.primary.progress()

    def append(self, before: Progress, leaves: Sequence[Leaf], subtrees: Sequence[CompletedSubtree],
               after: Progress) -> None:
        self.primary.append(before, leaves, subtrees, after)

    def add_head(self, head: TreeHead) -> None:
        self.primary.add_head(head)

    def latest_head(self) -> TreeHead | None:
        return self._read(lambda store: store.latest_head())

    def head(self, tree_size: int) -> TreeHead | None:
        return self._read(lambda store: store.head(tree_size))

    def heads(self, min_size: int, limit: int) -> Sequence[TreeHead]:
        return self._read(lambda store: store.heads(min_size, limit))

    def leaves(self, start_index: int, limit: int) -> Sequence[Leaf]:
        return self._read(lambda store: store.leaves(start_index, limit))

    def leaves_at(self, positions: Iterable[int]) -> dict[int, Leaf]:
        wanted = list(positions)  # read once, whichever store answers
        return self._read(lambda store: store.leaves_at(wanted))

    def events_with_leaves(self, events_table: str, after: int | None, first_leaf: int, leaf_end: int,
                           limit: int) -> list[tuple[StoredRow | None, LeafRow | None]]:
        return self.primary.events_with_leaves(events_table, after, first_leaf, leaf_end, limit)

    def nodes(self, level: int, start_index: int, limit: int) -> Sequence[tuple[int, bytes]]:
        return self._read(lambda store: store.nodes(level, start_index, limit))

    def subtrees(self, keys: Iterable[Subtree]) -> dict[Subtree, bytes]:
        wanted = list(keys)
        return self._read(lambda store: store.subtrees(wanted))
