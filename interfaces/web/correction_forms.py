"""Correcting an earlier entry of an issue (更正记录): nothing is edited, so the form appends
the correction ``POST /api/v1/issues/{id}/corrections`` appends, through
application.issues.Issues.correct_issue_entry, naming the entry by its log position.

The form offers the fields domain.issue_corrections lets a correction of that kind of entry
change, each filled with the value the entry holds now (its later corrections applied), and
sends only the fields whose value was changed. Evidence files are corrected through the API
(their digests must name stored files); the form changes text, dates, grades and times.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from application.access import Actor
from application.commands import Accepted
from application.errors import NotFound
from interfaces.bootstrap import Services
from interfaces.http import schemas as s
from interfaces.http.deps import ActorDep, ServicesDep
from interfaces.web import entry_corrections as shared, forms, issue_form
from interfaces.web.corrections import FIELDS, correctable_fields, require_corrector
from interfaces.web.entry_corrections import PREFIX
from interfaces.web.pages import PageRoute

router = APIRouter(route_class=PageRoute, include_in_schema=False)

# Fields a correction may leave empty.
_MAY_BE_EMPTY = frozenset({"remarks"})


def current_values(entries: list[dict[str, Any]], entry: dict[str, Any]) -> dict[str, Any]:
    """The entry's correctable values as they stand: as recorded, then each correction of it."""
    return shared.current_values(entries, entry, {name: FIELDS[name] for name in correctable_fields(entry["type"])})


def _entry(svc: Services, caller: Actor, issue_id: UUID, version: int) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
    issue = svc.issues.read_issue(caller, issue_id)
    entries = svc.issues.issue_history(caller, issue_id)
    entry = next((e for e in entries if e["version"] == version), None)
    if entry is None or not correctable_fields(entry["type"]):
        raise NotFound("该问题没有这条可更正的记录", rule="entry_exists")
    require_corrector(caller, issue, entry)
    return issue, entries, entry


def _page(request: Request, svc: Services, issue: Any, entries: list[dict[str, Any]], entry: dict[str, Any],
          sent: forms.Sent | None, status: int = 200) -> Response:
    before = current_values(entries, entry)
    shaped = next(e for e in issue_form.shaped(svc, entries) if e["version"] == entry["version"])
    fields = [(PREFIX + name, *FIELDS[name], before[name]) for name in before]
    return issue_form.page(request, svc, issue, "correct", sent, status, entry=shaped, fields=fields)


@router.get("/issues/{issue_id}/corrections/new")
def correct_form(request: Request, issue_id: UUID, caller: ActorDep, svc: ServicesDep,
                 version: int = Query(ge=1, le=2**31)) -> Response:
    issue, entries, entry = _entry(svc, caller, issue_id, version)
    return _page(request, svc, issue, entries, entry, None)


@router.post("/issues/{issue_id}/corrections/new")
async def correct(request: Request, issue_id: UUID, caller: ActorDep, svc: ServicesDep,
                  version: int = Query(ge=1, le=2**31)) -> Response:
    issue, entries, entry = _entry(svc, caller, issue_id, version)
    sent = await forms.receive(request, caller)
    # Against what the form showed (the entries up to the version it was drawn from): a
    # second click of the same form then changes the same fields, and finds the first's answer.
    drawn = sent.command.expected_version
    shown = [e for e in entries if drawn is None or e["version"] <= drawn]
    changes = shared.changes_typed(sent, current_values(shown, entry), FIELDS, may_be_empty=_MAY_BE_EMPTY)
    body = None if sent.errors else forms.checked(sent, s.CorrectionIn, position=entry["position"], changes=changes)

    def command() -> Accepted:
        assert body is not None  # forms.act sends nothing while the form has errors
        return svc.issues.correct_issue_entry(sent.command, issue_id, position=body.position,
                                              changes=body.changes, reason=body.reason)

    return await forms.act(
        sent, command, done=issue_form.back_to(issue_id), timeline=issue_form.timeline(svc, caller, issue_id),
        again=lambda f, status: _page(request, svc, issue, entries, entry, f, status),
        fields={"correction_needs_reason": "reason"},
    )
