"""Every stored event class of the domain, found by walking its aggregates (not listed by
hand, so a new one cannot be forgotten)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import domain
from domain.base import LedgerAggregate
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

# The library's bases every aggregate has: no event of either kind is ever stored as such.
BASES = ("Event", "Created")


def aggregates() -> list[type[LedgerAggregate]]:
    for module in pkgutil.iter_modules(domain.__path__):
        importlib.import_module(f"domain.{module.name}")
    found, stack = [], [LedgerAggregate]
    while stack:
        for sub in stack.pop().__subclasses__():
            found.append(sub)
            stack.append(sub)
    return sorted(set(found), key=get_topic)


def stored_event_classes() -> list[type[Aggregate.Event]]:
    return [value for aggregate in aggregates() for name, value in vars(aggregate).items()
            if inspect.isclass(value) and issubclass(value, Aggregate.Event) and name not in BASES]


def stored_event_topics() -> set[str]:
    return {get_topic(cls) for cls in stored_event_classes()}
