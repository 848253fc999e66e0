"""The audit trail's index: one row per stored event with who, which unit, which type, when.

The filters of ``/audit/events`` (unit, user, type, aggregate, time) read the index, not
the events' JSON, so a query over a long log is an index range scan. The index holds no
personal data: only the stamp every event carries and the names of things.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class AuditRow:
    position: int
    aggregate_id: UUID
    aggregate_type: str
    version: int
    type: str
    user: str
    unit: str
    recorded_at: datetime
    occurred_at: datetime

    @property
    def lateness_seconds(self) -> int:
        """How long after the claimed time the entry reached the ledger (0 if not earlier)."""
        return max(0, int((self.recorded_at - self.occurred_at).total_seconds()))


@dataclass(frozen=True)
class AuditFilter:
    after: int = 0
    limit: int = 100
    unit: str | None = None
    user: str | None = None
    type: str | None = None
    aggregate_type: str | None = None  # with ``type``: a kind (an issue's Registered, not a unit's)
    aggregate: UUID | None = None
    recorded_from: datetime | None = None
    recorded_to: datetime | None = None
    late_by_seconds: int | None = None


class IndexMoved(Exception):
    """Another process indexed this stretch first; nothing of the batch was stored."""


class AuditIndexStore(ABC):
    @abstractmethod
    def create_tables(self) -> None: ...

    @abstractmethod
    def position(self) -> int:
        """The last position indexed (0 before the first)."""

    @abstractmethod
    def append(self, before: int, rows: Sequence[AuditRow], after: int) -> None:
        """Stores rows and moves the position from ``before`` to ``after`` in one transaction,
        or raises IndexMoved storing nothing."""

    @abstractmethod
    def query(self, where: AuditFilter) -> list[AuditRow]: ...


def known_event_types() -> list[str]:
    """Every ``type`` a row can have: the names of the events of every aggregate (the last
    part of the topic, as ``row_of`` takes it)."""
    from eventsourcing.domain import CanMutateAggregate

    from domain.base import LedgerAggregate

    names: set[str] = set()
    pending: list[type] = [LedgerAggregate]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        names.update(
            name for name, value in vars(cls).items()
            if isinstance(value, type) and issubclass(value, CanMutateAggregate) and name == value.__name__
        )
    # The library's base classes every aggregate carries; every stored event has its own name.
    return sorted(names - {"Event", "Created"})


def row_of(position: int, topic: str, domain_event: Any) -> AuditRow:
    qualname = topic.partition(":")[2]
    aggregate_type, _, event_type = qualname.rpartition(".")
    return AuditRow(
        position=position,
        aggregate_id=domain_event.originator_id,
        aggregate_type=aggregate_type,
        version=domain_event.originator_version,
        type=event_type,
        user=getattr(domain_event, "user", ""),
        unit=getattr(domain_event, "unit", ""),
        recorded_at=domain_event.timestamp,
        occurred_at=getattr(domain_event, "occurred_at", domain_event.timestamp),
    )


@dataclass(eq=False)
class AuditIndexProjection:
    """Pulls stored notifications after the indexed position, decodes their stamps, stores rows."""

    select_notifications: Callable[[int, int], Sequence[Any]]
    decode: Callable[[Any], Any]
    store: AuditIndexStore
    _: KW_ONLY
    batch_size: int = 500
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def catch_up(self) -> int:
        with self._lock:
            before = self.store.position()
            while True:
                notifications = self.select_notifications(before + 1, self.batch_size)
                if not notifications:
                    return before
                rows = [row_of(n.id, n.topic, self.decode(n)) for n in notifications]
                try:
                    self.store.append(before, rows, notifications[-1].id)
                except IndexMoved:
                    before = self.store.position()
                    continue
                before = notifications[-1].id
                if len(notifications) < self.batch_size:
                    return before
