"""Corrections of a case's entries that touch personal data: the personal fields in the
changes are sealed (with the rest of the entry's sealed fields) before the case sees them,
and checked as strictly as the requests that first recorded them."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from application.case_seals import CaseSeals
from domain.base import InvalidCommand
from domain.case import ChildCase
from domain.case_corrections import CORRECTIONS
from domain.case_personal import month_of
from domain.person import MAX_NAME_LENGTH, check_person, check_person_values

GUARDIAN_FIELDS = {"name": MAX_NAME_LENGTH, "relation": 100, "phone": 32}
_PHONE = re.compile(r"[0-9+\- ]*")  # as the guardianship request takes it
# Names only the service writes: a caller cannot make sealed text, nor a clear birth month
# that disagrees with it.
SERVICE_CHANGES = CORRECTIONS.written_by_service


def check_changes(changes: dict[str, Any], reason: str) -> None:
    """Refuses, before anything is loaded, changes to what only the service writes, and a
    correction without a reason."""
    reserved = sorted(SERVICE_CHANGES & changes.keys())
    if reserved:
        raise InvalidCommand(
            "correction_changes_correctable_fields", f"该记录不能更正这些字段：{'、'.join(reserved)}"
        )
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidCommand("correction_needs_reason", "更正须说明理由")


def sealed_changes(
    seals: CaseSeals, c: ChildCase, version: int, changes: dict[str, Any], *, reads_personal: bool
) -> tuple[dict[str, Any], date | None]:
    """The changes as the case records them, with the personal ones sealed; and the exact
    birth date the corrected case has, for the age rules."""
    entry = c.recorder_of(version) or {}
    kind = entry.get("type", "")
    # The personal fields (domain.case_corrections) are sealed with the entry's others.
    personal = CORRECTIONS.to_seal(kind, changes, key_alive=seals.alive(c.id))
    clear = {k: v for k, v in changes.items() if k not in personal}
    birth_date = seals.birth_date(c)
    if not personal:
        return clear, birth_date
    seals.require_key(c.id)  # refused once the key is erased, before anything else is checked
    if kind == "EntryCorrected":
        if not isinstance(personal["reason"], str) or not personal["reason"].strip():
            raise InvalidCommand("correction_values_valid", "更正后的值格式不正确")
        return {**clear, "sealed_reason": seals.seal(c.id, {"reason": personal["reason"]})}, birth_date
    if kind == "Registered":
        fields, birth_date = _corrected_person(seals, c, personal, reads_personal)
        sealed = {"sealed": seals.seal(c.id, fields)}
        if "birth_date" in personal:
            sealed["birth_month"] = month_of(birth_date)
        return {**clear, **sealed}, birth_date
    current = seals.opened(c, _sealed_of(c, kind, version))
    return {**clear, "sealed": seals.seal(c.id, {**current, **_checked_personal(kind, personal, current)})}, birth_date

def _corrected_person(
    seals: CaseSeals, c: ChildCase, personal: dict[str, Any], reads_personal: bool
) -> tuple[dict[str, Any], date]:
    """The corrected person, checked. Each given value is checked on its own before
    anything is compared with the sealed fields; and one who may not read them must
    correct the ID number and the birth date together, so that no answer compares a
    value of theirs with a sealed one (a guess at the sealed birth date, by ID numbers
    made for each day, would otherwise be answered)."""
    check_person_values(personal)
    try:
        if "birth_date" in personal:
            date.fromisoformat(str(personal["birth_date"]))
    except ValueError:
        raise InvalidCommand("correction_values_valid", "更正后的值格式不正确") from None
    if not reads_personal and ("id_number" in personal) != ("birth_date" in personal):
        raise InvalidCommand(
            "id_number_corrected_with_birth_date", "更正身份证号码或出生日期时，须同时填写两者"
        )
    current = seals.opened(c, c.sealed)
    merged = {**current, **personal}
    try:
        birth_date = date.fromisoformat(str(merged.get("birth_date") or c.birth_date))
    except ValueError:
        raise InvalidCommand("correction_values_valid", "更正后的值格式不正确") from None
    if any(not isinstance(merged.get(k, ""), (str, type(None))) for k in ("name", "id_number", "address", "guardian")):
        raise InvalidCommand("correction_values_valid", "更正后的值格式不正确")
    fields = check_person(
        name=merged.get("name", ""), id_number=merged.get("id_number", ""), birth_date=birth_date,
        address=merged.get("address"), guardian=merged.get("guardian"),
    )
    return fields, birth_date


def entry_personal(seals: CaseSeals, c: ChildCase, version: int) -> dict[str, Any]:
    """The personal fields the entry of ``version`` holds now (its corrections applied), as a
    correction of it names them; empty once the key is gone. Callers log the read first."""
    kind = (c.recorder_of(version) or {}).get("type", "")
    if kind == "Registered":
        person = seals.opened(c, c.sealed)
        # Registered before the exact date was sealed: the case keeps it in clear.
        return {**person, "birth_date": c.birth_date.isoformat()} if person and c.birth_date else person
    if kind == "EntryCorrected":
        sealed = None
        for correction in c.corrections:  # the reason as recorded, then as later corrected
            if correction["version"] == version:
                sealed = correction.get("sealed_reason")
            elif correction["corrected_version"] == version and correction["changes"].get("sealed_reason"):
                sealed = correction["changes"]["sealed_reason"]
        return seals.opened(c, sealed) if sealed else {}
    if kind in ("GuardianshipRecorded", "MandatoryReportFiled", "ServiceProvided", "Visited"):
        sealed = _sealed_of(c, kind, version)
        return seals.opened(c, sealed) if sealed else {}
    return {}


def _sealed_of(c: ChildCase, kind: str, version: int) -> str | None:
    """The sealed text an entry holds now (corrections applied)."""
    if kind == "GuardianshipRecorded":
        return next(g["sealed"] for g in c.guardianships if g["version"] == version)
    if kind == "MandatoryReportFiled":
        return c.reports[(c.recorder_of(version) or {})["report_id"]].get("sealed")
    items = c.services if kind == "ServiceProvided" else c.visits
    return next(i.get("sealed") for i in items if i["version"] == version)


def _checked_personal(kind: str, personal: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Corrected personal values as valid as the originals (the request schemas' limits)."""
    invalid = InvalidCommand("correction_values_valid", "更正后的值格式不正确")
    if kind == "GuardianshipRecorded":
        guardian = personal["guardian"]
        if not isinstance(guardian, dict) or set(guardian) - GUARDIAN_FIELDS.keys():
            raise invalid
        merged = {**current, **guardian}
        for name, limit in GUARDIAN_FIELDS.items():
            value = merged.get(name)
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                raise invalid
        if not isinstance(merged.get("name"), str) or not merged["name"].strip():
            raise invalid
        if merged.get("phone") is not None and not _PHONE.fullmatch(merged["phone"]):
            raise invalid
        return merged
    for value in personal.values():
        if not isinstance(value, str) or not value.strip() or len(value) > 5000:
            raise invalid
    return dict(personal)
