"""pydantic's validation errors in Chinese, by their ``type``, each with the field's path.

Only the error's type, its location and the limits the schema itself declares (lengths,
bounds, allowed values) go into a message: never the value the client sent, which may
hold a child's personal data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from interfaces.http import formats

_DATE = "应为日期，格式 YYYY-MM-DD（如 2019-05-31）"
_MOMENT = "应为 ISO 8601 时间（如 2019-05-31T09:30:00+08:00）"
_UUID = "应为 UUID（如 123e4567-e89b-42d3-a456-426614174000）"
_NUMBER = "应为数字"
_OBJECT = "应为 JSON 对象"

MESSAGES: dict[str, str] = {
    "missing": "缺少必填字段",
    "extra_forbidden": "接口中没有这个字段",
    "json_invalid": "请求体不是有效的 JSON",
    "json_type": "应为 JSON 文本",
    "model_type": _OBJECT,
    "model_attributes_type": _OBJECT,
    "dict_type": _OBJECT,
    "list_type": "应为数组",
    "tuple_type": "应为数组",
    "set_type": "应为数组",
    "string_type": "应为字符串",
    "string_sub_type": "应为字符串",
    "string_unicode": "应为有效的 Unicode 字符串",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不符（须符合 {pattern}）",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_parsing_size": "整数超出范围",
    "int_from_float": "应为整数，不能有小数部分",
    "float_type": _NUMBER,
    "float_parsing": _NUMBER,
    "decimal_type": _NUMBER,
    "decimal_parsing": _NUMBER,
    "finite_number": "应为有限的数字",
    "bool_type": "应为布尔值 true 或 false",
    "bool_parsing": "应为布尔值 true 或 false",
    "greater_than": "须大于 {gt}",
    "greater_than_equal": "须不小于 {ge}",
    "less_than": "须小于 {lt}",
    "less_than_equal": "须不大于 {le}",
    "multiple_of": "须为 {multiple_of} 的倍数",
    "too_short": "至少 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "date_type": _DATE,
    "date_parsing": _DATE,
    "date_from_datetime_parsing": _DATE,
    "date_from_datetime_inexact": "应为日期，不能带时刻",
    "date_past": "须为过去的日期",
    "date_future": "须为将来的日期",
    "datetime_type": _MOMENT,
    "datetime_parsing": _MOMENT,
    "datetime_from_date_parsing": _MOMENT,
    "datetime_object_invalid": _MOMENT,
    "datetime_past": "须为过去的时间",
    "datetime_future": "须为将来的时间",
    "timezone_aware": "须带时区",
    "timezone_naive": "不能带时区",
    "time_type": "应为时刻（如 09:30:00）",
    "time_parsing": "应为时刻（如 09:30:00）",
    "uuid_type": _UUID,
    "uuid_parsing": _UUID,
    "uuid_version": _UUID,
    "literal_error": "须为以下之一：{expected}",
    "enum": "须为以下之一：{expected}",
    "union_tag_invalid": "类型标记不是可选值之一：{expected_tags}",
    "union_tag_not_found": "缺少类型标记字段 {discriminator}",
    "bytes_type": "应为字节串",
    "bytes_too_short": "至少 {min_length} 个字节",
    "bytes_too_long": "最多 {max_length} 个字节",
    "url_type": "应为网址",
    "url_parsing": "应为网址",
    "none_required": "应为 null",
    "is_instance_of": "类型不符",
    "value_error": "值无效",
    "assertion_error": "值无效",
}

_PLACES = {"body": "请求体", "query": "查询参数", "path": "路径参数", "header": "请求头", "cookie": "Cookie"}
_CJK = re.compile(r"[\u4e00-\u9fff]")


# pydantic names the member of a union it tried inside ``loc`` ("MeasureDraft",
# "function-after[_nonempty(), …]", "str"); our fields are lower-case identifiers.
_UNION_MEMBER = re.compile(r"[\[(]|^[A-Z]|^(?:str|int|float|bool|date|datetime|uuid|list|dict|none|constrained-\w+)$")


def _is_union_member(part: Any) -> bool:
    return isinstance(part, str) and bool(_UNION_MEMBER.search(part))


def field_path(loc: Sequence[Any]) -> str:
    """``("body", "measures", 0, "due")`` → ``measures[0].due``; the place (body, query…) apart."""
    parts = list(loc[1:]) if loc and loc[0] in _PLACES else list(loc)
    if loc and loc[0] == "body":
        parts = [part for part in parts if not _is_union_member(part)]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def message(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    context = error.get("ctx") or {}
    if kind == "value_error":
        # Our own validators say what is wrong in Chinese; any other text may quote the value.
        said = str(context.get("error", ""))
        return said if _CJK.search(said) and len(said) <= 200 else MESSAGES["value_error"]
    if kind == "string_pattern_mismatch" and context.get("pattern") in formats.SAID:
        return formats.SAID[context["pattern"]]
    template = MESSAGES.get(kind)
    if template is None:
        return f"值无效（{kind}）"
    values = {key: _declared(value) for key, value in context.items()}
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return template.split("{")[0].rstrip("：（ ") or "值无效"


def _declared(value: Any) -> str:
    """A limit from the schema, in the message's own punctuation ('a', 'b' or 'c' → a、b、c)."""
    text = str(value)
    if "'" in text:
        text = "、".join(re.findall(r"'([^']*)'", text)) or text
    return text


def translate(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each error as the problem answer lists it: place, field path, Chinese message, type.
    Of the errors of a union's members, the deepest say most ("measures[0].due: 应为日期"
    rather than "measures[0]: 应为字符串")."""
    answer = []
    union_paths = {field_path(e.get("loc", ())) for e in errors if any(map(_is_union_member, e.get("loc", ())))}
    for error in errors:
        loc = list(error.get("loc", ()))
        place = loc[0] if loc and loc[0] in _PLACES else "body"
        kind = str(error.get("type", ""))
        # A JSON syntax error's location is a character offset, not a field.
        path = "" if kind == "json_invalid" else field_path(loc)
        if any(map(_is_union_member, loc)) and any(
            other.startswith(f"{path}.") or other.startswith(f"{path}[") for other in union_paths
        ):
            continue
        answer.append({
            "loc": [str(part) for part in loc], "in": place, "field": path,
            "msg": message(error), "type": kind,
        })
    return answer


def summary(errors: Sequence[Mapping[str, Any]]) -> str:
    """The problem's ``detail``: the first error in words, and how many more there are."""
    if not errors:
        return "请求内容不符合接口定义"
    first = errors[0]
    where = _PLACES.get(str(first["in"]), "请求体")
    named = f"{where} {first['field']}" if first["field"] else where
    more = f"；另有 {len(errors) - 1} 处" if len(errors) > 1 else ""
    return f"请求内容不符合接口定义：{named}：{first['msg']}{more}"
