"""Which fold takes which event: the one place a new kind of summary is plugged in.

Every query filters summaries by ``kind``, so a new kind adds rows and changes no other.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType
from typing import Any

from projections import cases, issues, plans

FOLDERS: list[ModuleType] = [plans, issues, cases]

TOPICS: tuple[str, ...] = tuple(t for module in FOLDERS for t in module.TOPICS)
KINDS: tuple[str, ...] = tuple(module.KIND for module in FOLDERS)


def topics_of(kinds: Iterable[str] | None) -> tuple[str, ...]:
    """The topics whose events fold into summaries of ``kinds`` (all when None)."""
    if kinds is None:
        return TOPICS
    wanted = set(kinds)
    return tuple(t for module in FOLDERS if module.KIND in wanted for t in module.TOPICS)


# Each fold's ``handles`` answers by the event's class: asked once a class, not once an event.
_FOLDER_OF: dict[type, ModuleType | None] = {}


def folder_for(domain_event: object) -> ModuleType | None:
    try:
        return _FOLDER_OF[type(domain_event)]
    except KeyError:
        found = next((module for module in FOLDERS if module.handles(domain_event)), None)
        _FOLDER_OF[type(domain_event)] = found
        return found


def apply(
    summary: dict[str, Any] | None, domain_event: object, *, in_place: bool = False
) -> dict[str, Any] | None:
    """The summary after the event, or None when no fold takes the event. ``in_place``
    changes the given summary rather than a copy (for callers that own it)."""
    module = folder_for(domain_event)
    return None if module is None else module.fold(summary, domain_event, in_place=in_place)


_BRIEFS = {module.KIND: module.brief for module in FOLDERS}


def brief(summary: dict[str, Any]) -> dict[str, Any]:
    """What the views and lists read of a summary (projections.queries): same shape, less
    of it. The stores keep it beside the summary, so a view loads briefs only."""
    return _BRIEFS[summary["kind"]](summary)
