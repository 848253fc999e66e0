"""待办: what waits on one unit now — urgings awaiting its reply, its requests for a later
deadline awaiting the office's decision, referrals to it awaiting acceptance.

Pure functions over briefs (projections.folds.brief): give them the briefs the reader's
scope reads (``Views.to_do`` in infrastructure.view_runner takes them from
``readable_briefs``, filtered by application.read_policy like every list and view). Each
answers rows of JSON scalars, soonest due or longest waiting first. A closed issue or case
takes no reply, decision or acceptance, so its items are not waiting on anyone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from domain.extension_request import PENDING
from domain.referral import REFERRAL_OPEN
from projections.indicators import day_of

Brief = dict[str, Any]


def waiting_on(brief: Brief) -> set[str]:
    """The units whose to-do lists may hold a row of ``brief``: every unit it names as
    responsible, urged, measure owner, extension requester or referral recipient, while it is
    an open issue or case (none otherwise). A unit's lists read only these briefs
    (infrastructure.brief_cache indexes them), so each list below must ask of ``unit`` only
    what puts it here."""
    if brief["kind"] not in ("issue", "case") or brief["closed"]:
        return set()
    if brief["kind"] == "case":
        return {r["unit"] for r in brief["referrals"].values()}
    return {*brief["units"], *(m["unit"] for m in brief["measures"].values()),
            *(u["unit"] for u in brief["urgings"]),
            *(r["unit"] for r in brief.get("extension_requests", {}).values())}


def open_of(briefs: Iterable[Brief], kind: str) -> list[Brief]:
    """The issues or cases (``kind``) not closed."""
    return [b for b in briefs if b["kind"] == kind and not b["closed"]]


def urgings_awaiting_reply(briefs: Iterable[Brief], unit: str, today: date) -> list[dict[str, Any]]:
    """The urgings ``unit`` has not answered: the issue, the urging's id (for
    ``POST /issues/{id}/urgings/{urging_id}/reply``), what was asked, when, the reply-by date
    and the days left to it (negative once past)."""
    rows = []
    for s in open_of(briefs, "issue"):
        for u in s["urgings"]:
            # A brief stored before replies were kept has no urging_id (see projections.issues.brief).
            if u["unit"] != unit or u.get("replied_at") is not None or "urging_id" not in u:
                continue
            rows.append({
                "issue_id": s["id"], "plan_id": s["plan_id"], "seq": s["seq"], "urging_id": u["urging_id"],
                "message": u["message"], "urged_at": u["occurred_at"], "reply_by": u["reply_by"],
                "days_left": (date.fromisoformat(u["reply_by"]) - today).days,
            })
    return sorted(rows, key=lambda r: (r["reply_by"], r["urged_at"]))


def pending_extension_requests(briefs: Iterable[Brief], unit: str | None = None) -> list[dict[str, Any]]:
    """The requests for a later deadline not yet decided: ``unit``'s own, or every unit's
    (None: what awaits the office's decision). Each with the issue, the request's id, the
    deadline asked for beside the one in force, and when it was asked."""
    rows = [
        {"issue_id": s["id"], "plan_id": s["plan_id"], "seq": s["seq"], "request_id": request_id,
         "unit": r["unit"], "deadline": r["deadline"], "current_deadline": s["deadline"],
         "requested_at": r["requested_at"]}
        for s in open_of(briefs, "issue")
        for request_id, r in s.get("extension_requests", {}).items()
        if r["status"] == PENDING and unit in (None, r["unit"])
    ]
    return sorted(rows, key=lambda r: r["requested_at"])


def referrals_awaiting_acceptance(briefs: Iterable[Brief], unit: str, today: date) -> list[dict[str, Any]]:
    """The open referrals to ``unit`` it has not taken on: the case (by its number, never a
    name), the referral's id, the duty, when it was referred and the days since."""
    rows = [
        {"case_id": s["id"], "case_number": s["case_number"], "referral_id": referral_id, "duty": r["duty"],
         "referred_at": r["referred_at"], "days_waiting": (today - day_of(r["referred_at"])).days}  # type: ignore[operator]
        for s in open_of(briefs, "case")
        for referral_id, r in s["referrals"].items()
        if r["unit"] == unit and r["status"] == REFERRAL_OPEN and r.get("accepted_at") is None
    ]
    return sorted(rows, key=lambda r: r["referred_at"])


def for_unit(briefs: list[Brief], unit: str, today: date) -> dict[str, list[dict[str, Any]]]:
    """The three lists of ``unit``'s to-do page at once."""
    return {
        "urgings_awaiting_reply": urgings_awaiting_reply(briefs, unit, today),
        "pending_extension_requests": pending_extension_requests(briefs, unit),
        "referrals_awaiting_acceptance": referrals_awaiting_acceptance(briefs, unit, today),
    }
