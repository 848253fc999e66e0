"""Whom the supervision office would urge on the overdue list: one line per overdue issue and
unit (projections.indicators.overdue_units), from the briefs the reader reads."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date
from typing import Any

from application.access import SUPERVISOR, Actor
from application.read_policy import POLICY
from interfaces.bootstrap import Services
from interfaces.web import offers
from interfaces.web.present import BEIJING, Names
from projections import indicators as ind


def pair_key(issue_id: str, unit: str) -> str:
    """One checkbox's value: the issue and the unit urged on it."""
    return f"{issue_id}|{unit}"


def overdue_pairs(briefs: Iterable[dict[str, Any]], plans: dict[str, str], today: date,
                  names: Names) -> list[dict[str, Any]]:
    found = []
    for b in briefs:
        days = ind.issue_overdue_days(b, today) if b.get("kind") == "issue" else 0
        if days <= 0:
            continue
        for unit in ind.overdue_units(b, today):
            found.append({"key": pair_key(b["id"], unit), "id": b["id"], "plan": plans.get(b["plan_id"], ""),
                          "seq": b["seq"], "problem": b["problem"], "unit": unit, "unit_name": names(unit),
                          "days": days})
    return sorted(found, key=lambda p: (-p["days"], p["plan"], p["seq"], p["unit_name"]))


def urges(caller: Actor) -> bool:
    return offers.permits(lambda: POLICY.require_role(caller, SUPERVISOR, doing="催办", rule="urge"))


def pairs(svc: Services, caller: Actor, among: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Every overdue issue and unit the caller reads, the views caught up with the log; of
    the issues ``among`` when given (the overdue rows of the supervision view the page has
    just read: its days overdue are the same D6, kept per issue, so the district's
    thousands of issues are not all asked again)."""
    svc.views.wait_for(svc.ledger.recorder.max_notification_id())
    scope = POLICY.scope(caller)
    plans = {b["id"]: b["number"] for b in svc.views.readable_briefs(scope, kinds=("plan",))}
    today = svc.ledger.clock().astimezone(BEIJING).date()
    briefs = (svc.views.readable_briefs(scope, kinds=("issue",)) if among is None
              else svc.views.readable_briefs_of(scope, "issue", among))
    return overdue_pairs(briefs, plans, today, svc.ledger.unit_names)
