"""The formats of the text the API takes, as regular expressions: one source for the check the
server makes and for the pattern the OpenAPI document states, so the document says exactly what
is accepted (a client generating requests from the document gets no refusal for their shape).

The patterns are written in the part of regular-expression syntax that Python's ``re`` (what
schemathesis and hypothesis generate from), the Rust ``regex`` crate (what pydantic validates
with) and JSON Schema validators read alike: explicit character ranges, no ``\\s`` or ``\\d``
(their Unicode meanings differ between engines), ``$`` only after characters that exclude a
line feed.
"""

from __future__ import annotations

import sys
import unicodedata

# Dates the ledger takes: 1990-01-01 to 2100-12-31 (inputs.EARLIEST, inputs.LATEST), only days
# that exist (29 February in leap years only; 2100 is not one).
_YEAR = r"(?:199[0-9]|20[0-9][0-9]|2100)"
_DAY = (
    r"(?:" + _YEAR + r"-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
    r"|(?:0[13578]|1[02])-31)|(?:199[26]|20(?:[02468][048]|[13579][26]))-02-29)"
)
# A time of day with minutes, optional seconds and fraction, and an optional offset (none means
# Beijing time); the date is checked as written, before the offset is applied.
_TIME = (
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?"
)
DAY = "^" + _DAY + "$"
MOMENT = "^" + _DAY + _TIME + "$"
DAY_OR_MOMENT = "^" + _DAY + "(?:" + _TIME + ")?$"

# An entity tag holding the version, as RFC 9110 writes it ("3", W/"3"), or the bare number.
IF_MATCH = r'^[ \t]*(?:(?:W/)?"[0-9]{1,12}"|[0-9]{1,12})[ \t]*$'
IDEMPOTENCY_KEY = r"^[\x21-\x7e]{1,200}$"


def _ranges(codepoints: list[int]) -> str:
    """A character-class body for the code points, as runs of ``\\uXXXX``/``\\UXXXXXXXX``."""
    def escape(cp: int) -> str:
        return f"\\u{cp:04X}" if cp <= 0xFFFF else f"\\U{cp:08X}"

    parts, start = [], None
    for i, cp in enumerate(codepoints):
        if start is None:
            start = cp
        if i + 1 == len(codepoints) or codepoints[i + 1] != cp + 1:
            parts.append(escape(start) if start == cp else f"{escape(start)}-{escape(cp)}")
            start = None
    return "".join(parts)


# What inputs._clean refuses: control, format and private-use characters (surrogates cannot
# travel in JSON text as characters at all). Tab and line feed are allowed in multi-line text.
_REFUSED = [cp for cp in range(sys.maxunicode + 1)
            if unicodedata.category(chr(cp)) in ("Cc", "Cf", "Co")]
_REFUSED_IN_TEXT = [cp for cp in _REFUSED if chr(cp) not in "\t\n"]
# What str.strip() takes off and the cleaning allows in a line: a value of only these is empty.
_BLANKS = [cp for cp in range(sys.maxunicode + 1) if chr(cp).isspace() and cp not in _REFUSED]

_LINE_CHAR = "[^" + _ranges(_REFUSED) + "]"
_LINE_VISIBLE = "[^" + _ranges(_REFUSED) + _ranges(_BLANKS) + "]"
_BLANK = "[" + _ranges(_BLANKS) + "]"
_TEXT_CHAR = "(?:[^" + _ranges(_REFUSED_IN_TEXT) + "]|\\r\\n)"
_TEXT_BLANK = "(?:[" + _ranges(_BLANKS) + "\\t\\n]|\\r\\n)"

LINE = "^" + _LINE_CHAR + "*$"
REQUIRED_LINE = "^" + _BLANK + "*" + _LINE_VISIBLE + _LINE_CHAR + "*$"
TEXT = "^" + _TEXT_CHAR + "*$"
REQUIRED_TEXT = "^" + _TEXT_BLANK + "*" + _LINE_VISIBLE + _TEXT_CHAR + "*$"

# What a refusal by each pattern says (validation_messages): the patterns themselves are long.
SAID = {
    DAY: "应为日期，格式 YYYY-MM-DD，在 1990-01-01 至 2100-12-31 之间",
    MOMENT: "应为 ISO 8601 时间（如 2019-05-31T09:30:00+08:00），日期在 1990–2100 年之间",
    DAY_OR_MOMENT: "应为 ISO 8601 日期或时间（如 2019-05-31 或 2019-05-31T09:30:00+08:00），1990–2100 年",
    IF_MATCH: '应为版本号，形如 "3"',
    IDEMPOTENCY_KEY: "应为 1–200 个可见 ASCII 字符",
    LINE: "不能包含控制字符",
    REQUIRED_LINE: "不能为空，不能包含控制字符或换行",
    TEXT: "不能包含控制字符",
    REQUIRED_TEXT: "不能为空，不能包含控制字符",
}
