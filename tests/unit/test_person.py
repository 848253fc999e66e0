"""Identity checks on a child's personal data, and age as the law counts it."""

from __future__ import annotations

import traceback
from datetime import date, datetime, timezone

import pytest

from domain.base import InvalidCommand
from domain.person import beijing_day, check_id_number, check_person, is_under

BORN = date(2015, 6, 1)
VALID = "110105201506011238"
VALID_X = "11010520150601106X"  # check digit X (value 10)
NAME = "王小明"


def refusal(id_number: str, birth_date: date = BORN) -> InvalidCommand:
    with pytest.raises(InvalidCommand) as raised:
        check_id_number(id_number, birth_date)
    return raised.value


def leaks(error: InvalidCommand, *secrets: str) -> bool:
    """Whether anything a log line could print of the error carries one of ``secrets``."""
    told = "".join(traceback.format_exception(error)) + repr(error.context) + error.rule
    return any(s in told for s in secrets)


def test_a_valid_number_passes_and_is_answered_compact() -> None:
    assert check_id_number(VALID, BORN) == VALID
    assert check_id_number(VALID_X.lower(), BORN) == VALID_X
    assert check_id_number(" 110105 20150601 1238 ", BORN) == VALID
    assert check_id_number("１１０１０５２０１５０６０１１０６ｘ", BORN) == VALID_X  # full-width


@pytest.mark.parametrize(
    ("number", "rule"),
    [
        ("110105201506011233", "id_number_passes_checksum"),  # wrong check digit
        ("110105201506011231", "id_number_passes_checksum"),
        ("110105201513011234", "id_number_passes_checksum"),  # month 13
        ("000000201506011235", "id_number_passes_checksum"),  # no such region
        ("11010520150601123", "id_number_has_18_characters"),
        ("110105150601123", "id_number_has_18_characters"),  # the old 15-digit form
        ("11010520150601123A", "id_number_passes_checksum"),
    ],
)
def test_a_number_that_fails_its_check_is_refused_without_being_echoed(
    number: str, rule: str
) -> None:
    error = refusal(number)
    assert error.rule == rule
    assert not leaks(error, number, number[:14], number[6:14])


def test_the_number_must_agree_with_the_birth_date() -> None:
    error = refusal(VALID, date(2015, 6, 2))
    assert error.rule == "id_number_agrees_with_birth_date"
    assert not leaks(error, VALID, "20150601", "2015-06-01", "2015-06-02")


def test_the_checksum_failure_does_not_chain_the_librarys_exception() -> None:
    error = refusal("110105201506011233")
    assert error.__cause__ is None and error.__suppress_context__


def test_check_person_answers_the_fields_to_seal() -> None:
    fields = check_person(
        name=f" {NAME} ", id_number=VALID, birth_date=BORN, address="三店村5组", guardian=" ",
    )
    assert fields == {"name": NAME, "id_number": VALID, "address": "三店村5组", "birth_date": BORN.isoformat()}


@pytest.mark.parametrize(
    ("name", "id_number", "rule"),
    [
        ("", VALID, "person_needs_name"),
        (NAME, "", "person_needs_id_number"),
        (NAME * 30, VALID, "name_not_too_long"),
        (NAME, "110105201506011233", "id_number_passes_checksum"),
    ],
)
def test_check_person_refuses_without_naming_the_child(name: str, id_number: str, rule: str) -> None:
    with pytest.raises(InvalidCommand) as raised:
        check_person(name=name, id_number=id_number, birth_date=BORN)
    assert raised.value.rule == rule
    assert not leaks(raised.value, NAME, VALID, "110105201506011233")


def test_under_16_lasts_through_the_16th_birthday() -> None:
    born = date(2008, 3, 10)
    assert is_under(born, 16, date(2024, 3, 9))
    assert is_under(born, 16, date(2024, 3, 10))
    assert not is_under(born, 16, date(2024, 3, 11))


def test_a_child_born_on_29_february_turns_16_with_1_march_in_a_common_year() -> None:
    born = date(2084, 2, 29)  # 16 years on, 2100 is not a leap year
    assert is_under(born, 16, date(2100, 3, 1))
    assert not is_under(born, 16, date(2100, 3, 2))


def test_the_day_is_counted_in_beijing() -> None:
    assert beijing_day(datetime(2024, 3, 10, 15, 59, tzinfo=timezone.utc)) == date(2024, 3, 10)
    assert beijing_day(datetime(2024, 3, 10, 16, 0, tzinfo=timezone.utc)) == date(2024, 3, 11)
