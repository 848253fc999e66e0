"""Signing in with a bearer token: revocation and deactivation seen by every worker on the
very next request, expiry, and tokens issued before tokens had an expiry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta

import pytest
from eventsourcing.persistence import StoredEvent

from application.errors import Unauthenticated
from domain.registry import Token, token_digest, user_id
from infrastructure.settings import Settings
from interfaces import bootstrap
from tests.district import Clock, District


@pytest.fixture
def other_worker(settings, clock: Clock) -> Iterator[bootstrap.Services]:  # type: ignore[no-untyped-def]
    """A second serving process on the same database (its own application, caches and pool)."""
    with closing(bootstrap.build(settings, clock=clock)) as built:
        yield built


def _token_id(token: str):  # type: ignore[no-untyped-def]
    return Token.create_id(digest=token_digest(token))


@pytest.mark.parametrize("asked", ["the_revoking_worker", "another_worker"])
def test_a_revoked_token_is_refused_on_the_very_next_request_of_every_worker(
    district: District, services: bootstrap.Services, request: pytest.FixtureRequest, asked: str,
) -> None:
    worker = services if asked == "the_revoking_worker" else request.getfixturevalue("other_worker")
    token = district.tokens["pf-clerk"]
    assert worker.accounts.authenticate(token).name == "pf-clerk"
    assert worker.accounts.authenticate(token).name == "pf-clerk"  # now remembered by that worker
    district.accounts.revoke_token(district.cmd("admin"), _token_id(token))
    with pytest.raises(Unauthenticated):
        worker.accounts.authenticate(token)


def test_a_user_deactivated_by_one_worker_is_refused_by_another_and_restored_by_reactivation(
    district: District, other_worker: bootstrap.Services,
) -> None:
    token = district.tokens["gf-clerk"]
    assert other_worker.accounts.authenticate(token).name == "gf-clerk"
    accounts = district.accounts
    accounts.deactivate(district.cmd("admin"), user_id("gf-clerk"))
    with pytest.raises(Unauthenticated):
        other_worker.accounts.authenticate(token)
    accounts.reactivate(district.cmd("admin"), user_id("gf-clerk"))
    assert other_worker.accounts.authenticate(token).name == "gf-clerk"


def test_a_role_change_is_seen_by_another_worker_on_its_next_request(
    district: District, other_worker: bootstrap.Services,
) -> None:
    token = district.tokens["inspector"]
    assert other_worker.accounts.authenticate(token).role == "inspector"
    district.accounts.change(district.cmd("admin"), user_id("inspector"), role="supervisor", unit="pf")
    changed = other_worker.accounts.authenticate(token)
    assert (changed.role, changed.unit) == ("supervisor", "pf")


def test_tokens_live_90_days_unless_set_otherwise() -> None:
    assert Settings.model_fields["token_days"].default == 90
    assert Settings(token_days="7").token_days == 7  # type: ignore[arg-type]


def test_a_token_stops_signing_in_when_it_expires(district: District, clock: Clock) -> None:
    district.identity.token_lifetime = timedelta(days=90)
    token = district.accounts.issue_token(district.cmd("admin"), user_id("supervisor")).token
    clock.advance(days=90, seconds=-1)
    assert district.identity.authenticate(token).name == "supervisor"
    clock.advance(seconds=1)
    with pytest.raises(Unauthenticated) as refused:
        district.identity.authenticate(token)
    assert refused.value.rule == "token_expired"


def test_the_token_lifetime_is_a_setting(district: District, clock: Clock) -> None:
    district.identity.token_lifetime = timedelta(days=7)
    issued = district.accounts.issue_token(district.cmd("admin"), user_id("pf-clerk"))
    clock.advance(days=6)
    assert district.identity.authenticate(issued.token).name == "pf-clerk"
    clock.advance(days=1)
    with pytest.raises(Unauthenticated):
        district.identity.authenticate(issued.token)


def test_a_token_issued_before_tokens_had_an_expiry_loads_and_expires_its_lifetime_after_issue(
    district: District, clock: Clock,
) -> None:
    """The stored form of Token.Issued before ``expires_at``: the same event without that field."""
    ledger = district.ledger
    district.identity.token_lifetime = timedelta(days=90)
    current = ledger.recorder.select_events(_token_id(district.tokens["pf-clerk"]), limit=1)[0]
    state = json.loads(current.state)
    del state["expires_at"]
    old_token = "an old token, issued before expiry existed"
    digest = token_digest(old_token)
    state["digest"] = digest
    old_id = Token.create_id(digest=digest)
    ledger.recorder.insert_events([StoredEvent(old_id, 1, current.topic, json.dumps(state).encode())])

    loaded = ledger.repository.get(old_id)
    assert isinstance(loaded, Token) and loaded.expires_at is None
    assert loaded.expiry(district.identity.token_lifetime) == loaded.created_on + timedelta(days=90)
    assert district.identity.authenticate(old_token).name == "pf-clerk"
    clock.now = loaded.created_on + timedelta(days=90)
    with pytest.raises(Unauthenticated):
        district.identity.authenticate(old_token)


def test_an_unknown_token_is_refused(district: District) -> None:
    with pytest.raises(Unauthenticated):
        district.identity.authenticate("not-a-token")
    with pytest.raises(Unauthenticated):
        district.identity.authenticate("")
