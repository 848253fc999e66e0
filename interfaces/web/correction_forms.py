"""Correcting an earlier entry of an issue (更正记录): nothing is edited, so the form appends
the correction ``POST /api/v1/issues/{id}/corrections`` appends, through
application.issues.Issues.correct_issue_entry, naming the entry by its log position.

The form offers the fields domain.issue_corrections lets a correction of that kind of entry
change, each filled with the value the entry holds now (its later corrections applied), and
sends only the fields whose value was changed. Evidence files are corrected through the API
(their digests must name stored files); the form changes text, dates, grades and times.
"""

from __future__ import annotations

import re
from datetime import date, datetime
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
from interfaces.http.inputs import cleaned, moment_or_day_end
from interfaces.web import forms, issue_form
from interfaces.web.corrections import FIELDS, correctable_fields, require_corrector
from interfaces.web.pages import PageRoute
from interfaces.web.present import BEIJING

router = APIRouter(route_class=PageRoute, include_in_schema=False)

# The entry's corrected values are sent under these names: "reason" is the correction's own.
PREFIX = "new_"
# Fields a correction may leave empty.
_MAY_BE_EMPTY = frozenset({"remarks"})
_LIST_SEPARATORS = re.compile(r"[\s,，、;；]+")

def _shown(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return "、".join(_shown(v) for v in value)
    return "" if value is None else str(value)


def current_values(entries: list[dict[str, Any]], entry: dict[str, Any]) -> dict[str, str]:
    """The entry's correctable values as they stand: as recorded, then each correction of it."""
    values = {name: entry["fields"].get(name) for name in correctable_fields(entry["type"])}
    if "occurred_at" in values:
        values["occurred_at"] = entry["occurred_at"]
    for later in entries:
        if later["type"] == "EntryCorrected" and later["fields"].get("corrected_version") == entry["version"]:
            values.update({k: v for k, v in later["fields"].get("changes", {}).items() if k in values})
    if isinstance(values.get("occurred_at"), str):  # a corrected time is stored as ISO text
        values["occurred_at"] = datetime.fromisoformat(values["occurred_at"])
    return {name: _shown(value) for name, value in values.items()}


def changes_typed(sent: forms.Sent, before: dict[str, str]) -> dict[str, Any]:
    """The fields whose typed value differs from what the entry holds, as the API takes them."""
    changes: dict[str, Any] = {}
    for name, was in before.items():
        kind = FIELDS[name][1]
        try:
            # As the API's models clean text: a browser sends a textarea's line ends as CRLF.
            typed = cleaned(str(sent.typed.get(PREFIX + name, was)), multiline=kind == "area")
        except ValueError as refused:
            sent.refuse(PREFIX + name, str(refused))
            continue
        if typed == was:
            continue
        if not typed and name not in _MAY_BE_EMPTY:
            sent.refuse(PREFIX + name, "不能为空；不需更正的栏目请保留原值")
            continue
        try:
            if kind == "number":
                changes[name] = float(typed) if "." in typed else int(typed)
            elif kind == "datetime-local":
                changes[name] = moment_or_day_end(typed).isoformat()
            elif name == "nodes":
                changes[name] = [n for n in _LIST_SEPARATORS.split(typed) if n]
            else:
                changes[name] = typed
        except ValueError:
            sent.refuse(PREFIX + name, "格式不正确")
    if not changes and not sent.errors:
        sent.refuse(forms.WHOLE_FORM, "没有改动：请修改需要更正的内容后再提交")
    return changes


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
    changes = changes_typed(sent, current_values(shown, entry))
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
