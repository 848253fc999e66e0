"""Every stored event class of the domain, found by walking its aggregates (not listed by
hand, so a new one cannot be forgotten)."""

from __future__ import annotations

import importlib
import pkgutil

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

import domain
from domain.base import LedgerAggregate, event_classes


def aggregates() -> list[type[LedgerAggregate]]:
    for module in pkgutil.iter_modules(domain.__path__):
        importlib.import_module(f"domain.{module.name}")
    found, stack = set(), [LedgerAggregate]
    while stack:
        for sub in stack.pop().__subclasses__():
            found.add(sub)
            stack.append(sub)
    # Only the domain's: a test may define an aggregate of its own.
    return sorted((a for a in found if a.__module__.startswith("domain.")), key=get_topic)


def stored_event_classes() -> list[type[Aggregate.Event]]:
    return [cls for aggregate in aggregates() for cls in event_classes(aggregate).values()]


def stored_event_topics() -> set[str]:
    return {get_topic(cls) for cls in stored_event_classes()}
