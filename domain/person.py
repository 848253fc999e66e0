"""The child as a person: age as the law counts it, and checks on identifying data.

The checks here see names and ID numbers in clear, before they are sealed; so no message,
rule context or chained exception may carry them (an error message is logged and shown).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta, timezone
from typing import Any

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from domain.base import InvalidCommand

# The source documents count days in Beijing time; China has had no daylight saving since
# 1991, so a fixed offset needs no time-zone database.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

MAX_NAME_LENGTH = 64
MAX_TEXT_LENGTH = 500


def beijing_day(moment: datetime) -> date:
    return moment.astimezone(BEIJING).date()


def birthday(birth_date: date, years: int) -> date:
    try:
        return birth_date.replace(year=birth_date.year + years)
    except ValueError:  # born on 29 February; the anniversary comes with 1 March
        return date(birth_date.year + years, 3, 1)


def is_under(birth_date: date, years: int, day: date) -> bool:
    """不满N周岁 on ``day``. Chinese law counts 周岁 from the day after the birthday, so
    on the birthday itself the child is still under that age."""
    return day <= birthday(birth_date, years)


def check_id_number(id_number: str, birth_date: date) -> str:
    """An 18-digit resident ID number (居民身份证号码) of a child born on ``birth_date``;
    answers it in its compact form."""
    number = check_id_number_format(id_number)
    if ric.get_birth_date(number) != birth_date:
        raise InvalidCommand("id_number_agrees_with_birth_date", "身份证号码与出生日期不一致")
    return number


def check_id_number_format(id_number: object) -> str:
    """An 18-digit resident ID number on its own (length, checksum, its birth date and region
    real), compared with nothing else; answers it in its compact form."""
    if not isinstance(id_number, str):
        raise InvalidCommand("id_number_is_text", "身份证号码格式不正确")
    try:
        # NFKC: numbers typed with a Chinese input method arrive as full-width digits.
        number = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", id_number)).upper()
        if len(number) != 18:
            raise InvalidCommand("id_number_has_18_characters", "身份证号码须为18位")
        ric.validate(number)
    except ValidationError:
        # `from None`: the library's exception would chain the number into a traceback.
        raise InvalidCommand(
            "id_number_passes_checksum", "身份证号码无效（校验位或出生日期、地区码不正确）"
        ) from None
    return number


def check_person_values(values: dict[str, Any]) -> None:
    """Each of the given personal fields on its own, as ``check_person`` checks it, compared
    with nothing else: a correction runs these before any rule that compares a value with
    the sealed fields, so which rule refuses it never depends on what is sealed."""
    if "name" in values:
        name = values["name"]
        if not isinstance(name, str) or not name.strip():
            raise InvalidCommand("person_needs_name", "须填写儿童姓名")
        if len(name.strip()) > MAX_NAME_LENGTH:
            raise InvalidCommand("name_not_too_long", f"姓名不能超过{MAX_NAME_LENGTH}个字")
    for key in ("address", "guardian"):
        value = values.get(key)
        if value is not None and not isinstance(value, str):
            raise InvalidCommand("correction_values_valid", "更正后的值格式不正确")
        if value is not None and len(value) > MAX_TEXT_LENGTH:
            raise InvalidCommand(
                f"{key}_not_too_long", f"{'住址' if key == 'address' else '监护人'}信息过长"
            )
    if "id_number" in values:
        if not isinstance(values["id_number"], str) or not values["id_number"].strip():
            raise InvalidCommand("person_needs_id_number", "须填写身份证号码")
        check_id_number_format(values["id_number"])


def check_person(
    *,
    name: str,
    id_number: str,
    birth_date: date,
    address: str | None = None,
    guardian: str | None = None,
) -> dict[str, Any]:
    """The personal fields of a registration, checked and ready to seal."""
    check_person_values({"name": name, "id_number": id_number, "address": address, "guardian": guardian})
    fields: dict[str, Any] = {
        "name": name.strip(),
        "id_number": check_id_number(id_number, birth_date),
        # Sealed with the rest: the case keeps only the year and month in clear.
        "birth_date": birth_date.isoformat(),
    }
    for key, value in (("address", address), ("guardian", guardian)):
        if value is not None and value.strip():
            fields[key] = value.strip()
    return fields
