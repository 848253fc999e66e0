"""What a case shows: sealed text masked in histories, a legacy clear birth date shown as its
month, and the personal fields opened for those who may read them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from application.personal_data import ERASED
from application.ports import Opened
from domain.case import ChildCase

SEALED_MARK = "［已加密］"
ERASED_MARK = "［已删除］"


def hide_legacy_birth_date(kind: str, fields: dict[str, Any]) -> None:
    """Entries recorded before the exact birth date was sealed hold it in clear: the history
    shows its month instead (the date itself only in the personal fields)."""
    if kind == "Registered" and fields.get("birth_date") is not None:
        fields["birth_month"] = fields.get("birth_month") or str(fields["birth_date"])[:7]
        del fields["birth_date"]
    elif kind == "EntryCorrected" and isinstance(fields.get("changes"), dict) and "birth_date" in fields["changes"]:
        changes = dict(fields["changes"])
        changes.setdefault("birth_month", str(changes.pop("birth_date"))[:7])
        fields["changes"] = changes


def mask_sealed(fields: dict[str, Any]) -> None:
    """Sealed text never leaves the service in answers: a mark says something is there."""
    for key, value in list(fields.items()):
        if (key == "sealed" or key.startswith("sealed_")) and value is not None:
            fields[key] = SEALED_MARK
        elif isinstance(value, dict):
            mask_sealed(value)


def open_personal_fields(case: ChildCase, unseal: Callable[[str | None], Opened]) -> dict[str, Any]:
    def opened(sealed: str | None) -> Any:
        value = unseal(sealed)
        return ERASED_MARK if value is ERASED else value

    person = opened(case.sealed)
    # A corrected correction shows its latest reason (the correcting entry shows the change).
    reasons: dict[int, dict[str, Any]] = {}
    for c in case.corrections:
        if c["changes"].get("sealed_reason"):
            new = opened(c["changes"]["sealed_reason"])
            reasons[c["corrected_version"]] = new if isinstance(new, dict) else {"reason": new}
    if isinstance(person, dict) and case.birth_date is not None:
        # Registered before the exact date was sealed: it is shown here, not in the case.
        person = {**person, "birth_date": case.birth_date.isoformat()}
    return {
        "person": person,
        "guardianships": [opened(g["sealed"]) for g in case.guardianships],
        "reports": {rid: opened(r.get("sealed")) for rid, r in case.reports.items() if r.get("sealed")},
        "services": [opened(s["sealed"]) for s in case.services if s.get("sealed")],
        "visits": [opened(v["sealed"]) for v in case.visits if v.get("sealed")],
        "corrections": [
            {"version": c["version"], "corrected_version": c["corrected_version"],
             **({"reason": c["reason"]} if c.get("reason") is not None else {}),
             **(opened(c.get("sealed_reason")) or {}),
             **reasons.get(c["version"], {}),
             **({"changes": changes} if (changes := _personal_changes(c["changes"], opened)) else {})}
            for c in case.corrections
            if c.get("sealed_reason") or _personal_changes(c["changes"], opened)
        ],
    }


def _personal_changes(changes: dict[str, Any], opened: Callable[[str | None], Any]) -> dict[str, Any]:
    """What a correction changed that only the personal fields show: sealed changes, the
    sealed new reason of a corrected correction, and a legacy clear birth date."""
    shown: dict[str, Any] = {}
    for key in ("sealed", "sealed_reason"):
        if changes.get(key):
            value = opened(changes[key])
            if not isinstance(value, dict):
                return value  # type: ignore[no-any-return]  # the erased mark
            shown.update(value)
    if changes.get("birth_date") is not None:
        shown["birth_date"] = str(changes["birth_date"])
    return shown
