"""The Merkle log over the ledger's global sequence: what it stores and how it grows (what it
proves: ``merkle_proofs``).

Every stored event, in position order, is one leaf: the hash of the canonical encoding of
what the database holds for it (``merkle.canonical_leaf``). The projection reads the raw
stored notifications rather than domain events, because the leaves must cover the bytes
as stored (ciphertext included), not whatever a mapper makes of them; that is also why
it is not a library ``Projection``, which is handed decoded events.

The store keeps the leaves, every completed perfect subtree (so a proof costs O(log n)
lookups, not a pass over the log), every signed tree head, and a tracking row holding the
last position folded in and the frontier of the tree so far, written in the same
transaction as the leaves: a batch is folded in exactly once, and a restart resumes
from the row without reading the leaves back.
"""

from __future__ import annotations

import base64
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from domain.case import ChildCase
from domain.idempotency import CommandAnswer, is_keyed
from projections import merkle
from projections.merkle import CompletedSubtree, Frontier, Subtree


@dataclass(frozen=True)
class Leaf:
    leaf_index: int
    position: int
    leaf_hash: bytes


# A stored event as its table holds it: (position, aggregate id, version, topic, state).
StoredRow = tuple[int, Any, int, str, bytes]
# A leaf as its table holds it: (leaf index, position, leaf hash).
LeafRow = tuple[int, int, bytes]


@dataclass(frozen=True)
class TreeHead:
    tree_size: int
    root_hash: bytes
    timestamp: str
    signature: bytes

    def message(self) -> bytes:
        return merkle.tree_head_message(self.tree_size, self.root_hash.hex(), self.timestamp)

    def as_json(self) -> dict[str, Any]:
        """The shape of ``GET /audit/tree-head``, and of a head saved by an outsider."""
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": self.timestamp,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TreeHead:
        try:
            return cls(
                tree_size=int(data["tree_size"]),
                root_hash=bytes.fromhex(data["root_hash"]),
                timestamp=str(data["timestamp"]),
                signature=base64.b64decode(data["signature"], validate=True),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"not a tree head: {e}") from e


def head_timestamp(moment: datetime) -> str:
    """One fixed format, so that timestamps compare as text and read the same everywhere."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_head_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass(frozen=True)
class Progress:
    """The tracking row: the last position folded in (0 before any) and the tree so far."""

    position: int
    frontier: Frontier

    @property
    def tree_size(self) -> int:
        return self.frontier.size


class LogMoved(Exception):
    """Another writer folded events in since this one read the tracking row."""


class MerkleLogStore(ABC):
    """The tables of the Merkle log; implemented per database in infrastructure.merkle_store."""

    # Whether a second thread may read while the first works (each read its own connection):
    # the verifier then asks for the next page before it checks the one it has.
    reads_concurrently: bool = False

    @abstractmethod
    def create_tables(self) -> None: ...

    @abstractmethod
    def progress(self) -> Progress: ...

    @abstractmethod
    def append(
        self,
        before: Progress,
        leaves: Sequence[Leaf],
        subtrees: Sequence[CompletedSubtree],
        after: Progress,
    ) -> None:
        """Writes leaves, subtrees and the new tracking row at once; raises LogMoved if
        the tracking row no longer says ``before``."""

    @abstractmethod
    def add_head(self, head: TreeHead) -> None:
        """Keeps a signed head; a head of a size already kept is left as it was."""

    @abstractmethod
    def latest_head(self) -> TreeHead | None: ...

    @abstractmethod
    def head(self, tree_size: int) -> TreeHead | None: ...

    @abstractmethod
    def heads(self, min_size: int, limit: int) -> Sequence[TreeHead]:
        """Heads of size >= ``min_size``, smallest first."""

    @abstractmethod
    def leaves(self, start_index: int, limit: int) -> Sequence[Leaf]:
        """Leaves from ``start_index`` on, in index order."""

    @abstractmethod
    def leaves_at(self, positions: Iterable[int]) -> dict[int, Leaf]:
        """The leaves of the events at these positions, by position (absent: not logged)."""

    @abstractmethod
    def events_with_leaves(
        self, events_table: str, after: int | None, first_leaf: int, leaf_end: int, limit: int
    ) -> list[tuple[StoredRow | None, LeafRow | None]]:
        """One read of two streams taken in step: up to ``limit`` rows of the library's
        ``events_table`` after position ``after`` (from the first when None), in position
        order, each beside the leaf of the same rank among the leaves from index
        ``first_leaf`` up to ``leaf_end`` (excluded), in index order. Where one stream runs
        out first, the other's rows stand beside None."""

    @abstractmethod
    def nodes(self, level: int, start_index: int, limit: int) -> Sequence[tuple[int, bytes]]:
        """Stored perfect subtrees of one level >= 1, as (index, hash), in index order."""

    @abstractmethod
    def subtrees(self, keys: Iterable[Subtree]) -> dict[Subtree, bytes]:
        """Hashes of perfect subtrees; level 0 are the leaves."""


class StoredEvents(Protocol):
    """The part of the library's ApplicationRecorder the log reads: raw notifications."""

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Any]: ...


def leaf_fields_of(notification: Any) -> dict[str, Any]:
    """The leaf object of a stored notification (the library's ``Notification``), as the
    audit log publishes it for outsiders to re-encode."""
    return merkle.leaf_fields(*_leaf_parts(notification))


def _leaf_parts(notification: Any) -> tuple[UUID, int, str, bytes, int]:
    """What a leaf holds of a stored notification, in the order the leaf encoding takes it."""
    return (
        UUID(str(notification.originator_id)),
        notification.originator_version,
        notification.topic,
        bytes(notification.state),
        notification.id,
    )


KEPT_TOPIC = f"{CommandAnswer.Kept.__module__}:{CommandAnswer.Kept.__qualname__}"


LEGACY_BIRTH_DATE_TOPICS = frozenset({
    f"{ChildCase.__module__}:{ChildCase.__qualname__}.Registered",
    f"{ChildCase.__module__}:{ChildCase.__qualname__}.EntryCorrected",
})


def _holds_clear_birth_date(notification: Any) -> bool:
    """A case event recorded before the exact birth date was sealed holds it in clear (its
    Registered event, or a correction of it): published by its hash alone, as the date
    shows only in the personal fields, and after erasure nowhere."""
    try:
        state = json.loads(bytes(notification.state))
    except ValueError:
        return True
    if not isinstance(state, dict):
        return True
    changes = state.get("changes")
    return state.get("birth_date") is not None or (isinstance(changes, dict) and "birth_date" in changes)


def withheld(notification: Any) -> bool:
    """True for an event whose state holds what a client sent, or a plain digest of it: an
    answer kept before idempotency keys and fingerprints were keyed. Such a digest of a
    child's registration confirms a guessed name and ID number offline, so the leaf is
    published by its hash alone (docs/VERIFYING.md). Anything that cannot be read as a
    keyed answer is withheld too. So is a case event holding a clear birth date
    (``_holds_clear_birth_date``)."""
    if notification.topic in LEGACY_BIRTH_DATE_TOPICS:
        return _holds_clear_birth_date(notification)
    if notification.topic != KEPT_TOPIC:
        return False
    try:
        state = json.loads(bytes(notification.state))
    except ValueError:
        return True
    return not (isinstance(state, dict) and is_keyed(state.get("fingerprint")) and is_keyed(state.get("key")))


def leaf_of(notification: Any) -> bytes:
    """The leaf hash of a stored notification."""
    return merkle.stored_leaf_hash(*_leaf_parts(notification))


# ---- the projection ------------------------------------------------------------------


@dataclass(eq=False)
class MerkleLogProjection:
    """Folds stored events into leaves, then signs a head for the tree they make."""

    events: StoredEvents
    store: MerkleLogStore
    _: KW_ONLY
    sign: Callable[[bytes], bytes]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    batch_size: int = 500
    # One folder at a time in this process; other processes are kept out by LogMoved.
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def catch_up(self) -> TreeHead | None:
        """Folds in every event stored so far and answers the latest signed head."""
        with self._lock:
            progress = self.store.progress()
            while True:
                try:
                    progress, folded = self._fold_batch(progress)
                except LogMoved:
                    progress = self.store.progress()
                    continue
                if folded < self.batch_size:
                    break
            return self._sign_head(progress)

    def _fold_batch(self, before: Progress) -> tuple[Progress, int]:
        notifications = self.events.select_notifications(before.position + 1, self.batch_size)
        if not notifications:
            return before, 0
        frontier = before.frontier.copy()
        leaves: list[Leaf] = []
        subtrees: list[CompletedSubtree] = []
        for notification in notifications:
            leaf = Leaf(frontier.size, notification.id, leaf_of(notification))
            subtrees.extend(frontier.append(leaf.leaf_hash))
            leaves.append(leaf)
        after = Progress(notifications[-1].id, frontier)
        self.store.append(before, leaves, subtrees, after)
        return after, len(notifications)

    def _sign_head(self, progress: Progress) -> TreeHead | None:
        latest = self.store.latest_head()
        if latest is not None and latest.tree_size >= progress.tree_size:
            return latest
        root, timestamp = progress.frontier.root(), head_timestamp(self.clock())
        message = merkle.tree_head_message(progress.tree_size, root.hex(), timestamp)
        self.store.add_head(TreeHead(progress.tree_size, root, timestamp, self.sign(message)))
        return self.store.latest_head()
