"""The 整改措施 cell of a problem list: numbered measures (1、 (1) ① 一、 …) split apart,
and joined back for export."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

_MARKER = re.compile(
    r"(?P<circled>[\u2460-\u2473])"
    r"|[（(]\s*(?P<paren>\d{1,2})\s*[)）]"
    r"|[（(]\s*(?P<cparen>[一二三四五六七八九十]{1,3})\s*[)）]"
    r"|(?P<num>\d{1,2})\s*(?:(?P<dun>、)|(?P<dot>[.．])(?!\d)|(?P<half>[)）]))"
)
_BOUNDARY = frozenset("。；;：:！？!?，,")


def split_measures(text: str) -> list[str]:
    """``1、… 2、…`` (also ``1.`` ``1）`` ``（1）`` ``（一）`` ``①``) as separate measures.

    Markers count only in sequence from 1, in one style (the style of the first "1"), at
    the start of the text or after a space or a sentence mark; so "2019年1.5万元" and a
    nested ``（1）`` inside ``1、`` stay text. Text before the first marker is kept with the
    first measure when it introduces the list ("措施如下：1、…"); otherwise the cell is one
    measure, because splitting it would drop the words before the numbers.
    """
    markers = []
    for match in _MARKER.finditer(text):
        style, number = _marker_style(match)
        if number is None:
            continue
        start = match.start()
        if style != "circled" and start > 0 and not (
            text[start - 1].isspace() or text[start - 1] in _BOUNDARY
        ):
            continue
        markers.append((start, match.end(), style, number))
    first = next((m for m in markers if m[3] == 1), None)
    if first is None:
        return [text] if text else []
    accepted = []
    expected = 1
    for marker in markers:
        if marker[2] == first[2] and marker[3] == expected and marker[0] >= first[0]:
            accepted.append(marker)
            expected += 1
    preamble = text[: first[0]].strip()
    if preamble and not preamble.endswith(("：", ":")):
        return [text]
    bounds = [m[1] for m in accepted]
    ends = [m[0] for m in accepted[1:]] + [len(text)]
    parts = [text[b:e].strip() for b, e in zip(bounds, ends, strict=True)]
    if preamble:
        parts[0] = preamble + parts[0]
    return [part for part in parts if part]


# The numbering styles a joined cell may use, most familiar first.
_NUMBERINGS: tuple[tuple[str, Callable[[int], str]], ...] = (
    ("dun", lambda n: f"{n}、"),
    ("paren", lambda n: f"（{n}）"),
    ("dot", lambda n: f"{n}."),
    ("circled", lambda n: chr(0x2460 + n - 1)),
)


def join_measures(texts: Sequence[str]) -> str:
    """One 整改措施 cell for ``texts``, such that ``split_measures`` gives them back.

    A single measure is written as it is unless its own words would be read as numbered;
    several are numbered one per line, in the first style none of their words can be
    mistaken for (a text may itself say "（1）…").
    """
    distinct = [text for text in dict.fromkeys(t.strip() for t in texts) if text]
    if len(distinct) == 1 and split_measures(distinct[0]) == distinct:
        return distinct[0]
    for style, marker in _NUMBERINGS:
        if style == "circled" and len(distinct) > 20:
            continue
        joined = "\n".join(marker(n) + text for n, text in enumerate(distinct, start=1))
        if split_measures(joined) == distinct:
            return joined
    return "\n".join(f"{n}、{text}" for n, text in enumerate(distinct, start=1))


def _marker_style(match: re.Match[str]) -> tuple[str, int | None]:
    if match["circled"]:
        return "circled", ord(match["circled"]) - 0x2460 + 1
    if match["paren"]:
        return "paren", int(match["paren"])
    if match["cparen"]:
        return "cparen", _chinese_number(match["cparen"])
    style = "dun" if match["dun"] else "dot" if match["dot"] else "half"
    return style, int(match["num"])


def _chinese_number(text: str) -> int | None:
    """一 … 九十九, as numbered headings write them."""
    digits = "一二三四五六七八九"
    tens, ten, ones = text.partition("十")
    if not ten:
        return digits.index(text) + 1 if len(text) == 1 else None
    if len(tens) > 1 or len(ones) > 1 or "十" in ones:
        return None
    high = digits.index(tens) + 1 if tens else 1
    low = digits.index(ones) + 1 if ones else 0
    return high * 10 + low
