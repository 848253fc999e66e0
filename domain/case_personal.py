"""A child case's personal data: sealed before it reaches the domain, and erased by
destroying the case's key; and the birth date, of which only the year and month stay clear.

The application seals personal data under the case's own key, and the events carry only
the opaque sealed text: erasing that key erases the data while every event, and the
ledger's tamper evidence, stays intact.
"""

from __future__ import annotations

import calendar
import re
import secrets
from datetime import date
from uuid import UUID

from domain.base import InvalidCommand, RuleViolated, Stamp, check_text, ledger_id
from domain.free_text import check_free_text
from domain.person import beijing_day, is_under

# Sealed text as application.personal_data writes it: a version tag, then base64url.
SEALED_PREFIX = "sealed.v1."
_SEALED = re.compile(re.escape(SEALED_PREFIX) + r"[A-Za-z0-9_-]{40,}")
_BIRTH_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
# Case numbers are random in Crockford's base32 (domain.case.new_case_number): no I, L, O
# or U, so a number read aloud or copied by hand survives; and they say nothing of the child.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CASE_NUMBER = re.compile(r"ET\d{4}-[" + CROCKFORD + r"]{8}")


def check_case_number(case_number: object) -> None:
    if not isinstance(case_number, str) or not _CASE_NUMBER.fullmatch(case_number):
        raise InvalidCommand("case_number_is_pseudonymous", "个案编号格式不正确")

def is_sealed(value: object) -> bool:
    return isinstance(value, str) and _SEALED.fullmatch(value) is not None


def check_sealed(sealed: object) -> None:
    if not is_sealed(sealed):
        raise InvalidCommand("personal_data_arrives_sealed", "个人信息须加密后记录")


def check_new_personal_data(erased: bool, sealed: object, *, optional: bool = False) -> None:
    """Sealed text recorded on the case (``optional``: None records none)."""
    if optional and sealed is None:
        return
    if erased:
        raise RuleViolated("no_personal_data_after_erasure", "个人信息已删除，不能再记录新的个人信息")
    check_sealed(sealed)


def check_erasure(erased: bool, reason: str) -> None:
    """Erasure is recorded once; its reason outlives the key, so it is the one text that
    must stay readable: clear, and free of ID and mobile numbers."""
    if erased:
        raise RuleViolated("personal_data_erased_once", "个人信息已删除")
    check_text(reason, "erasure_needs_reason", "删除个人信息须说明理由")
    check_free_text("删除理由", reason)


def check_clear_fields(street: str, community: str, household_local: bool, registering_unit: str) -> None:
    """What a registration records in clear: where the child lives (street, community and
    household), and who registers them."""
    check_text(street, "case_needs_street", "须填写街道（乡镇）")
    check_text(community, "case_needs_community", "须填写村（社区）")
    check_text(registering_unit, "case_needs_registering_unit", "须写明登记单位")
    check_free_text("街道（乡镇）和村（社区）", street, community)
    if not isinstance(household_local, bool):
        raise InvalidCommand("household_local_is_yes_or_no", "是否本区户籍须为是或否")


# ---- the birth date --------------------------------------------------------------------


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def birth_month(clear: str | None, birth_date: date | None) -> str:
    """The clear month of a case registered since the exact date is sealed, else the month
    of its clear birth date."""
    if clear is not None:
        return clear
    assert birth_date is not None
    return month_of(birth_date)


def is_birth_month(value: object) -> bool:
    return isinstance(value, str) and _BIRTH_MONTH.fullmatch(value) is not None


def check_birth_date(birth_date: date, day: date) -> None:
    """The birth date of a child registered on ``day``."""
    if birth_date > day:
        raise InvalidCommand("birth_date_not_in_future", "出生日期不能晚于登记日期")
    if not is_under(birth_date, 18, day):
        raise InvalidCommand("case_is_for_a_minor", "登记时儿童须未满十八周岁")


def check_month_agrees(birth_date: date | None, month: str) -> date:
    if birth_date is None or month_of(birth_date) != month:
        raise InvalidCommand("birth_date_agrees_with_month", "出生日期与登记的出生年月不一致")
    return birth_date


def age_basis(clear: date | None, month: str, opened: date | None) -> date:
    """The birth date the age rules count from: the ``clear`` one of a case registered
    before it was sealed, else the exact date the application ``opened`` from the seal
    (None when the key is gone). Without either only the ``month`` is known, and the child
    counts as born on its last day: as young as they can be, so no rule treats a child as
    older than they are."""
    if clear is not None:
        return clear
    if opened is not None:
        return check_month_agrees(opened, month)
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, calendar.monthrange(year, number)[1])


def case_id(case_number: str) -> UUID:
    """One case per case number: the store's key refuses a second."""
    return ledger_id("case", case_number)


def new_case_number(year: int) -> str:
    """Random, so the number says nothing of the child's name, ID number, address or order."""
    return f"ET{year:04d}-" + "".join(secrets.choice(CROCKFORD) for _ in range(8))


def check_registration(stamp: Stamp, *, street: str, community: str, household_local: bool,
                       birth_date: date, registering_unit: str) -> None:
    """The registration rules that need no sealed text: the application runs them before
    it makes the case's key, so a refused registration leaves no key behind."""
    check_clear_fields(street, community, household_local, registering_unit)
    check_birth_date(birth_date, beijing_day(stamp.occurred_at))
