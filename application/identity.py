"""Who a request acts as: the user a bearer token or a dashboard session signs in, read
so that a revocation, a deactivation or a change of role is seen at once by every process."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from application.access import Actor
from application.errors import Unauthenticated
from application.ledger import Ledger
from domain.base import Stamp
from domain.registry import Token, User, token_digest


@dataclass(frozen=True)
class _SignedIn:
    """A token's sign-in as read at these versions of the token and its user."""

    actor: Actor
    token_version: int
    user_version: int
    expires_at: datetime


class Identity:
    def __init__(self, ledger: Ledger, *, token_days: int = 90, credential_prefix: str = "") -> None:
        self.ledger = ledger
        # A district's tokens and session ids begin with its code and a dot ("420112."), so
        # that a deployment of several districts knows which district's store to look a
        # credential up in (interfaces.deployment); the digest covers the prefix, so a secret
        # copied under another district's prefix is found nowhere. Empty for a lone district.
        self.credential_prefix = credential_prefix
        self.token_lifetime = timedelta(days=token_days)
        self._signed_in: dict[str, _SignedIn] = {}
        self._users: dict[UUID, tuple[int, Actor]] = {}

    def authenticate(self, token: str | None) -> Actor:
        """The user a bearer token signs in. What a process remembers of a token is used
        only while the token and its user are still at the versions it was read at (one
        read of two index entries a request), so a revocation, a deactivation or a change
        of role is seen by every process on the very next request."""
        if not token:
            raise Unauthenticated("需要 Bearer 令牌")
        digest = token_digest(token)
        issued_id = Token.create_id(digest=digest)
        now = self.ledger.clock()
        known = self._signed_in.get(digest)
        if known is not None:
            current = self.ledger.versions.latest_versions([issued_id, known.actor.user_id])
            if current == {issued_id: known.token_version, known.actor.user_id: known.user_version}:
                if now >= known.expires_at:
                    raise Unauthenticated("令牌已过期", rule="token_expired")
                return known.actor
            self._signed_in.pop(digest, None)
        try:
            issued = cast(Token, self.ledger.repository.get(issued_id))
            user = cast(User, self.ledger.repository.get(issued.user_id))
        except AggregateNotFoundError:
            raise Unauthenticated("令牌无效") from None
        if not isinstance(issued, Token) or not isinstance(user, User) or issued.revoked or not user.active:
            raise Unauthenticated("令牌无效")
        expires_at = issued.expiry(self.token_lifetime)
        if now >= expires_at:
            raise Unauthenticated("令牌已过期", rule="token_expired")
        found = Actor(user_id=user.id, name=user.name, unit=user.unit_code, role=user.role, token_id=issued.id)
        if len(self._signed_in) > 10_000:  # bounded: forgotten entries are read again
            self._signed_in.clear()
        self._signed_in[digest] = _SignedIn(found, issued.version, user.version, expires_at)
        return found

    def user_actor(self, user: UUID) -> Actor:
        """The active user ``user`` as an actor (a dashboard session's). Remembered while the
        user is at the version it was read at, as tokens are (one indexed read a request),
        so a deactivation or a change of role is seen at once by every process."""
        known = self._users.get(user)
        if known is not None and self.ledger.versions.latest_versions([user]) == {user: known[0]}:
            return known[1]
        try:
            found: Aggregate = self.ledger.repository.get(user)
        except AggregateNotFoundError:
            raise Unauthenticated("用户不存在") from None
        if not isinstance(found, User) or not found.active:
            raise Unauthenticated("用户已停用", rule="user_inactive")
        actor = Actor(user_id=found.id, name=found.name, unit=found.unit_code, role=found.role)
        if len(self._users) > 10_000:  # bounded: forgotten users are read again
            self._users.clear()
        self._users[user] = (found.version, actor)
        return actor

    def new_token(self, stamp: Stamp, user: User) -> tuple[Token, str]:
        """A fresh bearer token for ``user`` (256 bits), and the aggregate that keeps its digest."""
        token = self.credential_prefix + secrets.token_urlsafe(32)
        issued = Token.issue(stamp, digest=token_digest(token), user_id=user.id,
                             expires_at=stamp.recorded_at + self.token_lifetime)
        return issued, token
