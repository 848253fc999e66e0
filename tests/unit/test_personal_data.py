"""Sealing personal fields under a case key: what opens, what does not, and what it hides."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from application.personal_data import ERASED
from domain.case_personal import SEALED_PREFIX, is_sealed
from infrastructure.sealing import SealBroken, new_case_key, seal, unseal

PERSON = {"name": "王小明", "id_number": "110105201506011238", "address": "三店村5组"}


def test_sealed_fields_open_with_the_case_key_and_id() -> None:
    key, case = new_case_key(), uuid4()
    sealed = seal(key, case, {**PERSON, "born": date(2015, 6, 1)})
    assert unseal(key, case, sealed) == {**PERSON, "born": "2015-06-01"}
    assert is_sealed(sealed), "the aggregate must accept what the application seals"


def test_sealed_text_carries_nothing_in_clear() -> None:
    sealed = seal(new_case_key(), uuid4(), PERSON)
    assert sealed.startswith(SEALED_PREFIX)
    for value in PERSON.values():
        assert value not in sealed


def test_each_seal_uses_a_fresh_nonce() -> None:
    key, case = new_case_key(), uuid4()
    assert seal(key, case, PERSON) != seal(key, case, PERSON)


def test_the_length_does_not_tell_a_short_name_from_a_long_one() -> None:
    key, case = new_case_key(), uuid4()
    assert len(seal(key, case, {"name": "王明"})) == len(seal(key, case, {"name": "欧阳小明"}))


def test_a_sealed_text_moved_to_another_case_does_not_open() -> None:
    key, case = new_case_key(), uuid4()
    sealed = seal(key, case, PERSON)
    with pytest.raises(SealBroken) as raised:
        unseal(key, uuid4(), sealed)
    assert "王小明" not in str(raised.value) and raised.value.__cause__ is None


def test_another_key_or_a_changed_byte_does_not_open() -> None:
    key, case = new_case_key(), uuid4()
    sealed = seal(key, case, PERSON)
    with pytest.raises(SealBroken):
        unseal(new_case_key(), case, sealed)
    flipped = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
    with pytest.raises(SealBroken):
        unseal(key, case, flipped)
    with pytest.raises(SealBroken):
        unseal(key, case, "王小明")


def test_an_erased_key_reads_as_erased_and_an_absent_seal_as_none() -> None:
    case = uuid4()
    sealed = seal(new_case_key(), case, PERSON)
    assert unseal(None, case, sealed) is ERASED
    assert not ERASED and repr(ERASED) == "ERASED"
    assert unseal(None, case, None) is None
