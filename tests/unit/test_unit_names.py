"""The one code → name lookup (application.unit_names) and the download names."""

from __future__ import annotations

import copy
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, strategies as st

from application.errors import NotFound
from application.unit_names import UnitNames
from infrastructure.spreadsheets.views_export import cell_value, download_names, safe_file_name_part

REGISTERED = {"edu": "区教育局", "pf": "普法和依法治理科", "gf": "公共法律服务管理科"}


def lookup() -> tuple[UnitNames, list[str]]:
    loads: list[str] = []

    def load(code: str) -> Any:
        loads.append(code)
        if code not in REGISTERED:
            raise NotFound("没有这个单位", rule="unit_exists")
        return SimpleNamespace(name=REGISTERED[code])

    return UnitNames(load), loads


def test_each_registered_unit_is_loaded_once_however_often_it_is_named() -> None:
    names, loads = lookup()
    for _ in range(3):
        assert names.of(["edu", "pf", "edu"]) == {"edu": "区教育局", "pf": "普法和依法治理科"}
    assert sorted(loads) == ["edu", "pf"]


def test_a_code_not_registered_is_shown_as_it_is_and_the_ledgers_own_entries_read_system() -> None:
    names, _ = lookup()
    assert names("司法所") == "司法所"
    assert names("system") == "系统"


def test_annotate_puts_a_name_beside_every_unit_field_and_changes_nothing_given() -> None:
    names, _ = lookup()
    answer = {
        "units": ["edu", "pf"], "lead_unit": "edu", "co_units": ["pf"], "deadline": None,
        "measures": [{"unit": "gf", "text": "措施"}], "registering_unit": "pf",
        "reports": [{"accepted_by": "edu", "dispatched_by": None}],
        "leaf": {"unit": "edu"}, "personal": {"unit": "edu"}, "changes": {"unit": "gf"},
        "unit_names": ["as the list wrote them"],
    }
    given_before = copy.deepcopy(answer)
    named = names.annotate(answer)
    assert answer == given_before
    assert named["unit_names"] == ["as the list wrote them"]  # a name already given is kept
    assert (named["lead_unit_name"], named["co_unit_names"]) == ("区教育局", ["普法和依法治理科"])
    assert named["measures"][0]["unit_name"] == "公共法律服务管理科"
    assert named["registering_unit_name"] == "普法和依法治理科"
    assert named["reports"][0] == {"accepted_by": "edu", "accepted_by_name": "区教育局",
                                   "dispatched_by": None, "dispatched_by_name": None}
    for recorded in ("leaf", "personal", "changes"):
        assert named[recorded] == answer[recorded]


def test_a_views_table_gets_a_name_column_under_the_old_label_and_the_codes_beside_it() -> None:
    names, _ = lookup()
    table = {
        "columns": [{"key": "seq", "label": "序号"}, {"key": "lead_unit", "label": "牵头单位"},
                    {"key": "co_units", "label": "配合单位"}],
        "rows": [{"seq": 1, "lead_unit": "edu", "co_units": "pf、gf"}, {"seq": 2, "lead_unit": "pf", "co_units": None}],
    }
    before = copy.deepcopy(table)
    named = names.view({"as_of": "x", **table, "sections": {"s": table}, "due_soon": table})
    assert table == before
    for shown in (named, named["sections"]["s"], named["due_soon"]):
        assert [(c["key"], c["label"]) for c in shown["columns"]] == [
            ("seq", "序号"), ("lead_unit_name", "牵头单位"), ("lead_unit", "牵头单位代码"),
            ("co_unit_names", "配合单位"), ("co_units", "配合单位代码")]
        assert [(r["lead_unit_name"], r["co_unit_names"]) for r in shown["rows"]] == [
            ("区教育局", "普法和依法治理科、公共法律服务管理科"), ("普法和依法治理科", None)]


def test_a_spreadsheet_cell_reads_yes_or_no_for_a_boolean_and_keeps_other_values() -> None:
    assert [cell_value(v) for v in (True, False, 1, 0, None, "是")] == ["是", "否", 1, 0, None, "是"]


@pytest.mark.parametrize(("kind", "qualifier", "expected"), [
    ("supervision", None, ("督查督办台账_2026-12-04.xlsx", "supervision_2026-12-04.xlsx")),
    ("evaluation", 2019, ("年终考核_2019_2026-12-04.xlsx", "evaluation_2019_2026-12-04.xlsx")),
    ("problem-list", "东司法[2020]3号", ("问题清单_东司法[2020]3号_2026-12-04.xlsx", "problem-list_2026-12-04.xlsx")),
])
def test_download_names_carry_the_view_the_plan_or_year_and_the_day(kind: str, qualifier: Any, expected: Any) -> None:
    assert download_names(kind, date(2026, 12, 4), qualifier) == expected


@given(st.text(max_size=200))
def test_a_file_name_part_never_holds_what_file_systems_refuse(text: str) -> None:
    part = safe_file_name_part(text)
    assert part and len(part) <= 80
    assert not set('/\\:*?"<>|') & set(part)
    assert all(ord(c) >= 0x20 and c != "\x7f" for c in part)
    assert not part.startswith((".", " ")) and not part.endswith((".", " "))
