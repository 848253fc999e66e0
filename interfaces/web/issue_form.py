"""What every form on one issue shares: its page (the issue's facts above the form), the
issue's timeline a stale form is shown against, and the way back to the issue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from fastapi import Request
from fastapi.responses import Response

from application.access import Actor
from application.commands import Accepted
from domain.issue import RectificationIssue
from interfaces.bootstrap import Services
from interfaces.web import forms, present
from interfaces.web.pages import render


def page(request: Request, svc: Services, issue: RectificationIssue, template: str, sent: forms.Sent | None,
         status: int = 200, **more: Any) -> Response:
    """``templates/work/{template}.html``, which extends ``work/_issue.html``."""
    names = svc.ledger.unit_names
    return render(request, f"work/{template}.html", {
        "issue": issue, "lead": names(issue.lead_unit) if issue.lead_unit else "", "form": sent, **more,
    }, status)


def shaped(svc: Services, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An issue's entries as its timeline shows them."""
    return present.timeline(entries, svc.settings.late_entry_days, svc.ledger.unit_names)


def timeline(svc: Services, caller: Actor, issue_id: UUID) -> Callable[[], list[dict[str, Any]]]:
    return lambda: shaped(svc, svc.issues.issue_history(caller, issue_id))


def back_to(issue_id: UUID) -> Callable[[Accepted], str]:
    """The issue page, at the entry the form added."""
    return lambda accepted: f"/issues/{issue_id}?done={accepted.version}#v{accepted.version}"
