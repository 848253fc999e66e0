"""The fold of a plan's registration: its number, title and year label the issues."""

from __future__ import annotations

from typing import Any

from domain.plan import Plan

KIND = "plan"
TOPICS = (f"{Plan.Registered.__module__}:{Plan.Registered.__qualname__}",)


def handles(domain_event: object) -> bool:
    return isinstance(domain_event, Plan.Registered)


def fold(summary: dict[str, Any] | None, e: Any, *, in_place: bool = False) -> dict[str, Any]:
    return {"kind": KIND, "id": str(e.originator_id), "number": e.number, "title": e.title,
            "issuer_unit": e.issuer_unit, "year": e.year, "version": e.originator_version}


def brief(summary: dict[str, Any]) -> dict[str, Any]:
    """A plan's summary is already as small as what the views read of it."""
    return summary
