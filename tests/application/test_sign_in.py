"""Password sign-in and sessions in the application: what is stored where, and what is
kept no longer than it matters."""

from __future__ import annotations

import pytest

from application.commands import SYSTEM, Command
from application.sessions import SignInRefused, session_digest
from domain.base import InvalidCommand
from domain.registry import user_id
from tests.district import Clock, District

PASSWORD = "a password long enough"


def test_a_password_is_set_as_an_event_without_its_hash_and_signs_in(district: District) -> None:
    accounts = district.accounts
    accounts.set_password(Command(SYSTEM), "pf-clerk", PASSWORD)
    [event] = [e for e in district.trail.history(user_id("pf-clerk")) if e["type"] == "PasswordSet"]
    assert event["fields"] == {} and event["recorder"] == "system"
    stored = b"".join(n.state for n in district.ledger.recorder.select_notifications(1, 10_000))
    assert b"argon2" not in stored and PASSWORD.encode() not in stored
    assert district.sessions.sign_in("pf-clerk", PASSWORD, "127.0.0.1").actor.name == "pf-clerk"


def test_a_short_password_is_refused_and_stores_nothing(district: District) -> None:
    before = district.ledger.recorder.max_notification_id()
    with pytest.raises(InvalidCommand):
        district.accounts.set_password(Command(SYSTEM), "pf-clerk", "short")
    assert district.ledger.recorder.max_notification_id() == before
    with pytest.raises(SignInRefused):
        district.sessions.sign_in("pf-clerk", "short", "127.0.0.1")


def test_only_an_admin_sets_a_password(district: District) -> None:
    from application.errors import Forbidden

    with pytest.raises(Forbidden):
        district.accounts.set_password(district.cmd("supervisor"), "pf-clerk", PASSWORD)


def test_expired_sessions_and_old_failure_counts_are_dropped_at_the_next_sign_in(
    district: District, clock: Clock,
) -> None:
    accounts, store = district.accounts, district.accounts.store
    accounts.set_password(Command(SYSTEM), "gf-clerk", PASSWORD)
    first = district.sessions.sign_in("gf-clerk", PASSWORD, "192.0.2.1")
    with pytest.raises(SignInRefused):
        district.sessions.sign_in("gf-clerk", "not the password", "192.0.2.99")
    clock.advance(hours=13)
    district.sessions.sign_in("gf-clerk", PASSWORD, "192.0.2.1")
    assert store.find_session(session_digest(first.session_id)) is None
    assert store.locked_until(["address:192.0.2.99"], clock.now) is None
    rows = store._execute("SELECT key FROM {p}sign_in_failures", commit=False)
    assert rows == []  # the address of the failed attempt is not kept


def test_failures_older_than_the_window_do_not_add_up_to_a_lock(district: District, clock: Clock) -> None:
    accounts = district.accounts
    accounts.set_password(Command(SYSTEM), "cq-clerk", PASSWORD)
    for _ in range(4):
        with pytest.raises(SignInRefused):
            district.sessions.sign_in("cq-clerk", "wrong password!", "192.0.2.5")
    clock.advance(minutes=16)
    for _ in range(4):
        with pytest.raises(SignInRefused) as refused:
            district.sessions.sign_in("cq-clerk", "wrong password!", "192.0.2.5")
        assert refused.value.reason == "wrong_password"
    assert district.sessions.sign_in("cq-clerk", PASSWORD, "192.0.2.5").actor.name == "cq-clerk"


def test_an_unknown_name_is_locked_like_a_known_one_and_the_failures_keep_no_name_or_address(
    district: District,
) -> None:
    accounts, store = district.accounts, district.accounts.store
    accounts.set_password(Command(SYSTEM), "pf-clerk", PASSWORD)
    for name, address in (("pf-clerk", "192.0.2.10"), ("no-such-clerk", "192.0.2.20")):
        reasons = []
        for attempt in range(7):
            with pytest.raises(SignInRefused) as refused:
                district.sessions.sign_in(name, "wrong password!", f"{address}{attempt}")  # a new address each time
            reasons.append(refused.value.reason)
        assert reasons[5:] == ["locked", "locked"], (name, reasons)
    rows = store._execute("SELECT key FROM {p}sign_in_failures", commit=False)
    kept = " ".join(str(row) for row in rows)
    assert rows and "pf-clerk" not in kept and "no-such-clerk" not in kept and "192.0.2." not in kept


def test_a_sessions_user_is_read_again_once_changed_and_remembered_until_then(district: District) -> None:
    accounts = district.accounts
    accounts.set_password(Command(SYSTEM), "pf-clerk", PASSWORD)
    session = district.sessions.sign_in("pf-clerk", PASSWORD, "192.0.2.30").session_id
    first = district.sessions.session_actor(session)
    assert district.sessions.session_actor(session) is first  # unchanged: the remembered actor
    accounts.change(district.cmd("admin"), user_id("pf-clerk"), role="inspector")
    assert district.sessions.session_actor(session).role == "inspector"
