"""Clear free text refuses a resident ID number or a mobile number, and never echoes it."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st
from stdnum.cn import ric

from domain.base import InvalidCommand
from domain.free_text import RULE, check_free_text, holds_id_or_mobile_number

ID_BODY = "11010520120515341"
ID_NUMBER = ID_BODY + ric.calc_check_digit(ID_BODY + "0")
WRONG_CHECK_DIGIT = ID_BODY + ("1" if ID_NUMBER[-1] != "1" else "2")
X_BODY = "11010519491231002"  # its check character is X
FIRST_GENERATION_ID = "110105" + "491231" + "002"  # region, YYMMDD, sequence: no check digit


@pytest.mark.parametrize("text", [
    f"王小明{ID_NUMBER}",
    f"身份证：{ID_NUMBER[:6]} {ID_NUMBER[6:14]} {ID_NUMBER[14:]}",
    f"身份证：{ID_NUMBER[:6]}-{ID_NUMBER[6:14]}-{ID_NUMBER[14:]}",
    "".join(chr(ord(c) + 0xFEE0) for c in ID_NUMBER),  # typed full-width
    f"号码{X_BODY}x。",
    "联系电话13812345678",
    "电话 138 1234 5678",
    "电话：139-1234-5678。",
    "１５９１２３４５６７８",
    "+8613812345678",
    "8613812345678",  # the "86" before the mobile number is its country code, not a longer run
    "联系 0086 138 1234 5678",
    "1381 234 5678",
    "1381234 5678",
    "138.1234.5678",
    "电话13812345678 2019年",  # a number after a space is not part of the mobile number
    " ".join(ID_NUMBER[i:i + 4] for i in range(0, 18, 4)),  # 1101 0520 1205 1534 1x
    f"身份证 {X_BODY[:4]} {X_BODY[4:8]} {X_BODY[8:12]} {X_BODY[12:16]} {X_BODY[16:]}X",
    f"2019 {ID_NUMBER}",
    FIRST_GENERATION_ID,
    f"老身份证{FIRST_GENERATION_ID[:6]} {FIRST_GENERATION_ID[6:12]} {FIRST_GENERATION_ID[12:]}",
])
def test_an_id_or_mobile_number_is_found_however_it_is_typed(text: str) -> None:
    assert holds_id_or_mobile_number(text)


@pytest.mark.parametrize("text", [
    WRONG_CHECK_DIGIT,  # 18 digits that are no valid ID number
    "12345678901",  # 11 digits, not 1[3-9]
    "文号东政办〔2019〕6号，办结时间2019-03-01",
    "123812345678",  # the "phone" is part of a longer number
    "统一社会信用代码 913812345678901234",
    "固定电话 027-83912345",
    "",
    "订单号 202612041234567",  # 15 digits: no known region, no date in the 1900s
    "110105" + "491331" + "002",  # a known region, but no 13th month
    "990105" + "491231" + "002",  # a real date, but no such region
    "1" + FIRST_GENERATION_ID,  # 16 digits
    "8613812345678" + "9",  # 14 digits: no mobile number inside
    "得分 2019-03-01 至 2019-12-31",
])
def test_other_numbers_and_plain_text_pass(text: str) -> None:
    assert not holds_id_or_mobile_number(text)


def test_the_refusal_names_the_rule_and_the_sealed_fields_and_not_the_value() -> None:
    with pytest.raises(InvalidCommand) as refused:
        check_free_text("删除理由", "r", {"nested": [f"孩子身份证{ID_NUMBER}"]})
    assert refused.value.rule == RULE
    assert "删除理由" in refused.value.message and "加密" in refused.value.message
    assert "身份证号码" in refused.value.message and ID_NUMBER not in str(refused.value)
    assert refused.value.context == {}
    check_free_text("删除理由", "年满十八周岁", None, 3)  # non-text left to the field's own checks


@given(st.text(alphabet=st.characters(blacklist_categories=("Nd", "No", "Nl"))))
def test_text_without_digits_never_matches(text: str) -> None:
    assert not holds_id_or_mobile_number(text)
