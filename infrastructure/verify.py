"""`careledger verify`: the whole log checked against its leaves and signed tree heads.

One pass in position order walks three streams in step: the stored events (hashed
afresh), the leaves table, and the heads table. The first disagreement found is the
earliest one, and is reported with the position it concerns. What each check catches:

- an event that no longer hashes to its leaf: a changed state, topic, aggregate or
  version, or two events swapped (the position is inside the leaf);
- an event where the leaves have none, or a leaf where the events have none: an
  inserted or a deleted event;
- a head whose signature fails, or whose root differs from the root recomputed at its
  size: a rewritten head table, or events and leaves rewritten together;
- an outside head (saved earlier by someone else) whose root differs from the recomputed
  root at its size: a log rewritten together with its leaves and heads.

When only a head disagrees, the log cannot say which event changed, only that it lies
after the last head that still holds; the finding then names that range. Every head is
checked against the same recomputed tree, so each is consistent with the next whenever
all of them hold.

Reads go through the library's recorder and the MerkleLogStore interface only
(infrastructure.verify_reads). Runs of events that hold are checked a list at a time; a run
with anything out of place is checked again event by event, which names the first finding.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import NoReturn, Protocol
from uuid import UUID

from infrastructure.findings import Discrepancy, Finding, Verification
from infrastructure.verify_reads import StoredSubtrees, batches, pages
from projections import merkle
from projections.merkle_log import (
    LeafRow,
    MerkleLogStore,
    StoredRow,
    TreeHead,
    parse_head_timestamp,
)

# An aggregate id as str(UUID) spells it (PostgreSQL's text of a uuid always is).
_CANONICAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class EventsTable(Protocol):
    """The library's application recorder, which names the table its events are in."""

    events_table_name: str


class SignatureCheck(Protocol):
    def verify(self, message: bytes, signature: bytes) -> bool: ...


class Begun(Protocol):
    """A check started elsewhere (a second process) while the log is walked."""

    def result(self) -> Finding | None: ...

    def cancel(self) -> None: ...


class _Tampered(Exception):
    def __init__(self, finding: Finding) -> None:
        self.finding = finding


class _Walk:
    """The state of one verification pass; ``run`` raises _Tampered at the first finding."""

    def __init__(
        self,
        events: EventsTable,
        store: MerkleLogStore,
        public_key: SignatureCheck,
        outside_head: TreeHead | None,
        on_progress: Callable[[int], None] | None,
        batch_size: int,
    ) -> None:
        self.table = events.events_table_name
        self.store, self.key = store, public_key
        self.outside = outside_head
        self.on_progress = on_progress
        self.batch_size = batch_size
        # Everything the projection had written when we began: leaves and heads added
        # while we read are left for the next run, so a live log never looks tampered.
        self.progress = store.progress()
        self.frontier = merkle.Frontier()
        self.positions_checked = 0
        self.heads_checked = 0
        self.unlogged = 0
        self.last_position = 0
        # The largest size whose signed head held, and the position of the leaf after it:
        # where the search for a change begins when a later head does not hold.
        self.anchor_size = 0
        self.anchor_position: int | None = None
        self.heads = self._heads()
        self.next_head = next(self.heads, None)
        self.check_at: set[int] = set()
        self.subtrees = StoredSubtrees(store, batch_size)

    def _heads(self) -> Iterator[TreeHead]:
        limit = self.progress.tree_size
        for head in batches(
            lambda start: list(self.store.heads(start, self.batch_size)), lambda h: h.tree_size, 0
        ):
            if head.tree_size > limit:
                return
            yield head

    def _sizes_to_check(self) -> set[int]:
        """The tree sizes at which something beside the leaves is compared."""
        sizes = {self.progress.tree_size}
        if self.next_head is not None:
            sizes.add(self.next_head.tree_size)
        if self.outside is not None:
            sizes.add(self.outside.tree_size)
        return sizes

    def run(self) -> None:
        self._check_heads_at(0)
        self.check_at = self._sizes_to_check()
        for page in pages(self.store, self.table, self.progress.tree_size, self.batch_size):
            start = 0
            while start < len(page):
                # A run that ends at the next size where heads are compared, checked whole;
                # any run that is not plain (a gap, a mismatch, an odd value) is checked
                # event by event, which finds and names the first disagreement.
                size = self.frontier.size
                stop = min([len(page)] + [start + s - size for s in self.check_at if s > size])
                run = page[start:stop]
                if not self._check_run(run):
                    for event, leaf in run:
                        self._check_pair(event, leaf)
                elif self.frontier.size in self.check_at:
                    self._check_heads_at(self.frontier.size)
                    self.check_at = self._sizes_to_check()
                start = stop
        self._check_end()
        self._check_nodes()

    def _check_pair(self, event: StoredRow | None, leaf: LeafRow | None) -> None:
        if event is None:
            assert leaf is not None
            self._fail(
                Discrepancy.EVENT_DELETED,
                leaf[1],
                leaf[0],
                f"leaf {leaf[0]} records an event at position {leaf[1]}, "
                "and the event store has no event there or after",
            )
        if leaf is None:
            if event[0] <= self.progress.position:
                self._fail(
                    Discrepancy.LEAF_MISSING,
                    event[0],
                    self.frontier.size,
                    f"the event at position {event[0]} was folded into the log, but its leaf "
                    f"{self.frontier.size} is gone from the leaves table",
                )
            self.unlogged += 1
            return
        self._check_event(event, leaf)

    def _check_run(self, run: list[tuple[StoredRow | None, LeafRow | None]]) -> bool:
        """The events of ``run`` against their leaves, and the subtrees they complete against
        the stored ones, a list at a time; False, with nothing changed, when the run is not
        plain: an event or leaf missing, a position or index out of step, a hash that
        differs, a value of an unexpected type."""
        events = [e for e, _ in run]
        leaves = [x for _, x in run]
        if None in events or None in leaves:
            return False
        first = self.frontier.size
        positions = [e[0] for e in events]  # type: ignore[index]
        if positions != [x[1] for x in leaves] or [x[0] for x in leaves] != list(range(first, first + len(run))):  # type: ignore[index]
            return False
        ids = [e[1] for e in events]  # type: ignore[index]
        if not all(type(i) is str for i in ids) or not all(map(_CANONICAL_ID.fullmatch, ids)):
            try:
                ids = [str(i if type(i) is UUID else UUID(str(i))) for i in ids]
            except ValueError:
                return False  # an id that is none: event by event, an earlier finding comes first
        hashes = merkle.stored_leaf_hashes(
            [(e[0], i, e[2], e[3], e[4]) for e, i in zip(events, ids, strict=True)]  # type: ignore[index]
        )
        if hashes is None or hashes != [x[2] for x in leaves]:  # type: ignore[index]
            return False
        if first <= self.anchor_size < first + len(run):
            self.anchor_position = positions[self.anchor_size - first]
        levels: list[list[tuple[int, bytes]]] = [[] for _ in range(64)]
        self.frontier.extend(hashes, levels)
        for level, completed in enumerate(levels):
            if completed:
                self.subtrees.check_level(level, completed)
        self.last_position = positions[-1]
        done = self.positions_checked
        self.positions_checked += len(run)
        if self.on_progress is not None:
            for crossed in range(done // self.batch_size + 1, self.positions_checked // self.batch_size + 1):
                self.on_progress(crossed * self.batch_size)
        return True

    def _check_event(self, event: StoredRow, leaf: LeafRow) -> None:
        index = self.frontier.size
        position, aggregate_id, version, topic, state = event
        leaf_index, leaf_position, leaf_hash = leaf
        if index == self.anchor_size:
            self.anchor_position = position
        if position < leaf_position:
            self._fail(
                Discrepancy.EVENT_INSERTED,
                position,
                index,
                f"the event at position {position} is in no leaf: leaf {index} records "
                f"position {leaf_position}",
            )
        if position > leaf_position:
            self._fail(
                Discrepancy.EVENT_DELETED,
                leaf_position,
                index,
                f"leaf {index} records an event at position {leaf_position}, which the event "
                f"store no longer holds (its next event is at {position})",
            )
        if leaf_index != index:
            # Both an event and its leaf are gone: only the gap they left can be named.
            self._fail(
                Discrepancy.LEAF_MISSING,
                self.last_position + 1,
                index,
                f"leaf {index} is missing from the leaves table (the next is {leaf_index}, "
                f"for position {position})",
                through_position=position - 1,
            )
        recomputed = merkle.stored_leaf_hash(
            aggregate_id if type(aggregate_id) is UUID else UUID(str(aggregate_id)),
            version,
            topic,
            state if type(state) is bytes else bytes(state),
            position,
        )
        if recomputed != leaf_hash:
            self._fail(
                Discrepancy.EVENT_CHANGED,
                position,
                index,
                f"the event at position {position} hashes to {recomputed.hex()}, "
                f"but leaf {index} holds {bytes(leaf_hash).hex()}",
            )
        self.frontier.push(recomputed, self.subtrees.check)
        self.last_position = position
        self.positions_checked += 1
        if self.on_progress is not None and self.positions_checked % self.batch_size == 0:
            self.on_progress(self.positions_checked)
        if self.frontier.size in self.check_at:
            self._check_heads_at(self.frontier.size)
            self.check_at = self._sizes_to_check()

    def _fail(
        self,
        kind: Discrepancy,
        position: int | None,
        leaf_index: int | None,
        detail: str,
        through_position: int | None = None,
    ) -> NoReturn:
        raise _Tampered(Finding(kind, position, leaf_index, detail, through_position))

    def _fail_range(
        self, kind: Discrepancy, detail: str, anchor: tuple[int, int | None]
    ) -> NoReturn:
        """A head disagrees: the change lies between ``anchor`` (the last head that held,
        as its size and the position after it) and the event just folded in."""
        size, position = anchor
        self._fail(kind, position, size, detail, through_position=self.last_position)

    def _check_heads_at(self, size: int) -> None:
        # A stored head of this very size cannot anchor a search for a change before it.
        anchor_before = (self.anchor_size, self.anchor_position)
        while self.next_head is not None and self.next_head.tree_size == size:
            head = self.next_head
            self.next_head = next(self.heads, None)
            if not self.key.verify(head.message(), head.signature):
                self._fail(
                    Discrepancy.HEAD_SIGNATURE,
                    self.last_position or None,
                    size - 1 if size else None,
                    f"the tree head of size {size} ({head.timestamp}) "
                    "is not signed by the log's key",
                )
            if head.root_hash != self.frontier.root():
                self._fail_range(
                    Discrepancy.HEAD_ROOT,
                    f"the signed tree head of size {size} has root {head.root_hash.hex()}, but "
                    f"the stored events make {self.frontier.root().hex()}; the change lies after "
                    f"the head of size {self.anchor_size}, the last that holds",
                    (self.anchor_size, self.anchor_position),
                )
            self.heads_checked += 1
            if self.outside is None or parse_head_timestamp(head.timestamp) <= parse_head_timestamp(
                self.outside.timestamp
            ):
                self.anchor_size, self.anchor_position = size, None
        outside = self.outside
        if (
            outside is not None
            and outside.tree_size == size
            and outside.root_hash != self.frontier.root()
        ):
            self._fail_range(
                Discrepancy.OUTSIDE_HEAD,
                f"the log no longer extends the outside tree head of size {size} "
                f"(root {outside.root_hash.hex()}, {outside.timestamp}); the stored "
                f"events make {self.frontier.root().hex()}; the change lies after the head "
                f"of size {anchor_before[0]}, the last signed before it that holds",
                anchor_before,
            )
        if (
            size == self.progress.tree_size
            and self.frontier.to_bytes() != self.progress.frontier.to_bytes()
        ):
            self._fail(
                Discrepancy.TRACKING,
                self.last_position or None,
                size - 1 if size else None,
                "the projection's tracking row holds a frontier the events do not make, so "
                "the heads it signs next would be wrong",
            )

    def _check_end(self) -> None:
        size = self.frontier.size
        missing = f"the log ends after position {self.last_position} ({size} events)"
        if size < self.progress.tree_size:
            self._fail(
                Discrepancy.EVENT_DELETED,
                self.last_position + 1,
                size,
                f"{missing}, but the projection had folded in {self.progress.tree_size}",
            )
        if self.next_head is not None:
            self._fail(
                Discrepancy.HEAD_BEYOND_LOG,
                self.last_position + 1,
                size,
                f"{missing}, but a tree head of size {self.next_head.tree_size} is signed",
            )
        if self.outside is not None and self.outside.tree_size > size:
            self._fail(
                Discrepancy.EVENT_DELETED,
                self.last_position + 1,
                size,
                f"{missing}, shorter than the outside tree head of size {self.outside.tree_size}",
            )

    def _check_nodes(self) -> None:
        """The stored subtrees proofs are made of: the lowest level with a wrong one, and
        its first, as a pass level by level from the checked leaves would find. They
        were compared during the walk; a wrong one is reported only when nothing else is
        wrong, since a changed event or leaf is the more precise finding."""
        bad_levels = self.subtrees.bad_levels
        if not bad_levels:
            return
        level = min(bad_levels)
        index = bad_levels[level]
        first_leaf = index << level
        position = self.store.leaves(first_leaf, 1)[0].position
        self._fail(
            Discrepancy.NODE,
            position,
            first_leaf,
            f"the stored subtree ({level}, {index}) over leaves from {first_leaf} "
            "is not the hash of its children, so proofs over it would fail",
        )


def verify_log(
    events: EventsTable,
    store: MerkleLogStore,
    public_key: SignatureCheck,
    *,
    outside_head: TreeHead | None = None,
    on_progress: Callable[[int], None] | None = None,
    batch_size: int = 1000,
    snapshots: Callable[[], Finding | None] | None = None,
) -> Verification:
    """Checks the stored events against the leaves, the nodes and every signed head, and
    that the log extends ``outside_head`` when one is given; then ``snapshots``, the check
    of the stored snapshots against those events, when given. A check with a ``begin``
    (infrastructure.snapshot_check) may start before the walk, beside it; its finding is
    still reported only when the log holds."""
    foreign = outside_head is not None and not public_key.verify(
        outside_head.message(), outside_head.signature
    )
    walk = _Walk(
        events, store, public_key, None if foreign else outside_head, on_progress, batch_size
    )
    begin: Callable[[], Begun | None] | None = getattr(snapshots, "begin", None)
    begun = begin() if begin is not None else None
    finding: Finding | None = None
    try:
        try:
            walk.run()
        except _Tampered as tampered:
            finding = tampered.finding
        if finding is None and foreign:
            assert outside_head is not None
            finding = Finding(
                Discrepancy.OUTSIDE_HEAD_SIGNATURE,
                None,
                None,
                f"the outside tree head of size {outside_head.tree_size} is not signed by the log's "
                "key: the key was replaced, or the head is not this log's",
            )
        if finding is None and snapshots is not None:
            # Once the events hold, every snapshot must be what they fold to (snapshot_check).
            finding = begun.result() if begun is not None else snapshots()
            begun = None
    finally:
        if begun is not None:
            begun.cancel()
    return Verification(walk.positions_checked, walk.heads_checked, walk.unlogged, finding)
