"""What every correction form (更正记录) shares, whatever record it corrects: the values an
entry holds now (as recorded, then each correction of it), and the fields of a sent form
whose typed value differs from them, typed as ``POST …/corrections`` takes its ``changes``.
The issue's form (interfaces.web.correction_forms) and the case's
(interfaces.web.case_correction_forms) each name their fields, labels and kinds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from interfaces.http.inputs import cleaned, moment_or_day_end
from interfaces.web import forms
from interfaces.web.present import BEIJING

# The entry's corrected values are sent under these names: "reason" is the correction's own.
PREFIX = "new_"
TIME = "occurred_at"
# A field's label and kind: an input type ("text", "date", "number", "datetime-local"), "area",
# "dates" (a list of dates in one line), "select", "flag" (a checkbox) or "several" (checkboxes).
Fields = Mapping[str, tuple[str, str]]
_LIST_SEPARATORS = re.compile(r"[\s,，、;；]+")


def shown(value: Any, kind: str = "text") -> str | list[str]:
    """A value as the form's field holds it."""
    if kind == "flag":
        return "true" if value else ""
    if kind == "several":
        return [str(v) for v in value or []]
    if isinstance(value, datetime):
        return value.astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return "、".join(str(shown(v)) for v in value)
    return "" if value is None else str(value)


def current_values(entries: list[dict[str, Any]], entry: dict[str, Any], fields: Fields) -> dict[str, Any]:
    """The entry's values of ``fields`` as they stand: as recorded, then each correction of it."""
    values = {name: entry["fields"].get(name) for name in fields}
    if TIME in values:
        values[TIME] = entry["occurred_at"]
    for later in entries:
        if later["type"] == "EntryCorrected" and later["fields"].get("corrected_version") == entry["version"]:
            values.update({k: v for k, v in later["fields"].get("changes", {}).items() if k in values})
    if isinstance(values.get(TIME), str):  # a corrected time is stored as ISO text
        values[TIME] = datetime.fromisoformat(values[TIME])
    return {name: shown(value, fields[name][1]) for name, value in values.items()}


def lists(fields: Fields) -> list[str]:
    """The form's names that may repeat (forms.receive's ``lists``)."""
    return [PREFIX + name for name, (_, kind) in fields.items() if kind == "several"]


def changes_typed(sent: forms.Sent, before: Mapping[str, Any], fields: Fields, *,
                  may_be_empty: Iterable[str] = ()) -> dict[str, Any]:
    """The fields whose typed value differs from what the entry holds (``before``), as the
    API takes them; each refused beside its field, or the whole form when none changed."""
    changes: dict[str, Any] = {}
    empty_ok = frozenset(may_be_empty)
    for name, was in before.items():
        kind = fields[name][1]
        if kind == "flag":
            # An unchecked box sends nothing: its absence is the answer.
            if ("true" if PREFIX + name in sent.typed else "") != was:
                changes[name] = not was
            continue
        if kind == "several":
            chosen = list(dict.fromkeys(sent.typed.get(PREFIX + name, [])))
            if sorted(chosen) != sorted(was):
                changes[name] = chosen
            continue
        try:
            # As the API's models clean text: a browser sends a textarea's line ends as CRLF.
            typed = cleaned(str(sent.typed.get(PREFIX + name, was)), multiline=kind == "area")
        except ValueError as refused:
            sent.refuse(PREFIX + name, str(refused))
            continue
        if typed == was:
            continue
        if not typed and name not in empty_ok:
            sent.refuse(PREFIX + name, "不能为空；不需更正的栏目请保留原值")
            continue
        try:
            if kind == "number":
                changes[name] = float(typed) if "." in typed else int(typed)
            elif kind == "datetime-local":
                changes[name] = moment_or_day_end(typed).isoformat()
            elif kind == "dates":
                changes[name] = [n for n in _LIST_SEPARATORS.split(typed) if n]
            else:
                changes[name] = typed
        except ValueError:
            sent.refuse(PREFIX + name, "格式不正确")
    if not changes and not sent.errors:
        sent.refuse(forms.WHOLE_FORM, "没有改动：请修改需要更正的内容后再提交")
    return changes

