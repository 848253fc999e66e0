"""The formats of the text the API takes: one source for the check the server makes and for what
the OpenAPI document states, so the document says exactly what is accepted (a client generating
requests from the document gets no refusal for their shape).

Dates and times, If-Match and Idempotency-Key are regular expressions, written in the part of the
syntax that Python's ``re`` (what schemathesis and hypothesis generate from), the Rust ``regex``
crate (what pydantic validates with) and JSON Schema validators read alike: explicit character
ranges, no ``\\d``, ``$`` only after characters that exclude a line feed.

Free text is checked by character category (``inputs``); the document states the same rule as a
``not``/``pattern`` pair — "contains none of these characters" — built from those categories.
"""

from __future__ import annotations

import sys
import unicodedata
from functools import cache
from typing import Any

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

# What a refusal by each pattern says (validation_messages): the patterns themselves are long.
SAID = {
    DAY: "应为日期，格式 YYYY-MM-DD，在 1990-01-01 至 2100-12-31 之间",
    MOMENT: "应为 ISO 8601 时间（如 2019-05-31T09:30:00+08:00），日期在 1990–2100 年之间",
    DAY_OR_MOMENT: "应为 ISO 8601 日期或时间（如 2019-05-31 或 2019-05-31T09:30:00+08:00），1990–2100 年",
    IF_MATCH: '应为版本号，形如 "3"',
    IDEMPOTENCY_KEY: "应为 1–200 个可见 ASCII 字符",
}

# Characters no text may hold: control, format (zero-width, bidirectional overrides), surrogate
# and private-use characters. Texts of several lines keep tab and line feed (CRLF is read as LF).
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})
KEPT_IN_TEXT = frozenset("\t\n")


def _escape(cp: int) -> str:
    # BMP code points as \uXXXX, which every engine reads; others as the character itself, since
    # engines spell them differently (\U0010FFFF, \u{10FFFF}).
    return f"\\u{cp:04X}" if cp <= 0xFFFF else chr(cp)


@cache
def _refused_class(multiline: bool) -> str:
    # Surrogates are left out: a JSON text carries them only as \u escapes of another character's
    # halves, and engines that read UTF-16 would take every character beyond the BMP for them.
    refused = [cp for cp in range(sys.maxunicode + 1)
               if unicodedata.category(chr(cp)) in REFUSED_CATEGORIES - {"Cs"}
               and not (multiline and chr(cp) in KEPT_IN_TEXT | {"\r"})]
    runs, start = [], refused[0]
    for previous, cp in zip(refused, [*refused[1:], -1], strict=True):
        if cp != previous + 1:
            runs.append(_escape(start) if start == previous else f"{_escape(start)}-{_escape(previous)}")
            start = cp
    # A carriage return only as the first half of CRLF.
    return "[" + "".join(runs) + "]" + (r"|\r(?!\n)" if multiline else "")


def text_schema(*, multiline: bool, required: bool) -> dict[str, Any]:
    """The JSON Schema keywords that state ``inputs._clean`` (and ``inputs._nonempty``): no
    refused character, and, when required, not blanks alone (they are stripped). One ``not``
    rather than a ``pattern`` for the second: generators narrow a bare pattern to the length
    bounds beside it as if it were anchored, and ``\\S`` would then forbid every blank."""
    refused = _refused_class(multiline) + (r"|^\s*$" if required else "")
    return {"not": {"pattern": refused}}
