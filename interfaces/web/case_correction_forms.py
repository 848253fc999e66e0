"""Correcting an earlier entry of a child case (更正记录): the form appends the correction
``POST /api/v1/cases/{id}/corrections`` appends, through
application.cases.Cases.correct_case_entry, naming the entry by its log position; the case
page links each entry its reader may correct to it (``with_links``), by the rule the command
asks (application.cases.require_corrector).

The form offers what domain.case_corrections lets a correction of the entry's kind change,
each filled with the value the entry holds now, and sends only the fields whose value was
changed (interfaces.web.entry_corrections). The child's personal fields (the person, a
guardian, report details, service and visit notes, a correction's reason) are offered only
to a reader of the case's personal data (application.read_policy.may_read_personal), and
shown only after the reader gives a reason, logged in the case's access log as 查看个人信息
is: that answer (a POST, never cached) alone holds their values, in the form's own fields.
Once the personal data is erased they cannot be corrected; the other fields still can.
Evidence files are corrected through the API.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from application.access import Actor
from application.cases import require_corrector
from application.commands import Accepted
from application.errors import Forbidden, NotFound
from application.read_policy import POLICY
from domain.base import InvalidCommand
from domain.case import ChildCase
from domain.case_corrections import CORRECTIONS
from domain.evaluation import GRADES
from interfaces.bootstrap import Services
from interfaces.http import schemas
from interfaces.http.deps import ActorDep, ServicesDep
from interfaces.web import case_present, forms
from interfaces.web.case_forms import REGISTRATION_FIELDS
from interfaces.web.entry_corrections import PREFIX, TIME, Fields, changes_typed, current_values, lists
from interfaces.web.offers import permits
from interfaces.web.pages import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

# Each clear field a correction of a case entry may change, by its kind on the form.
_KINDS = {
    "street": "text", "community": "text", "household_local": "flag", "left_behind": "flag", "categories": "several",
    "arrangement": "select", "reporter": "select", "nature": "select", "duty": "area", "kind": "select",
    "grade": "select", "score": "number", "findings": "area", "reason": "area", TIME: "datetime-local",
}
FIELDS: dict[str, tuple[str, str]] = {name: (case_present.FIELD_LABELS[name], kind) for name, kind in _KINDS.items()}
# The personal fields of each kind of entry, as the form names them (a guardianship's guardian
# is one value of three parts: ``guardian_`` and the part).
PERSONAL: dict[str, dict[str, tuple[str, str]]] = {
    "Registered": {"name": ("姓名", "text"), "id_number": ("身份证号码", "text"), "birth_date": ("出生日期", "date"),
                   "address": ("住址", "text"), "guardian": ("监护人", "text")},
    "GuardianshipRecorded": {"guardian_name": ("监护人姓名", "text"), "guardian_relation": ("与儿童关系", "text"),
                             "guardian_phone": ("联系电话", "text")},
    "MandatoryReportFiled": {"details": ("报告详情", "area")},
    "ServiceProvided": {"notes": ("服务记录", "area")},
    "Visited": {"notes": ("走访记录", "area")},
    "EntryCorrected": {"reason": ("更正理由", "area")},
}
_GUARDIAN = "guardian_"
OPTIONS: dict[str, list[tuple[str, str]]] = {
    "arrangement": case_present.choices(case_present.GUARDIANSHIP_LABELS),
    "reporter": case_present.choices(case_present.REPORTER_LABELS),
    "nature": case_present.choices(case_present.NATURE_LABELS),
    "kind": case_present.choices(case_present.SERVICE_LABELS),
    "grade": [(g, g) for g in GRADES], "categories": case_present.CATEGORY_CHOICES,
}
# Personal values a correction may clear (the person's address, a guardian's relation…).
_MAY_BE_EMPTY = frozenset({"address", "guardian", "guardian_relation", "guardian_phone"})
# The personal values the form showed, sent back beside the fields so that only those changed are sent.
WAS = "was_"
READ_REASON = "read_reason"
# Where a rule of the command places its message.
RULE_FIELDS = {
    "correction_needs_reason": "reason",
    **{rule: PREFIX + name for rule, name in REGISTRATION_FIELDS.items()},
    "address_not_too_long": PREFIX + "address",
}


def clear_fields(kind: str, erased: bool) -> Fields:
    """What the form offers anyone who may correct an entry of ``kind``: its fields that are
    not the child's (a correction's reason is, while the key lives), and its time if it may move."""
    spec = CORRECTIONS.of(kind)
    clear = spec.fields if erased else spec.fields - spec.personal
    offered = {name: FIELDS[name] for name in FIELDS if name in clear}
    if spec.retimable:
        offered[TIME] = FIELDS[TIME]
    return offered


def personal_fields(caller: Actor, case: ChildCase, kind: str) -> Fields:
    """The entry's personal fields, offered only to a reader of them while they exist."""
    if case.erased or not POLICY.may_read_personal(caller, case):
        return {}
    return PERSONAL.get(kind, {})


def may_correct(caller: Actor, case: ChildCase, entry: dict[str, Any]) -> bool:
    """Whether the form is offered for ``entry``: something on it to change, and the command's rule."""
    kind = entry["type"]
    offered = clear_fields(kind, case.erased) or personal_fields(caller, case, kind)
    return bool(offered) and permits(lambda: require_corrector(caller, case, entry["version"]))


def form_path(case_id: UUID, version: int) -> str:
    return f"/cases/{case_id}/corrections/new?version={version}"


def with_links(caller: Actor, case: ChildCase, timeline: list[dict[str, Any]], entries: list[dict[str, Any]]) -> None:
    """Adds to each shaped timeline entry the path of its correction form, where offered."""
    offered = {e["version"] for e in entries if may_correct(caller, case, e)}
    for shaped in timeline:
        if shaped["version"] in offered:
            shaped["correct"] = form_path(case.id, shaped["version"])


# ---- the form -------------------------------------------------------------------------------


def _entry(svc: Services, caller: Actor, case_id: UUID, version: int) -> tuple[ChildCase, list[dict[str, Any]], dict[str, Any]]:
    """The case, its entries and the one corrected, once the caller may correct it."""
    entries = svc.cases.case_history(caller, case_id)  # NotFound to a reader not party to it
    case = svc.cases.case(case_id)
    entry = next((e for e in entries if e["version"] == version), None)
    if entry is None or not (clear_fields(entry["type"], False) or PERSONAL.get(entry["type"])):
        raise NotFound("该个案没有这条可更正的记录", rule="entry_exists")
    require_corrector(caller, case, version)
    if not (clear_fields(entry["type"], case.erased) or personal_fields(caller, case, entry["type"])):
        raise Forbidden("该记录只能更正个人信息，当前角色或单位无权查看该儿童的个人信息",
                        rule="role_may_not_read_personal_data")
    return case, entries, entry


def _rows(fields: Fields, values: dict[str, Any]) -> list[tuple[str, str, str, Any, list[tuple[str, str]]]]:
    return [(PREFIX + name, label, kind, values.get(name, ""), OPTIONS.get(name, []))
            for name, (label, kind) in fields.items()]


def _page(request: Request, svc: Services, caller: Actor, case: ChildCase, entries: list[dict[str, Any]],
          entry: dict[str, Any], sent: forms.Sent | None, status: int = 200,
          personal: dict[str, Any] | None = None) -> Response:
    """The form; ``personal`` the personal values shown (after a logged read), else none."""
    kind = entry["type"]
    clear = clear_fields(kind, case.erased)
    shaped = next(e for e in case_present.timeline(entries, svc.settings.late_entry_days, svc.ledger.unit_names)
                  if e["version"] == entry["version"])
    offered = personal_fields(caller, case, kind)
    return render(request, "work/case_correct.html", {
        "case": case, "facts": case_present.case_state(case, svc.ledger.unit_names), "entry": shaped,
        "action": form_path(case.id, entry["version"]), "form": sent,
        "reveal": f"/cases/{case.id}/corrections/personal?version={entry['version']}",
        "fields": _rows(clear, current_values(entries, entry, clear)),
        "has_personal": bool(PERSONAL.get(kind)), "offers_personal": bool(offered),
        "personal": None if personal is None else [
            (*row, WAS + row[0][len(PREFIX):]) for row in _rows(offered, personal)],
    }, status)


def _flat(kind: str, opened: dict[str, Any]) -> dict[str, str]:
    """An entry's opened personal values under the form's names."""
    if kind == "GuardianshipRecorded":
        opened = {_GUARDIAN + part: value for part, value in opened.items()}
    return {name: "" if opened.get(name) is None else str(opened[name]) for name in PERSONAL.get(kind, {})}


def _nested(kind: str, changes: dict[str, Any]) -> dict[str, Any]:
    """The changes under the names the command takes: a guardian's parts as one value."""
    if kind != "GuardianshipRecorded":
        return changes
    guardian = {name[len(_GUARDIAN):]: value for name, value in changes.items() if name.startswith(_GUARDIAN)}
    rest = {name: value for name, value in changes.items() if not name.startswith(_GUARDIAN)}
    return {**rest, "guardian": guardian} if guardian else rest


@router.get("/cases/{case_id}/corrections/new")
def correct_form(request: Request, case_id: UUID, caller: ActorDep, svc: ServicesDep,
                 version: int = Query(ge=1, le=2**31)) -> Response:
    case, entries, entry = _entry(svc, caller, case_id, version)
    return _page(request, svc, caller, case, entries, entry, None)


@router.post("/cases/{case_id}/corrections/personal")
async def reveal(request: Request, case_id: UUID, caller: ActorDep, svc: ServicesDep,
                 version: int = Query(ge=1, le=2**31)) -> Response:
    """The form with the entry's personal values, answered to this post only: the read and
    its reason are in the access log before they are opened."""
    case, entries, entry = await run_in_threadpool(_entry, svc, caller, case_id, version)
    sent = await forms.receive(request, caller)
    if not personal_fields(caller, case, entry["type"]):
        POLICY.require_personal(caller, case)  # 403 to one who may not read them
        raise NotFound("该记录没有可更正的个人信息", rule="entry_has_personal_fields")
    try:
        opened = await run_in_threadpool(
            svc.cases.read_entry_personal, caller, case_id, version, endpoint=request.url.path,
            reason=str(sent.typed.get(READ_REASON, "")))
    except InvalidCommand as refused:
        sent.refuse(READ_REASON, refused.message)
        return _page(request, svc, caller, case, entries, entry, sent, 422)
    # A fresh form: the reason given for the read is not the correction's.
    return _page(request, svc, caller, case, entries, entry, None, personal=_flat(entry["type"], opened))


@router.post("/cases/{case_id}/corrections/new")
async def correct(request: Request, case_id: UUID, caller: ActorDep, svc: ServicesDep,
                  version: int = Query(ge=1, le=2**31)) -> Response:
    case, entries, entry = await run_in_threadpool(_entry, svc, caller, case_id, version)
    kind = entry["type"]
    clear, personal = clear_fields(kind, case.erased), personal_fields(caller, case, kind)
    sent = await forms.receive(request, caller, lists=lists(clear))
    # Against what the form showed (the entries up to the version it was drawn from): a
    # second click of the same form then changes the same fields, and finds the first's answer.
    drawn = sent.command.expected_version
    shown = [e for e in entries if drawn is None or e["version"] <= drawn]
    # Personal fields count only from a form that showed them, to one who may read them.
    revealed = {name: str(sent.typed[WAS + name]) for name in personal if WAS + name in sent.typed}
    changes = changes_typed(sent, {**current_values(shown, entry, clear), **revealed}, {**clear, **personal},
                            may_be_empty=_MAY_BE_EMPTY)
    body = None if sent.errors else forms.checked(
        sent, schemas.CorrectionIn, position=entry["position"], changes=_nested(kind, changes))

    def command() -> Accepted:
        assert body is not None  # forms.act sends nothing while the form has errors
        return svc.cases.correct_case_entry(sent.command, case_id, position=body.position,
                                            changes=body.changes, reason=body.reason)

    def again(f: forms.Sent, status: int) -> Response:
        return _page(request, svc, caller, case, entries, entry, f, status,
                     personal=({name: f.typed.get(WAS + name, "") for name in personal} if revealed else None))

    return await forms.act(
        sent, command, done=lambda accepted: f"/cases/{case_id}?done={accepted.version}#v{accepted.version}",
        timeline=lambda: case_present.timeline(svc.cases.case_history(caller, case_id), svc.settings.late_entry_days,
                                               svc.ledger.unit_names),
        again=again, fields=RULE_FIELDS,
    )
