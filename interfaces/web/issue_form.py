"""What every form on one issue shares: its page (the issue's facts above the form), the
issue's timeline a stale form is shown against, and the way back to the issue."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from uuid import UUID

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel

from application.access import Actor
from application.commands import Accepted, Command
from application.errors import NotFound
from domain.issue import RectificationIssue
from interfaces.bootstrap import Services
from interfaces.web import forms, present
from interfaces.web.pages import render

M = TypeVar("M", bound=BaseModel)


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


def entry(svc: Services, caller: Actor, issue_id: UUID, find: Callable[[RectificationIssue], Mapping[str, Any]],
          missing: NotFound) -> tuple[RectificationIssue, dict[str, Any]]:
    """The issue, if the reader may read it, and the entry of it a form acts on (a measure, an
    urging, an extension request): ``missing`` when the issue holds no such entry."""
    issue = svc.issues.read_issue(caller, issue_id)
    try:
        return issue, dict(find(issue))
    except LookupError:
        raise missing from None


async def send(request: Request, svc: Services, caller: Actor, issue: RectificationIssue, template: str,
               model: type[M], command: Callable[[Command, M], Accepted], *, fields: Mapping[str, str] | None = None,
               given: Mapping[str, Any] | None = None, **more: Any) -> Response:
    """A form on ``issue`` posted: read, checked by the API's request ``model`` (with ``given``
    added), and sent as ``command``, the service call the API endpoint makes; then back to the
    issue, or the form's page again (``template``, with ``more``) with what refused it."""
    sent = await forms.receive(request, caller)
    body = forms.checked(sent, model, **(given or {}))

    def run() -> Accepted:
        assert body is not None  # forms.act sends nothing while the form has errors
        return command(sent.command, body)

    return await forms.act(
        sent, run, fields=fields, done=back_to(issue.id), timeline=timeline(svc, caller, issue.id),
        again=lambda f, status: page(request, svc, issue, template, f, status, **more),
    )
