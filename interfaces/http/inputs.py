"""Field types shared by request bodies: bounded, NFC-normalised, free of control characters."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, GetJsonSchemaHandler, StringConstraints, WithJsonSchema
from pydantic_core import CoreSchema

from interfaces.http import formats

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
EARLIEST = date(1990, 1, 1)
LATEST = date(2100, 12, 31)


def _clean(value: str, *, multiline: bool) -> str:
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n")
    for ch in value:
        if unicodedata.category(ch) in formats.REFUSED_CATEGORIES and not (multiline and ch in formats.KEPT_IN_TEXT):
            raise ValueError("不能包含控制字符")
    return value.strip()


def cleaned(value: str, *, multiline: bool) -> str:
    """Text as the API's request models take it (NFC, LF line ends, no control characters,
    stripped): for a form that sends what it read past a model (interfaces.web.correction_forms)."""
    return _clean(value, multiline=multiline)


def _line(value: str) -> str:
    return _clean(value, multiline=False)


def _text(value: str) -> str:
    return _clean(value, multiline=True)


def _nonempty(value: str) -> str:
    if not value:
        raise ValueError("不能为空")
    return value


@dataclass(frozen=True)
class _Stated:
    """The document states the rule the validators beside it check (formats.text_schema)."""

    multiline: bool
    required: bool

    def __get_pydantic_json_schema__(self, core: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return {**handler(core), **formats.text_schema(multiline=self.multiline, required=self.required)}


def line(max_length: int) -> Any:
    """One line of text that is not blank, of at most ``max_length`` characters as sent."""
    return Annotated[str, StringConstraints(min_length=1, max_length=max_length), AfterValidator(_line),
                     AfterValidator(_nonempty), _Stated(multiline=False, required=True)]


Code = line(64)
Name = line(200)
Text = Annotated[str, StringConstraints(max_length=20_000), AfterValidator(_text), _Stated(multiline=True, required=False)]
RequiredText = Annotated[str, StringConstraints(max_length=20_000), AfterValidator(_text), AfterValidator(_nonempty),
                         _Stated(multiline=True, required=True)]


def _plausible_date(value: date) -> date:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"日期须在 {EARLIEST} 至 {LATEST} 之间")
    return value


def _aware(value: datetime) -> datetime:
    # A time without zone is read as Beijing time, the time every office keeps.
    if value.tzinfo is None:
        value = value.replace(tzinfo=SHANGHAI)
    _plausible_date(value.date())
    return value.astimezone(timezone.utc)


_DAY = re.compile(formats.DAY)
_MOMENT = re.compile(formats.MOMENT)


def _strict_date(value: object) -> object:
    # Only the written form the document states: no timestamps, no week dates, no basic format.
    if isinstance(value, date) or (isinstance(value, str) and _DAY.fullmatch(value)):
        return value
    raise ValueError(f"日期格式须为 YYYY-MM-DD，且在 {EARLIEST} 至 {LATEST} 之间")


def _strict_moment(value: object) -> object:
    if isinstance(value, datetime) or (isinstance(value, str) and _MOMENT.fullmatch(value)):
        return value
    raise ValueError(f"时间格式须为 ISO 8601（如 2020-03-01T08:00:00+08:00），日期在 {EARLIEST} 至 {LATEST} 之间")


Day = Annotated[date, BeforeValidator(_strict_date), AfterValidator(_plausible_date),
                WithJsonSchema({"type": "string", "pattern": formats.DAY, "description": "日期 YYYY-MM-DD"})]
Moment = Annotated[datetime, BeforeValidator(_strict_moment), AfterValidator(_aware),
                   WithJsonSchema({"type": "string", "pattern": formats.MOMENT,
                                   "description": "ISO 8601 时间；不带时区按北京时间"})]
Year = Annotated[int, Field(ge=2000, le=2100)]


def moment_or_day_end(value: str) -> datetime:
    """`as_of`: an ISO 8601 moment, or a date meaning the end of that day in Beijing."""
    value = value.strip()
    if len(value) == 10:
        day = date.fromisoformat(value)
        _plausible_date(day)
        end = datetime.combine(day, time.max, tzinfo=SHANGHAI)
        return end.astimezone(timezone.utc)
    return _aware(datetime.fromisoformat(value))
