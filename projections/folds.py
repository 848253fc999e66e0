"""Which fold takes which event: the one place a new kind of summary is plugged in.

Every query filters summaries by ``kind``, so a new kind adds rows and changes no other.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from projections import cases, issues, plans

FOLDERS: list[ModuleType] = [plans, issues, cases]

TOPICS: tuple[str, ...] = tuple(t for module in FOLDERS for t in module.TOPICS)


def folder_for(domain_event: object) -> ModuleType | None:
    for module in FOLDERS:
        if module.handles(domain_event):
            return module
    return None


def apply(summary: dict[str, Any] | None, domain_event: object) -> dict[str, Any] | None:
    """The summary after the event, or None when no fold takes the event."""
    module = folder_for(domain_event)
    return None if module is None else module.fold(summary, domain_event)
