"""Who may use the ledger: users, their bearer tokens, dashboard passwords and sessions.

Every grant and every withdrawal of access is an event of the user's (or the token's)
aggregate, recorded by whoever made it, so the audit trail shows who gave and who took
back access. What must not be published with the events (password hashes, session ids)
or would grow the log with every request (last use, failed attempts) lives in the
``AccessStore``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

from application import access
from application.access import ADMIN, Actor
from application.errors import ConcurrentWrite, Forbidden, NotFound, Unauthenticated
from application.ledger import SYSTEM, Accepted, Command, Enrolment, Ledger, secret_shown_once
from application.ports import AccessStore
from domain.base import InvalidCommand, LedgerAggregate, RuleViolated, Stamp
from domain.registry import SignInLock, Token, Unit, User, unit_id, user_id

PASSWORD_MIN = 10
# A session's last use is written when it is at least this old: idle expiry is exact to within it.
SESSION_TOUCH_EVERY = timedelta(seconds=60)
PASSWORD_MAX = 1024


def session_digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def csrf_token(session_id: str) -> str:
    """The token a session's forms carry: derived from the session's secret id, so it
    needs no storage, and not from the stored digest, so the table does not give it away."""
    return hmac.new(session_id.encode(), b"careledger csrf", hashlib.sha256).hexdigest()


def check_password(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise InvalidCommand("password_long_enough", f"密码至少 {PASSWORD_MIN} 个字符")
    if len(password) > PASSWORD_MAX:
        raise InvalidCommand("password_not_too_long", f"密码至多 {PASSWORD_MAX} 个字符")


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
class IssuedToken:
    accepted: Accepted
    token: str


@dataclass(frozen=True)
class Throttle:
    failures: int = 5  # failures within ``lock`` that lock a user name or an address
    lock: timedelta = timedelta(minutes=15)


class Accounts:
    def __init__(
        self, ledger: Ledger, store: AccessStore, *, session_idle: timedelta = timedelta(minutes=30),
        session_lifetime: timedelta = timedelta(hours=12), throttle: Throttle = Throttle(),
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.session_idle = session_idle
        self.session_lifetime = session_lifetime
        self.throttle = throttle

    def _admin(self, actor: Actor) -> None:
        access.require_role(actor, ADMIN, doing="管理用户和令牌", rule="administer")

    def _user(self, user: UUID) -> User:
        return self.ledger.load(User, user, "用户")

    # ---- bearer tokens ------------------------------------------------------------------

    def authenticate(self, token: str | None) -> Actor:
        """The ledger's check of a bearer token, and a note of its use (at most once a minute)."""
        found = self.ledger.authenticate(token)
        if found.token_id is not None:
            self.store.touch_token(found.token_id, self.ledger.clock())
        return found

    def add_user(self, cmd: Command, *, name: str, unit: str, role: str, unit_name: str | None = None) -> Enrolment:
        return self.ledger.add_user(cmd, name=name, unit=unit, role=role, unit_name=unit_name)

    def issue_token(self, cmd: Command, user: UUID) -> IssuedToken:
        self._admin(cmd.actor)
        made: list[str] = []

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            owner = self._user(user)
            if not owner.active:
                raise RuleViolated("token_only_for_active_user", "该用户已停用，不能签发令牌")
            issued, token = self.ledger.new_token(stamp, owner)
            made.append(token)
            return issued, [], {"user_id": str(owner.id), "expires_at": issued.expiry(self.ledger.token_lifetime).isoformat()}

        accepted = self.ledger.run(cmd, act)
        if not made:
            raise secret_shown_once()
        return IssuedToken(accepted, made[-1])

    def revoke_token(self, cmd: Command, token: UUID) -> Accepted:
        """By an admin, or by the token's owner (with any of their tokens)."""

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            issued = self.ledger.load(Token, token, "令牌")
            if cmd.actor.role != ADMIN and issued.user_id != cmd.actor.user_id:
                # Whose tokens exist is not told to anyone else.
                raise NotFound("没有这个令牌", rule="token_exists")
            issued.revoke(stamp)
            return issued, [], {}

        return self.ledger.run(cmd, act)

    # ---- users --------------------------------------------------------------------------

    def deactivate(self, cmd: Command, user: UUID) -> Accepted:
        """Stops every token and session of the user at once: requests check the user's
        version, and its sessions are deleted."""
        self._admin(cmd.actor)
        if user == cmd.actor.user_id:
            raise Forbidden("不能停用自己的账号", rule="admin_may_not_deactivate_self")

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            target = self._user(user)
            target.deactivate(stamp)
            return target, [], {}

        accepted = self.ledger.run(cmd, act)
        self.store.end_sessions(user)
        return accepted

    def reactivate(self, cmd: Command, user: UUID) -> Accepted:
        self._admin(cmd.actor)

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            target = self._user(user)
            target.reactivate(stamp)
            return target, [], {}

        return self.ledger.run(cmd, act)

    def change(self, cmd: Command, user: UUID, *, role: str | None = None, unit: str | None = None) -> Accepted:
        self._admin(cmd.actor)
        if unit is not None:
            self.ledger.load(Unit, unit_id(unit), "单位")

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            target = self._user(user)
            if role is not None:
                target.change_role(stamp, role=role)
            if unit is not None:
                target.move_to_unit(stamp, unit_code=unit)
            return target, [], {}

        return self.ledger.run(cmd, act)

    def set_password(self, cmd: Command, name: str, password: str) -> Accepted:
        """Sets a user's dashboard password (the command line's, as an admin) and ends the
        user's sessions: whoever signed in with the old one is signed out."""
        self._admin(cmd.actor)
        check_password(password)

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            target = self._user(user_id(name))
            target.record_password_set(stamp)
            return target, [], {}

        accepted = self.ledger.run(cmd, act)
        self.store.set_password(accepted.id, password)
        self.store.end_sessions(accepted.id)
        return accepted

    def user_by_name(self, name: str) -> User:
        return self._user(user_id(name))

    def users(self, actor: Actor) -> list[dict[str, Any]]:
        self._admin(actor)
        return [
            {"user_id": u.id, "name": u.name, "unit": u.unit_code, "role": u.role, "active": u.active,
             "has_password": getattr(u, "has_password", False), "created_at": u.created_on, "version": u.version}
            for u in cast(list[User], self.ledger.registered(User.Enrolled))  # type: ignore[attr-defined]
        ]

    def tokens(self, actor: Actor, user: UUID | None = None) -> list[dict[str, Any]]:
        """Token ids, owners, when issued, when they expire and were last used: never a secret."""
        self._admin(actor)
        names: dict[UUID, str] = {}
        used = self.store.tokens_last_used()
        now = self.ledger.clock()
        listed = []
        for issued in cast(list[Token], self.ledger.registered(Token.Issued)):  # type: ignore[attr-defined]
            if user is not None and issued.user_id != user:
                continue
            if issued.user_id not in names:
                try:
                    names[issued.user_id] = self._user(issued.user_id).name
                except NotFound:
                    names[issued.user_id] = ""
            expires = issued.expiry(self.ledger.token_lifetime)
            listed.append({
                "token_id": issued.id, "user_id": issued.user_id, "user": names[issued.user_id],
                "created_at": issued.created_on, "expires_at": expires, "last_used_at": used.get(issued.id),
                "revoked": issued.revoked, "expired": now >= expires,
            })
        return listed

    # ---- dashboard sign-in ----------------------------------------------------------------

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
        name_key = "name:" + self.ledger.keyed_text("sign-in name " + name)
        keys = ["address:" + self.ledger.keyed_text("sign-in address " + address), name_key]
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
        session_id = secrets.token_urlsafe(32)  # 256 bits
        self.store.open_session(session_digest(session_id), user.id, now)
        return SignedIn(session_id, self.ledger.user_actor(user.id))

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
            self.ledger.run(Command(SYSTEM), act)
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
            actor = self.ledger.user_actor(found.user_id)
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


__all__ = ["Accounts", "IssuedToken", "SignInRefused", "SignedIn", "Throttle", "csrf_token", "session_digest"]
