"""Free text that stays in clear must not carry a child's ID number or mobile number.

Clear text outlives crypto-shredding: a number typed into a duty, a summary or the erasure
reason would stand in the log after the child's key is gone. The numbers go in the sealed
fields instead; this is the check every clear free-text field passes through.

The matched value is never echoed: the message names the rule and where to write instead.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from stdnum.cn import ric

from domain.base import InvalidCommand

RULE = "free_text_holds_no_id_or_mobile_number"
SEALED_FIELDS = "儿童个人信息（姓名、身份证号码、住址、监护人）、监护人信息、强制报告详情、服务记录或走访记录"

# Digits may be typed grouped ("138 1234 5678", "4201 0620 1001 0112 3X", "138.1234.5678")
# or full-width (NFKC): a few spaces, hyphens or dots may stand between any two digits.
_SEP = r"[\s\-.]{0,3}"
_DIGIT = _SEP + r"[0-9]"
# Not part of a longer run of digits: a 20-digit reference number holds no 11-digit phone.
# Only a digit right next to the number counts, so a number followed by a year still shows.
# Every start is tried (a lookahead match), so a candidate that fails cannot hide one that
# overlaps it.
_MOBILE = re.compile(r"(?<![0-9])(?=((?:(?:\+|00)?86" + _SEP + r")?1[3-9]" + _DIGIT * 9 + r")(?![0-9]))")
_ID_CANDIDATE = re.compile(r"(?<![0-9])(?=([0-9]" + _DIGIT * 16 + _SEP + r"[0-9Xx])(?![0-9]))")
# First-generation IDs (15 digits: region, YYMMDD, sequence; no check digit), still in old
# papers about adults such as guardians; see _first_generation_id.
_OLD_ID_CANDIDATE = re.compile(r"(?<![0-9])(?=([0-9]" + _DIGIT * 14 + r")(?![0-9]))")
_SEPARATORS = re.compile(r"[\s\-.]")


def holds_id_or_mobile_number(text: str) -> bool:
    """Whether ``text`` holds a valid 18-digit resident ID number (checksum, birth date and
    region as python-stdnum checks them), a 15-digit first-generation one, or an 11-digit
    mainland mobile number (1[3-9]…, optionally after +86 or 86)."""
    normal = unicodedata.normalize("NFKC", text)
    if _MOBILE.search(normal):
        return True
    for found in _ID_CANDIDATE.finditer(normal):
        if ric.is_valid(_SEPARATORS.sub("", found.group(1)).upper()):
            return True
    return any(_first_generation_id(_SEPARATORS.sub("", found.group(1)))
               for found in _OLD_ID_CANDIDATE.finditer(normal))


def _first_generation_id(digits: str) -> bool:
    """A 15-digit number is taken for a first-generation ID when, read as one, its region
    is a known county and its YYMMDD a real date in the 1900s: what the 18-digit form
    (region, 19YYMMDD, sequence, check digit) it was converted to would pass. Other
    15-digit numbers pass about 1 time in 10,000 (a known region is about 1 in 300, a
    date about 1 in 30), so ordinary reference numbers rarely trip it; old business
    registration numbers, which also start with a region, are refused about 1 time in 30,
    a cost paid by rewording, against an ID kept in clear for good."""
    body = digits[:6] + "19" + digits[6:]
    return ric.is_valid(body + ric.calc_check_digit(body + "0"))


def check_free_text(what: str, *texts: object) -> None:
    """Refuses (422) when any of ``texts`` (strings; others are left to their own checks)
    holds an ID or mobile number; ``what`` names the field for the person reading."""
    for text in _strings(texts):
        if holds_id_or_mobile_number(text):
            raise InvalidCommand(
                RULE,
                f"{what}不能填写身份证号码或手机号码（该内容不加密，个人信息删除后仍会保留）；"
                f"请填写在加密的{SEALED_FIELDS}中",
            )


def _strings(values: Iterable[object]) -> Iterable[str]:
    for value in values:
        if isinstance(value, str):
            yield value
        elif isinstance(value, (list, tuple)):
            yield from _strings(value)
        elif isinstance(value, dict):
            yield from _strings(value.values())
