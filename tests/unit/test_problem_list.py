"""问题清单 import and export, the pure part: grid reading, row parsing, round trip.

The fixtures are the justice bureau's four-row table from the seed document, in its own
layout (a title line, the header repeated before every row, blank rows between, HTML
inside cells, 公共法律服务管理科 broken across a line, 各司法所), built here as .xlsx and
.csv files in the encodings offices actually send.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Callable, Sequence
from datetime import date

import openpyxl
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from application.cell_text import clean_cell
from application.measure_text import join_measures, split_measures
from application.problem_list import COLUMNS, ProblemListRefused, ProblemRow, read_problem_list
from application.unit_resolution import UnitDirectory, resolve_units
from infrastructure.spreadsheets import grid as grid_module
from infrastructure.spreadsheets.grid import UnreadableSpreadsheet, read_grid
from infrastructure.spreadsheets.problem_list_export import HEADERS, problem_list_workbook

DIRECTORY = UnitDirectory(
    units={
        "普法和依法治理科": "pf",
        "公共法律服务管理科": "gf",
        "常青花园司法所": "sfs-cq",
        "走马岭司法所": "sfs-zml",
        "吴家山司法所": "sfs-wjs",
        "区教育局": "jyj",
    },
    groups={"司法所": ["sfs-cq", "sfs-zml", "sfs-wjs"]},
)
JUSTICE_OFFICES = ("sfs-cq", "sfs-zml", "sfs-wjs")

TITLE = "东西湖区司法局农村留守儿童关爱保护和困境儿童保障工作问题清单"
HEADER = ["序号", "责任单位", "工作职责", "存在问题", "整改措施", "备注"]

DUTY_1 = (
    "以街道（含常青花园社管办）为单位，加强对儿童的法治宣传教育，宣传普及《未成年人保护法》、"
    "《预防未成年人犯罪法》等法律法规，加强对农村留守儿童、困境儿童的普法教育，提高儿童的法制观念、"
    "自我保护意识和防范能力。"
)
MEASURE_1A = "普法和依法治理科将《未成年人保护法》、《预防未成年人犯罪法》等法律法规的学习纳入细化考核标准的内容。"
MEASURE_1B = "各司法所加强对农村留守儿童、困境儿童的普法教育，制定普法活动计划，开展针对性普法活动。"
DUTY_2 = (
    "落实“谁执法、谁普法”普法责任制，指导全区普法成员单位通过以案释法、社区普法、针对重点对象开展"
    "法治宣传教育等多种形式，深入宣传未成年人保护法律法规和政策措施，引导未成年人父母自觉履行监护责任，"
    "强化强制报告主体的法律意识。"
)
PROBLEM_2 = "指导全区普法成员单位开展法治宣传教育针对性有待加强。"
MEASURE_2 = "将对重点对象开展法治宣传教育纳入各普法责任单位的责任清单中，年终进行考核。"
DUTY_3 = (
    "要进一步完善困境儿童法律援助和司法救助机制，坚持非讼援助与诉讼援助相结合，以非讼援助为主，"
    "支持法律援助机构与相关部门建立联动协助机制，使困境儿童得到迅速有效的法律援助保障。"
)
MEASURE_3 = "发挥街道法律援助工作站的作用，拓展困境儿童申请法律援助的途径。"
DUTY_4 = (
    "积极引导法律服务人员为合法权益受到侵害的农村留守儿童、困境儿童及其家庭提供法律援助和法律服务等"
    "专业服务，切实维护其合法权益。"
)
MEASURE_4 = (
    "有针对性地对留守儿童、困境儿童提供法律援助和法律服务等，开辟留守儿童法律援助绿色通道，"
    "维护留守儿童的合法权益。"
)

# The rows as the seed's table holds them, mess included.
SOURCE_ROWS = [
    ["1", "普法和依法治理科 各司法所", DUTY_1, "有待加强具体化进行落实。",
     f"1、{MEASURE_1A} 2、{MEASURE_1B}", ""],
    ["2", "普法和依法治理科", f"<p>{DUTY_2}</p>", f"<p>{PROBLEM_2}</p>", f"<p>{MEASURE_2}</p>", ""],
    ["3", "公共法律服务 务管理科 各司法所", DUTY_3, "在对困境儿童非讼法律援助机制还需进一步完善和加强。",
     MEASURE_3, ""],
    ["4", "公共法律服务 务管理科", DUTY_4, "对于留守儿童、困境儿童法律援助和法律服务需求的把握主动性还有待加强。",
     MEASURE_4, ""],
]


def source_layout(rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER) -> list[list[str]]:
    """A title line, then before every row the header again, and a blank row after it."""
    grid: list[list[str]] = [[TITLE], []]
    for row in rows:
        grid += [list(header), list(row), [""] * len(header)]
    return grid


def as_xlsx(grid: Sequence[Sequence[object]], merges: Sequence[str] = ()) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in grid:
        sheet.append(list(row))
    for cells in merges:
        sheet.merge_cells(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def as_csv(grid: Sequence[Sequence[str]], encoding: str) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out).writerows(grid)
    return out.getvalue().encode(encoding)


def justice_bureau_xlsx() -> bytes:
    rows = [list(row) for row in SOURCE_ROWS]
    rows[3][1] = "公共法律服务\n务管理科"  # in a workbook the break is a line break in the cell
    grid: list[list[object]] = source_layout(rows)
    grid[3][0] = 1  # 序号 typed as a number in one row, stored as text in the others
    return as_xlsx(grid, merges=["A1:F1"])


FILES: dict[str, Callable[[], tuple[bytes, str]]] = {
    "xlsx": lambda: (justice_bureau_xlsx(), "问题清单.xlsx"),
    "csv-utf8": lambda: (as_csv(source_layout(SOURCE_ROWS), "utf-8"), "问题清单.csv"),
    "csv-utf8-bom": lambda: (as_csv(source_layout(SOURCE_ROWS), "utf-8-sig"), "问题清单.csv"),
    "csv-gb18030": lambda: (as_csv(source_layout(SOURCE_ROWS), "gb18030"), "问题清单.csv"),
}


def read(data: bytes, name: str, directory: UnitDirectory = DIRECTORY) -> list[ProblemRow]:
    return list(read_problem_list(read_grid(data, name), directory).rows)


def owners(row: ProblemRow) -> list[tuple[str, str]]:
    return [(m.unit, m.text) for m in row.measures]


def prints(rows: Sequence[ProblemRow]) -> list[str]:
    return [row.fingerprint for row in rows]


# ---- the justice bureau's table ------------------------------------------------------------


@pytest.mark.parametrize("kind", FILES)
def test_the_justice_bureau_list_reads_with_the_right_units_and_measures(kind: str) -> None:
    rows = read(*FILES[kind]())

    assert [row.seq for row in rows] == [1, 2, 3, 4]
    assert all(row.accepted for row in rows), [row.refused for row in rows]
    one, two, three, four = rows
    assert one.units == ("pf", *JUSTICE_OFFICES)
    assert one.unit_names == ("普法和依法治理科", "各司法所")
    assert owners(one) == [("pf", MEASURE_1A), *[(o, MEASURE_1B) for o in JUSTICE_OFFICES]]
    assert two.units == ("pf",)
    assert (two.duty, two.problem) == (DUTY_2, PROBLEM_2)
    assert owners(two) == [("pf", MEASURE_2)]
    assert three.units == ("gf", *JUSTICE_OFFICES)
    assert owners(three) == [("gf", MEASURE_3)]
    assert four.units == ("gf",)
    assert owners(four) == [("gf", MEASURE_4)]
    for broken in (three, four):
        assert len(broken.warnings) == 1
        assert "公共法律服务" in broken.warnings[0] and "“公共法律服务管理科”" in broken.warnings[0]
    assert one.warnings == two.warnings == ()
    assert [row.lines for row in rows] == [(4,), (7,), (10,), (13,)]


def test_every_encoding_reads_to_the_same_rows() -> None:
    fingerprints = {tuple(row.fingerprint for row in read(*make())) for make in FILES.values()}
    assert len(fingerprints) == 1


def test_the_shipped_sample_reads_cleanly() -> None:
    from pathlib import Path

    sample = Path(__file__).parents[2] / "docs" / "samples" / "问题清单-东西湖区司法局.csv"
    data = sample.read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    assert prints(read(data, sample.name)) == prints(read(*FILES["csv-utf8"]()))


def test_doubled_clause_marks_in_a_sample_row_are_tidied_on_import() -> None:
    from pathlib import Path

    sample = Path(__file__).parents[2] / "docs" / "samples" / "问题清单-东西湖区司法局.csv"
    grid = [list(row) for row in read_grid(sample.read_bytes(), sample.name)]
    line = next(i for i, row in enumerate(grid) if row and row[0] == "1")
    grid[line][2] = grid[line][2] + "；"             # 工作职责 …防范能力。；
    grid[line][3] = "有待加强。；具体化进行落实。。"  # 存在问题
    row = read_problem_list(grid, DIRECTORY).rows[0]
    assert row.duty == DUTY_1
    assert row.problem == "有待加强。具体化进行落实。"
    assert [m.text for m in row.measures] == [MEASURE_1A, *[MEASURE_1B] * len(JUSTICE_OFFICES)]


def test_columns_are_found_by_header_text_in_any_order() -> None:
    order = [4, 0, 5, 2, 1, 3]
    shuffled = source_layout(
        [[row[i] for i in order] for row in SOURCE_ROWS], header=[HEADER[i] for i in order]
    )
    rows = list(read_problem_list(shuffled, DIRECTORY).rows)
    assert prints(rows) == prints(read(*FILES["csv-utf8"]()))


def test_header_cells_may_carry_spacing_markup_and_extra_columns() -> None:
    grid = [["序 号", "<b>责任单位</b>", "工作\u3000职责", "存在问题*", "整改措施", "备注", "联系人"],
            ["1", "普法和依法治理科", "职责", "问题", "措施", "", "张三"]]
    (row,) = read_problem_list(grid, DIRECTORY).rows
    assert (row.seq, row.units, row.duty, owners(row)) == (1, ("pf",), "职责", [("pf", "措施")])


def test_a_list_without_remarks_column_reads_with_empty_remarks() -> None:
    grid = [HEADER[:5], ["1", "普法和依法治理科", "职责", "问题", "措施"]]
    (row,) = read_problem_list(grid, DIRECTORY).rows
    assert row.accepted and row.remarks == ""


# ---- refusals of the whole file ------------------------------------------------------------


def test_a_file_without_header_row_is_refused_with_what_it_needs() -> None:
    data = as_csv([row for row in SOURCE_ROWS], "utf-8")
    with pytest.raises(ProblemListRefused) as refused:
        read(data, "问题清单.csv")
    assert refused.value.rule == "problem_list_header_found"
    assert "没有找到表头行" in refused.value.message
    assert all(label in refused.value.message for label in HEADER)


@pytest.mark.parametrize("missing", ["责任单位", "整改措施", "序号"])
def test_a_file_missing_a_column_is_refused_naming_it(missing: str) -> None:
    keep = [i for i, label in enumerate(HEADER) if label != missing]
    grid = source_layout([[row[i] for i in keep] for row in SOURCE_ROWS], [HEADER[i] for i in keep])
    with pytest.raises(ProblemListRefused) as refused:
        read_problem_list(grid, DIRECTORY)
    assert refused.value.rule == "problem_list_columns_present"
    assert f"缺少“{missing}”列" in refused.value.message
    assert "第 3 行" in refused.value.message


def test_a_header_with_no_rows_under_it_is_refused() -> None:
    with pytest.raises(ProblemListRefused, match="没有任何问题行"):
        read_problem_list([[TITLE], HEADER, [""] * 6], DIRECTORY)


# ---- refusals of single rows ---------------------------------------------------------------


def test_an_unknown_unit_refuses_its_row_with_the_reason_and_spares_the_others() -> None:
    rows = [list(row) for row in SOURCE_ROWS]
    rows[1][1] = "普法和依法治理科、区民政局"
    result = read_problem_list(source_layout(rows), DIRECTORY)
    assert [row.seq for row in result.refused] == [2]
    assert result.refused[0].refused == "责任单位“区民政局”未登记"
    assert [row.seq for row in result.accepted] == [1, 3, 4]


@pytest.mark.parametrize(
    ("seq", "reason"),
    [("一", "序号“一”不是正整数"), ("0", "序号“0”不是正整数"), ("第1项", "序号“第1项”不是正整数")],
)
def test_a_row_without_a_usable_number_is_refused(seq: str, reason: str) -> None:
    (row,) = read_problem_list([HEADER, [seq, "普法和依法治理科", "职责", "问题", "措施", ""]], DIRECTORY).rows
    assert row.refused == reason and row.seq is None


def test_empty_duty_problem_or_units_refuse_the_row() -> None:
    grid = [HEADER, ["1", "", "", "", "措施", ""]]
    (row,) = read_problem_list(grid, DIRECTORY).rows
    assert row.refused == "责任单位为空；工作职责为空；存在问题为空"


@pytest.mark.parametrize("column", [2, 3, 4, 5])
def test_a_row_naming_an_id_or_mobile_number_is_refused_and_spares_the_others(column: int) -> None:
    rows = [list(row) for row in SOURCE_ROWS]
    rows[1][column] += "，联系家长13812345678"
    result = read_problem_list(source_layout(rows), DIRECTORY)
    assert [row.seq for row in result.refused] == [2]
    assert "身份证号码或手机号码" in (result.refused[0].refused or "")
    assert "13812345678" not in (result.refused[0].refused or "")
    assert [row.seq for row in result.accepted] == [1, 3, 4]


def test_a_number_used_twice_for_different_problems_refuses_the_second() -> None:
    grid = [HEADER, ["1", "普法和依法治理科", "职责", "问题", "措施", ""],
            HEADER, ["1", "公共法律服务管理科", "别的职责", "别的问题", "措施", ""]]
    first, second = read_problem_list(grid, DIRECTORY).rows
    assert first.accepted
    assert second.refused == "序号 1 与第 2 行重复，但工作职责或存在问题不同"


# ---- one issue over several lines ------------------------------------------------------------


def test_merged_cells_spanning_an_issue_give_one_row_with_each_lines_measure() -> None:
    grid = [HEADER,
            ["1", "普法和依法治理科", "职责", "问题", "制定普法活动计划", ""],
            [None, "常青花园司法所", None, None, "开展针对性普法活动", "按季度报送"]]
    data = as_xlsx(grid, merges=["A2:A3", "C2:C3", "D2:D3"])
    assert read_grid(data, "merged.xlsx")[2][:4] == ["1", "常青花园司法所", "职责", "问题"]

    (row,) = read(data, "merged.xlsx")
    assert row.lines == (2, 3)
    assert row.units == ("pf", "sfs-cq")
    assert owners(row) == [("pf", "制定普法活动计划"), ("sfs-cq", "开展针对性普法活动")]
    assert row.remarks == "按季度报送"


def test_a_merged_measures_cell_is_not_counted_twice() -> None:
    grid = [HEADER,
            ["1", "普法和依法治理科", "职责", "问题", "1、甲 2、乙", ""],
            ["1", "普法和依法治理科", "职责", "问题", None, ""]]
    (row,) = read(as_xlsx(grid, merges=["E2:E3"]), "merged.xlsx")
    assert [m.text for m in row.measures] == ["甲", "乙"]


def test_a_line_without_number_duty_or_problem_continues_the_row_above() -> None:
    grid = [HEADER,
            ["1", "普法和依法治理科", "职责", "问题", "措施一", ""],
            ["", "", "", "", "措施二", ""],
            ["", "", "另一职责", "", "措施三", ""]]
    first, orphan = read_problem_list(grid, DIRECTORY).rows
    assert [m.text for m in first.measures] == ["措施一", "措施二"]
    assert orphan.refused == "缺少序号；责任单位为空；存在问题为空" and orphan.lines == (4,)


# ---- cleaning cells --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<p>落实&ldquo;谁执法&rdquo;</p>", "落实“谁执法”"),
        ("<p style=\"x\">甲</p><p>乙</p>", "甲\n乙"),
        ("甲<br/>乙", "甲\n乙"),
        ("&amp;lt;p&amp;gt;甲", "甲"),
        ("A &lt; B", "A < B"),
        ("3<5岁", "3<5岁"),
        ("  甲\u3000\u00a0乙 \r\n\r\n 丙\t", "甲 乙\n丙"),
        ("e\u0301", "\u00e9"),
        ("普\u200b法\ufeff", "普法"),
        ("<!-- 注释 -->正文", "正文"),
        ("防范能力。；有待加强", "防范能力。有待加强"),
        ("落实。。", "落实。"),
        ("甲；；乙，。", "甲；乙。"),
        ("甲。 ；乙", "甲。乙"),
        ("甲；，乙", "甲；乙"),
        ("甲。\n；乙", "甲。\n；乙"),
        ("1、，加强", "1、，加强"),
        ("暂无……", "暂无……"),
    ],
)
def test_cells_are_cleaned_of_markup_and_spacing(raw: str, clean: str) -> None:
    assert clean_cell(raw) == clean


@given(st.lists(st.sampled_from([*"<>/&;#apbrx 1、\n\t\u3000é\u0301普法。；，", "&amp;", "<p>", "<!--"])).map("".join))
def test_cleaning_is_idempotent(raw: str) -> None:
    once = clean_cell(raw)
    assert clean_cell(once) == once


# ---- resolving units -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "codes", "warned"),
    [
        ("普法和依法治理科 各司法所", ("pf", *JUSTICE_OFFICES), False),
        ("普法和依法治理科、公共法律服务管理科", ("pf", "gf"), False),
        ("普法和依法治理科，\n常青花园司法所", ("pf", "sfs-cq"), False),
        ("普法和依法治理科各司法所", ("pf", *JUSTICE_OFFICES), False),
        ("司法所", JUSTICE_OFFICES, False),
        ("公共法律服务 务管理科", ("gf",), True),
        ("公共法律服务\n务管理科", ("gf",), True),
        ("公共法律服务务管理科", ("gf",), True),
        ("公共法律\n服务管理科", ("gf",), True),
        ("各司法\n所", JUSTICE_OFFICES, True),
        ("常青花园司法所 普法和依法治理科（牵头）", ("pf", "sfs-cq"), False),
        ("走马岭司法所 各司法所", ("sfs-zml", "sfs-cq", "sfs-wjs"), False),
    ],
)
def test_unit_cells_resolve_to_codes(cell: str, codes: tuple[str, ...], warned: bool) -> None:
    resolution = resolve_units(clean_cell(cell), DIRECTORY)
    assert not resolution.unknown
    assert tuple(resolution.codes) == codes
    assert bool(resolution.warnings) is warned


@pytest.mark.parametrize(
    ("cell", "unknown"),
    [
        ("区民政局", ["区民政局"]),
        ("普法和依法治理科 区民政局、团区委", ["区民政局", "团区委"]),
        ("径河司法所", ["径河司法所"]),
        ("普法和依法治理科等", ["等"]),
        ("各街道", ["各街道"]),
    ],
)
def test_unknown_names_are_reported_as_written(cell: str, unknown: list[str]) -> None:
    assert resolve_units(cell, DIRECTORY).unknown == unknown


def test_a_group_without_members_refuses_the_row() -> None:
    directory = UnitDirectory(units={"普法和依法治理科": "pf"}, groups={"司法所": []})
    (row,) = read_problem_list([HEADER, ["1", "各司法所", "职责", "问题", "措施", ""]], directory).rows
    assert row.refused == "单位组“司法所”没有成员单位"


# ---- measures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "measures"),
    [
        ("1、甲。 2、乙。", ["甲。", "乙。"]),
        ("1、甲\n2、乙\n3、丙", ["甲", "乙", "丙"]),
        ("1.甲；2.乙", ["甲；", "乙"]),
        ("（1）甲。（2）乙", ["甲。", "乙"]),
        ("(1) 甲 (2) 乙", ["甲", "乙"]),
        ("（一）甲；（二）乙", ["甲；", "乙"]),
        ("①甲②乙", ["甲", "乙"]),
        ("１、甲 ２、乙", ["甲", "乙"]),
        ("1）甲 2）乙", ["甲", "乙"]),
        ("整改措施如下：1、甲 2、乙", ["整改措施如下：甲", "乙"]),
        ("1、甲（1）子（2）丑 2、乙", ["甲（1）子（2）丑", "乙"]),
        ("投入2019年1.5万元", ["投入2019年1.5万元"]),
        ("共1、2两项 3、乙", ["共1、2两项 3、乙"]),
        ("甲 1、乙 2、丙", ["甲 1、乙 2、丙"]),
        ("3、甲 4、乙", ["3、甲 4、乙"]),
        ("1、甲 3、乙 2、丙", ["甲 3、乙", "丙"]),
        ("1、甲 2、", ["甲"]),
        ("", []),
    ],
)
def test_numbered_measures_are_split(cell: str, measures: list[str]) -> None:
    assert split_measures(cell) == measures


def test_a_measure_is_owned_by_the_responsible_unit_it_names_first() -> None:
    cell = "1、常青花园司法所开展普法讲座，普法和依法治理科指导 2、各司法所制定计划 3、编印宣传册"
    grid = [HEADER, ["1", "普法和依法治理科 各司法所", "职责", "问题", cell, ""]]
    (row,) = read_problem_list(grid, DIRECTORY).rows
    assert owners(row) == [
        ("sfs-cq", "常青花园司法所开展普法讲座，普法和依法治理科指导"),
        *[(office, "各司法所制定计划") for office in JUSTICE_OFFICES],
        ("pf", "编印宣传册"),
    ]


def test_a_measure_naming_a_unit_not_responsible_goes_to_the_lead_with_a_warning() -> None:
    grid = [HEADER, ["1", "公共法律服务管理科", "职责", "问题", "会同区教育局开展法律援助进校园", ""]]
    (row,) = read_problem_list(grid, DIRECTORY).rows
    assert owners(row) == [("gf", "会同区教育局开展法律援助进校园")]
    assert row.warnings == ("整改措施提到的“区教育局”不是本行的责任单位，该措施由“公共法律服务管理科”负责",)


def test_group_named_in_a_measure_means_only_its_members_responsible_for_the_row() -> None:
    grid = [HEADER, ["1", "普法和依法治理科 走马岭司法所", "职责", "问题", "各司法所开展活动", ""]]
    (row,) = read_problem_list(grid, DIRECTORY).rows
    assert owners(row) == [("sfs-zml", "各司法所开展活动")]


# ---- fingerprints ----------------------------------------------------------------------------


def test_fingerprint_ignores_markup_and_spacing_but_not_content() -> None:
    plain = [HEADER, ["1", "普法和依法治理科", "职责", "问题", "1、甲 2、乙", ""]]
    dressed = [HEADER, ["1", " 普法和依法治理科 ", "<p>职责</p>", "问题&nbsp;", "1、甲\n2、乙", ""]]
    changed = [HEADER, ["1", "普法和依法治理科", "职责", "问题已改", "1、甲 2、乙", ""]]
    (a,) = read_problem_list(plain, DIRECTORY).rows
    (b,) = read_problem_list(dressed, DIRECTORY).rows
    (c,) = read_problem_list(changed, DIRECTORY).rows
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_fingerprint_does_not_depend_on_who_is_in_a_group_today() -> None:
    grid = [HEADER, SOURCE_ROWS[0]]
    grown = UnitDirectory(
        units={**DIRECTORY.units, "径河司法所": "sfs-jh"},
        groups={"司法所": [*JUSTICE_OFFICES, "sfs-jh"]},
    )
    (before,) = read_problem_list(grid, DIRECTORY).rows
    (after,) = read_problem_list(grid, grown).rows
    assert after.units == before.units + ("sfs-jh",)
    assert after.fingerprint == before.fingerprint


# ---- reading files ---------------------------------------------------------------------------


def test_csv_may_come_as_utf8_with_or_without_bom_as_gb18030_or_with_tabs() -> None:
    grid = [["序号", "责任单位"], ["1", "普法和依法治理科"]]
    for data in (
        as_csv(grid, "utf-8"),
        as_csv(grid, "utf-8-sig"),
        as_csv(grid, "gb18030"),
        as_csv(grid, "utf-16"),
        "序号\t责任单位\r\n1\t普法和依法治理科\r\n".encode("gbk"),
    ):
        assert read_grid(data, "清单.CSV") == grid


def test_xlsx_cells_read_as_a_person_sees_them() -> None:
    grid = [["序号", 2.0, 3.5, True, date(2019, 12, 31), None, "=SUM(A1)"], [], [], ["末行"], [], []]
    rows = read_grid(as_xlsx(grid), "a.xlsx")
    assert rows[0][:5] == ["序号", "2", "3.5", "TRUE", "2019-12-31"]
    assert rows[0][5] == ""
    assert rows[1] == rows[2] == [""] * 7  # blank rows keep the numbering Excel shows
    assert rows[3][0] == "末行" and len(rows) == 4  # trailing blank rows are dropped


@pytest.mark.parametrize(
    ("data", "name", "rule", "words"),
    [
        (b"anything", "清单.xls", "spreadsheet_format_supported", "另存为 .xlsx"),
        (b"anything", "清单.txt", "spreadsheet_format_supported", "只支持 .xlsx 和 .csv"),
        (b"anything", "清单", "spreadsheet_format_supported", "没有扩展名"),
        (grid_module.OLE_MAGIC + b"\0" * 100, "清单.xlsx", "spreadsheet_format_supported", "旧版 .xls"),
        (b"PK\x03\x04 not really a zip", "清单.xlsx", "spreadsheet_readable", "不是有效的 .xlsx"),
        (b"a plain text file", "清单.xlsx", "spreadsheet_readable", "不是有效的 .xlsx"),
        (b"  \n ", "清单.csv", "spreadsheet_not_empty", "文件是空的"),
        (b"\x81\x30\xff\xfe\xff", "清单.csv", "spreadsheet_encoding_known", "编码无法识别"),
    ],
)
def test_unreadable_files_are_refused_with_a_clear_message(
    data: bytes, name: str, rule: str, words: str
) -> None:
    with pytest.raises(UnreadableSpreadsheet) as refused:
        read_grid(data, name)
    assert refused.value.rule == rule
    assert refused.value.message.startswith("无法读取文件：") and words in refused.value.message


def test_a_zip_of_a_version_python_cannot_open_is_refused() -> None:
    data = bytearray(as_xlsx([["a"]]))
    directory = data.index(b"PK\x01\x02")
    data[directory + 6 : directory + 8] = (64).to_bytes(2, "little")  # "needs zip 6.4"
    with pytest.raises(UnreadableSpreadsheet, match="不是有效的 .xlsx"):
        read_grid(bytes(data), "new.xlsx")


def test_a_zip_bomb_is_refused_before_it_is_inflated() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        inflated = grid_module.MAX_UNCOMPRESSED_BYTES + 1
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * inflated)
    assert len(out.getvalue()) < 100_000
    with pytest.raises(UnreadableSpreadsheet, match="解压后超过大小上限"):
        read_grid(out.getvalue(), "bomb.xlsx")


def test_a_file_over_the_byte_limit_is_refused() -> None:
    with pytest.raises(UnreadableSpreadsheet, match="MB 上限"):
        read_grid(b"a" * (grid_module.MAX_FILE_BYTES + 1), "big.csv")


def test_rows_and_columns_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grid_module, "MAX_ROWS", 3)
    monkeypatch.setattr(grid_module, "MAX_COLUMNS", 4)
    tall = [["x"]] * 4
    wide = [["a", "b", "c", "d", "e"]]
    for grid in (tall, wide):
        for data, name in ((as_xlsx(grid), "t.xlsx"), (as_csv(grid, "utf-8"), "t.csv")):
            with pytest.raises(UnreadableSpreadsheet, match="上限"):
                read_grid(data, name)
    # empty cells past the last column and styled but empty rows cost nothing
    assert read_grid(as_csv([["a", "", "", "", "", ""]], "utf-8"), "t.csv") == [["a", "", "", ""]]
    book = openpyxl.Workbook()
    book.active.append(["a"])
    book.active.cell(row=5000, column=300).style = "Good"
    out = io.BytesIO()
    book.save(out)
    assert read_grid(out.getvalue(), "styled.xlsx") == [["a"]]


def test_a_sheet_claiming_a_huge_dimension_reads_only_its_cells() -> None:
    def claim_everything(xml: bytes) -> bytes:
        return xml.replace(b'ref="A1:B1"', b'ref="A1:XFD1048576"')

    data = _rewrite_sheet(as_xlsx([["序号", "x"]]), claim_everything)
    assert read_grid(data, "claims.xlsx") == [["序号", "x"]]


def test_a_sheet_with_a_doctype_is_refused() -> None:
    def add_doctype(xml: bytes) -> bytes:
        return xml.replace(b"<worksheet", b'<!DOCTYPE w [<!ENTITY a "aaaa">]><worksheet', 1)

    with pytest.raises(UnreadableSpreadsheet, match="文档类型声明"):
        read_grid(_rewrite_sheet(as_xlsx([["a"]]), add_doctype), "dtd.xlsx")


def _rewrite_sheet(data: bytes, change: Callable[[bytes], bytes]) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = change(content)
            target.writestr(item.filename, content)
    return out.getvalue()


# ---- export and round trip ---------------------------------------------------------------------


def issue_dicts(
    rows: Sequence[ProblemRow], directory: UnitDirectory = DIRECTORY
) -> list[dict[str, object]]:
    """What the application hands the export: a registered issue per accepted row."""
    return [
        {
            "seq": row.seq,
            "units": [directory.name_of(code) for code in row.units],
            "duty": row.duty,
            "problem": row.problem,
            "measures": [{"unit": m.unit, "text": m.text} for m in row.measures],
            "remarks": row.remarks,
            "status": "rectifying",
            "lead_unit": directory.name_of(row.units[0]),
            "deadline": date(2019, 12, 31),
            "measures_done": 1,
            "measures_total": len(row.measures),
        }
        for row in rows
        if row.accepted
    ]


def same_issues(before: Sequence[ProblemRow], after: Sequence[ProblemRow]) -> None:
    def shape(row: ProblemRow) -> tuple[object, ...]:
        return (row.seq, row.units, row.duty, row.problem, row.measures, row.remarks, row.refused)

    assert [shape(row) for row in after] == [shape(row) for row in before if row.accepted]


@pytest.mark.parametrize("title", [None, TITLE])
def test_an_exported_list_reads_back_as_the_same_issues(title: str | None) -> None:
    before = read(*FILES["csv-utf8"]())
    exported = problem_list_workbook(issue_dicts(before), title=title)
    same_issues(before, read(exported, "导出.xlsx"))


def test_the_export_has_chinese_headers_a_frozen_header_row_and_status_columns() -> None:
    rows = read(*FILES["xlsx"]())
    book = openpyxl.load_workbook(io.BytesIO(problem_list_workbook(issue_dicts(rows), title=TITLE)))
    sheet = book.active
    assert [cell.value for cell in sheet[2]] == list(HEADERS)
    assert list(HEADERS[:6]) == list(COLUMNS.values())
    assert sheet.freeze_panes == "A3"
    first = [cell.value for cell in sheet[3]]
    assert first[0] == 1
    assert first[1] == "普法和依法治理科、常青花园司法所、走马岭司法所、吴家山司法所"
    assert first[4] == f"1、{MEASURE_1A}\n2、{MEASURE_1B}"  # the group's measure once, not thrice
    assert first[6:] == ["整改中", "普法和依法治理科", "2019-12-31", "1/4"]


def test_exported_text_that_looks_like_a_formula_stays_text() -> None:
    exported = problem_list_workbook(
        [{"seq": 1, "units": ["普法和依法治理科"], "duty": "=HYPERLINK(\"http://x\")", "problem": "问题\x07",
          "measures": ["措施"], "remarks": ""}]
    )
    sheet = openpyxl.load_workbook(io.BytesIO(exported)).active
    assert sheet["C2"].data_type == "s" and sheet["C2"].value == "=HYPERLINK(\"http://x\")"
    assert sheet["D2"].value == "问题"
    assert sheet["G2"].value is None  # no status given, no status written


@pytest.mark.parametrize(
    "texts",
    [["甲"], ["甲", "乙"], ["（1）甲（2）乙"], ["甲 2、乙", "丙"], ["1、甲"], ["①甲", "1.乙 2.丙", "（1）丁 （2）戊"]],
)
def test_joined_measures_split_back_into_the_same_texts(texts: list[str]) -> None:
    assert split_measures(join_measures(texts)) == texts


# ---- fuzzing -------------------------------------------------------------------------------------

NAMES = [*DIRECTORY.units, "各司法所", "公共法律服务 务管理科", "区民政局"]
PIECES = st.one_of(
    st.sampled_from(NAMES),
    st.sampled_from(["1、", "2、", "（1）", "3.", "①", " ", "\n", "、", "<p>", "</p>", "&nbsp;", "&amp;",
                     "序号", "备注", "整改措施", "各", "=1+1", "\t", "\u3000"]),
    st.text(max_size=8),
)
CELL = st.lists(PIECES, max_size=6).map("".join)
ROW = st.lists(CELL, min_size=0, max_size=8)


def _check_report(grid: list[list[str]], directory: UnitDirectory) -> None:
    try:
        report = read_problem_list(grid, directory)
    except ProblemListRefused as refused:
        assert refused.message
        return
    all_codes = set(directory.units.values())
    seen_lines: list[int] = []
    for row in report.rows:
        seen_lines.extend(row.lines)
        assert len(row.fingerprint) == 64
        if row.refused is not None:
            assert row.refused.strip()
            continue
        assert row.seq is not None and row.seq >= 1
        assert row.units and set(row.units) <= all_codes
        assert row.duty and row.problem
        for measure in row.measures:
            assert measure.unit in row.units and measure.text
    assert len(seen_lines) == len(set(seen_lines))  # no line is read into two rows


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROW, max_size=12), st.booleans())
def test_fuzzed_cells_are_accepted_or_refused_with_a_reason(
    rows: list[list[str]], with_header: bool
) -> None:
    grid = ([HEADER] if with_header else []) + rows
    _check_report(grid, DIRECTORY)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(1, 30), ROW), max_size=8))
def test_fuzzed_rows_under_a_header_each_land_in_the_report(
    rows: list[tuple[int, list[str]]]
) -> None:
    grid = [HEADER] + [[str(seq), *cells] for seq, cells in rows]
    try:
        report = read_problem_list(grid, DIRECTORY)
    except ProblemListRefused:
        return
    non_blank = {n for n, row in enumerate(grid[1:], start=2) if any(clean_cell(c) for c in row)}
    assert {line for row in report.rows for line in row.lines} == non_blank
    _check_report(grid, DIRECTORY)


VALID_XLSX = justice_bureau_xlsx()
VALID_CSV = as_csv(source_layout(SOURCE_ROWS), "gb18030")


def _mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    mutated = bytearray(data)
    for position, value in edits:
        mutated[position % len(mutated)] = value
    return bytes(mutated)


EDITS = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=8)
FILE_BYTES = st.one_of(
    st.binary(max_size=2000),
    st.builds(_mutate, st.just(VALID_XLSX), EDITS),
    st.builds(_mutate, st.just(VALID_CSV), EDITS),
    st.builds(lambda head, tail: head + tail, st.just(b"PK\x03\x04"), st.binary(max_size=500)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FILE_BYTES, st.sampled_from(["清单.xlsx", "清单.csv", "清单.xls", "清单"]))
def test_fuzzed_file_bytes_are_read_or_refused_by_name(data: bytes, name: str) -> None:
    try:
        grid = read_grid(data, name)
    except UnreadableSpreadsheet as refused:
        assert refused.message.startswith("无法读取文件：")
        return
    assert all(isinstance(cell, str) for row in grid for cell in row)
    _check_report(grid, DIRECTORY)


SAFE_TEXT = st.text(
    alphabet=st.sampled_from(list("甲乙丙丁问题措施职责，。；：、 1234（）.①") + ["\n"]), min_size=1, max_size=30
)


LISTED_ROWS = st.lists(
    st.tuples(
        st.lists(st.sampled_from([*DIRECTORY.units, "各司法所"]), min_size=1, max_size=3, unique=True),
        SAFE_TEXT, SAFE_TEXT, st.lists(SAFE_TEXT, max_size=4), st.one_of(st.just(""), SAFE_TEXT),
    ),
    min_size=1, max_size=5,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LISTED_ROWS)
def test_any_imported_list_survives_export_and_import(
    rows: list[tuple[list[str], str, str, list[str], str]]
) -> None:
    grid = source_layout([
        [str(seq), " ".join(units), duty, problem, " ".join(measures), remarks]
        for seq, (units, duty, problem, measures, remarks) in enumerate(rows, start=1)
    ])
    before = list(read_problem_list(grid, DIRECTORY).rows)
    assume(any(row.accepted for row in before))
    after = read(problem_list_workbook(issue_dicts(before)), "导出.xlsx")
    same_issues(before, after)
