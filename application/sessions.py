"""Dashboard sign-in: passwords checked, failed attempts throttled, sessions opened, kept
alive and ended. What is secret or per-request (password hashes, session ids, failure
counts) lives in the ``AccessStore``; a lock is recorded as an event of its own."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import KW_ONLY, dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from application.access import Actor
from application.commands import SYSTEM, Command, CommandRunner
from application.errors import ConcurrentWrite, NotFound, Unauthenticated
from application.identity import Identity
from application.ledger import Ledger
from application.ports import AccessStore
from domain.base import LedgerAggregate, Stamp
from domain.registry import SignInLock, User, user_id

# A session's last use is written when it is at least this old: idle expiry is exact to within it.
SESSION_TOUCH_EVERY = timedelta(seconds=60)


def session_digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def csrf_token(session_id: str) -> str:
    """The token a session's forms carry: derived from the session's secret id, so it
    needs no storage, and not from the stored digest, so the table does not give it away."""
    return hmac.new(session_id.encode(), b"careledger csrf", hashlib.sha256).hexdigest()


class SignInRefused(Unauthenticated):
    """A password sign-in refused. ``reason`` is a fixed English word for logs and metrics:
    never the name typed, the password or the address."""

    def __init__(self, message: str, *, reason: str, locked_until: datetime | None = None) -> None:
        super().__init__(message, rule=f"sign_in_{reason}")
        self.reason = reason
        self.locked_until = locked_until


@dataclass(frozen=True)
class SignedIn:
    session_id: str  # the cookie's value; only its digest is stored
    actor: Actor

    @property
    def csrf(self) -> str:
        return csrf_token(self.session_id)


@dataclass(frozen=True)
class Throttle:
    failures: int = 5  # failures within ``lock`` that lock a user name or an address
    lock: timedelta = timedelta(minutes=15)


@dataclass(eq=False)
class Sessions:
    """Signing in with a password, and the dashboard sessions it opens."""

    runner: CommandRunner
    identity: Identity
    store: AccessStore
    _: KW_ONLY
    session_idle: timedelta = timedelta(minutes=30)
    session_lifetime: timedelta = timedelta(hours=12)
    throttle: Throttle = Throttle()

    @property
    def ledger(self) -> Ledger:
        return self.runner.ledger

    def _user(self, user: UUID) -> User:
        return self.ledger.load(User, user, "用户")

    def sign_in(self, name: str, password: str, address: str) -> SignedIn:
        """A new session for the user ``name`` if ``password`` is theirs. Refused without
        looking at the password while the name or the address is locked (``throttle``)."""
        now = self.ledger.clock()
        try:
            user: User | None = self._user(user_id(name)) if name else None
        except NotFound:
            user = None
        # Counted by the name as typed, known or not, so a lock tells no one which names
        # exist; kept as HMACs, so the table holds neither what was typed (a password typed
        # into the wrong field) nor the address.
        name_key = "name:" + self.runner.keyed_text("sign-in name " + name)
        keys = ["address:" + self.runner.keyed_text("sign-in address " + address), name_key]
        locked = self.store.locked_until(keys, now)
        if locked is not None:
            raise SignInRefused("登录失败次数过多，请稍后再试。", reason="locked", locked_until=locked)
        if not self.store.verify_password(user.id if user is not None else None, password):
            self._failed(keys, name_key, user, now)
            raise SignInRefused("用户名或密码错误。", reason="unknown_user" if user is None else "wrong_password")
        assert user is not None
        if not user.active:
            raise SignInRefused("该用户已停用。", reason="inactive")
        self.store.clear_failures(name_key)
        # Here, not before every attempt: a flood of refused attempts writes nothing more.
        self.forget_expired()
        session_id = self.identity.credential_prefix + secrets.token_urlsafe(32)  # 256 bits
        self.store.open_session(session_digest(session_id), user.id, now)
        return SignedIn(session_id, self.identity.user_actor(user.id))

    def _failed(self, keys: list[str], name_key: str, user: User | None, now: datetime) -> None:
        for key in keys:
            until = self.store.count_failure(key, now, limit=self.throttle.failures,
                                             window=self.throttle.lock, lock=self.throttle.lock)
            if until is not None and user is not None and key == name_key:
                self._record_lock(user, until)

    def _record_lock(self, user: User, until: datetime) -> None:
        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            return SignInLock.lock(stamp, user_id=user.id, until=until, failures=self.throttle.failures), [], {}

        try:
            self.runner.run(Command(SYSTEM), act)
        except ConcurrentWrite:  # another worker recorded this very lock
            pass

    def session_actor(self, session_id: str) -> Actor:
        """The user a dashboard session signs in, while it is neither idle nor too old and
        the user is active; reading it keeps it from going idle."""
        if not session_id:
            raise Unauthenticated("请先登录")
        digest = session_digest(session_id)
        found = self.store.find_session(digest)
        if found is None:
            raise Unauthenticated("会话已结束，请重新登录", rule="session_ended")
        now = self.ledger.clock()
        if now - found.last_seen_at >= self.session_idle or now - found.created_at >= self.session_lifetime:
            self.store.end_session(digest)
            raise Unauthenticated("会话已过期，请重新登录", rule="session_expired")
        try:
            actor = self.identity.user_actor(found.user_id)
        except Unauthenticated:
            self.store.end_session(digest)
            raise
        if now - found.last_seen_at >= SESSION_TOUCH_EVERY:  # a write a minute, not one a request
            self.store.touch_session(digest, now)
        return actor

    def sign_out(self, session_id: str) -> None:
        if session_id:
            self.store.end_session(session_digest(session_id))

    def forget_expired(self) -> None:
        """Drops expired sessions and old failure counts (kept no longer than they matter)."""
        now = self.ledger.clock()
        self.store.end_sessions_older_than(now - self.session_lifetime, now - self.session_idle)
        self.store.forget_failures_before(now - self.throttle.lock)
