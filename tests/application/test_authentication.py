"""Signing in with a bearer token, and how long a serving process remembers it."""

from __future__ import annotations

import pytest

from application.errors import Unauthenticated
from domain.base import Stamp
from domain.registry import Token, token_digest
from tests.district import District


def _revoke(district: District, token: str) -> None:
    ledger = district.ledger
    issued = ledger.repository.get(Token.create_id(digest=token_digest(token)))
    issued.revoke(Stamp.make(user="admin", unit="bgs", recorded_at=ledger.clock()))
    ledger.save(issued)


def test_a_revoked_token_is_refused_at_once_when_nothing_is_cached(district: District) -> None:
    district.ledger.token_cache_seconds = 0
    token = district.tokens["pf-clerk"]
    assert district.ledger.authenticate(token).name == "pf-clerk"
    _revoke(district, token)
    with pytest.raises(Unauthenticated):
        district.ledger.authenticate(token)


def test_a_cached_sign_in_is_refused_once_the_cache_time_has_passed(district: District) -> None:
    ledger = district.ledger
    ledger.token_cache_seconds = 5.0
    now = [1000.0]
    ledger.monotonic = lambda: now[0]
    ledger._signed_in.clear()  # the district's seeding signed everyone in on the real clock
    token = district.tokens["pf-clerk"]
    assert ledger.authenticate(token).name == "pf-clerk"
    _revoke(district, token)

    now[0] += 4.9
    assert ledger.authenticate(token).name == "pf-clerk"  # the documented window
    now[0] += 0.2
    with pytest.raises(Unauthenticated):
        ledger.authenticate(token)
    now[0] -= 10  # refused stays refused: a refusal is never cached as a sign-in
    with pytest.raises(Unauthenticated):
        ledger.authenticate(token)


def test_an_unknown_token_is_refused_and_not_remembered(district: District) -> None:
    ledger = district.ledger
    ledger.token_cache_seconds = 5.0
    with pytest.raises(Unauthenticated):
        ledger.authenticate("not-a-token")
    assert token_digest("not-a-token") not in ledger._signed_in
