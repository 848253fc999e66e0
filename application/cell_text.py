"""A spreadsheet cell's text as a person reads it (问题清单 import and export): no markup,
no control characters, single spaces, no doubled clause marks."""

from __future__ import annotations

import html
import re
import unicodedata

_BLOCK_TAG = re.compile(r"<\s*/?\s*(?:br|p|div|li|tr|h[1-6]|ul|ol|table)\b[^<>]*>", re.IGNORECASE)
_TAG = re.compile(r"<!--.*?(?:-->|$)|<\s*/?\s*[A-Za-z][\w:.-]*(?:\s[^<>]*)?/?\s*>", re.DOTALL)
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]")
_SPACES = re.compile(r"\s+")
# Two or more clause marks in a row (。；  ；。  。。  ，。), left by tables that join cells
# or end every item with both: the strongest stands (。 over ； over ，). 、 is left alone:
# "1、" numbers measures.
_DOUBLED_MARKS = re.compile(r"[。；，](?: ?[。；，])+")
_STRONGEST = "。；，"


def _strongest_mark(run: re.Match[str]) -> str:
    return next(mark for mark in _STRONGEST if mark in run.group())


def clean_cell(value: str) -> str:
    """Cell text as a person reads it: no markup, NFC, single spaces, no blank lines, no
    doubled clause marks.

    Markup is removed until none is left (``&amp;lt;p&amp;gt;`` included), so cleaning is
    idempotent and an exported cell reads back exactly as it was written.
    """
    text = str(value)
    for _ in range(16):
        stripped = _strip_markup(text)
        if stripped == text:
            break
        text = stripped
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    lines = (_DOUBLED_MARKS.sub(_strongest_mark, line) for line in lines)
    return "\n".join(line for line in lines if line)


def _strip_markup(text: str) -> str:
    text = html.unescape(_TAG.sub("", _BLOCK_TAG.sub("\n", text)))
    text = "".join(_visible(char) for char in _LINE_BREAKS.sub("\n", text))
    return unicodedata.normalize("NFC", text)


def _visible(char: str) -> str:
    if char == "\n":
        return char
    category = unicodedata.category(char)
    if category == "Cc":
        return " " if char == "\t" else ""
    if category in ("Cf", "Cs"):  # zero-width spaces, BOMs, lone surrogates
        return ""
    return char
