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

# Digits may be typed grouped ("138 1234 5678", "4201-0620-...") or full-width (NFKC).
_SEP = r"[\s\-]?"
# Not part of a longer run of digits: a 20-digit reference number holds no 11-digit phone.
_MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]" + _SEP + r"[0-9]{4}" + _SEP + r"[0-9]{4}(?![0-9])")
_ID_CANDIDATE = re.compile(
    r"(?<![0-9])[0-9]{6}" + _SEP + r"[0-9]{8}" + _SEP + r"[0-9]{3}[0-9Xx](?![0-9])"
)


def holds_id_or_mobile_number(text: str) -> bool:
    """Whether ``text`` holds a valid 18-digit resident ID number (checksum and birth date
    as python-stdnum checks them) or an 11-digit mainland mobile number (1[3-9]…)."""
    normal = unicodedata.normalize("NFKC", text)
    if _MOBILE.search(normal):
        return True
    for found in _ID_CANDIDATE.finditer(normal):
        if ric.is_valid(re.sub(r"[\s\-]", "", found.group()).upper()):
            return True
    return False


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
