"""What `careledger verify` reports: the kinds of disagreement it finds, the first one
found, and the count of what it checked (infrastructure.verify walks the log)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Discrepancy(StrEnum):
    EVENT_CHANGED = "event_changed"
    EVENT_INSERTED = "event_inserted"
    EVENT_DELETED = "event_deleted"
    LEAF_MISSING = "leaf_missing"
    HEAD_SIGNATURE = "head_signature"
    HEAD_ROOT = "head_root"
    HEAD_BEYOND_LOG = "head_beyond_log"
    TRACKING = "tracking"
    NODE = "node"
    OUTSIDE_HEAD_SIGNATURE = "outside_head_signature"
    OUTSIDE_HEAD = "outside_head"
    SNAPSHOT_CHANGED = "snapshot_changed"


@dataclass(frozen=True)
class Finding:
    kind: Discrepancy
    # The first position that differs; when only a range can be named (a head's root
    # differs), the first position of that range, and ``through_position`` its last.
    position: int | None
    leaf_index: int | None
    detail: str
    through_position: int | None = None


@dataclass(frozen=True)
class Verification:
    events_checked: int
    heads_checked: int
    # Events stored after the last one the projection has folded in: not yet in the tree.
    unlogged_events: int
    finding: Finding | None

    @property
    def intact(self) -> bool:
        return self.finding is None

    def summary(self) -> str:
        if self.finding is None:
            tail = (
                f"; {self.unlogged_events} newer events not yet in the tree"
                if self.unlogged_events
                else ""
            )
            heads = f"{self.heads_checked} signed tree heads"
            return f"intact: {self.events_checked} events, {heads}{tail}"
        f = self.finding
        where = "" if f.position is None else f" at position {f.position}"
        if f.through_position is not None and f.through_position != f.position:
            where = f" between positions {f.position} and {f.through_position}"
        return f"TAMPERED{where}: {f.detail}"
