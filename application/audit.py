"""The audit trail of one aggregate: every event with who recorded it, both times and its
position in the global log (the global log itself, with its Merkle proofs, is projections.merkle_log)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from application.ledger import Ledger

BASE_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "user", "unit", "occurred_at"})


def event_type(domain_event: Any) -> str:
    return type(domain_event).__name__


def describe_event(domain_event: Any, position: int | None) -> dict[str, Any]:
    fields = {k: v for k, v in vars(domain_event).items() if k not in BASE_FIELDS}
    fields.pop("originator_topic", None)
    return {
        "type": event_type(domain_event),
        "aggregate": domain_event.originator_id,
        "version": domain_event.originator_version,
        "position": position,
        "recorded_at": domain_event.timestamp,
        "occurred_at": domain_event.occurred_at,
        "recorder": domain_event.user,
        "unit": domain_event.unit,
        "fields": fields,
    }


class AuditTrail:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def history(self, aggregate_id: UUID) -> list[dict[str, Any]]:
        """Every event of one aggregate with who recorded it, both times and its position."""
        positions = self.ledger.index.positions(aggregate_id)
        return [
            describe_event(domain_event, positions.get(domain_event.originator_version))
            for domain_event in self.ledger.repository.event_store.get(aggregate_id)
        ]
