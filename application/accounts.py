"""Who may use the ledger: users, their bearer tokens and dashboard passwords (signing in
with a password and the sessions it opens are application.sessions).

Every grant and every withdrawal of access is an event of the user's (or the token's)
aggregate, recorded by whoever made it, so the audit trail shows who gave and who took
back access. What must not be published with the events (password hashes, session ids)
or would grow the log with every request (last use, failed attempts) lives in the
``AccessStore``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from application.access import ADMIN, PROVINCE_INSPECTOR, Actor
from application.commands import Accepted, Command, CommandRunner, secret_shown_once
from application.errors import Forbidden, NotFound
from application.identity import Identity
from application.ledger import Ledger
from application.ports import AccessStore
from application.read_policy import POLICY
from application.registry import Registry
from domain.base import InvalidCommand, LedgerAggregate, RuleViolated, Stamp
from domain.registry import Token, Unit, User, unit_id, user_id

PASSWORD_MIN = 10
PASSWORD_MAX = 1024


def check_password(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise InvalidCommand("password_long_enough", f"密码至少 {PASSWORD_MIN} 个字符")
    if len(password) > PASSWORD_MAX:
        raise InvalidCommand("password_not_too_long", f"密码至多 {PASSWORD_MAX} 个字符")


@dataclass(frozen=True)
class Enrolment:
    user_id: UUID
    token: str
    token_id: UUID | None = None
    accepted: Accepted | None = None


@dataclass(frozen=True)
class IssuedToken:
    accepted: Accepted
    token: str


@dataclass(eq=False)
class Accounts:
    """Users and their bearer tokens: the administrator's commands, and each request's check
    of its token."""

    runner: CommandRunner
    identity: Identity
    registry: Registry
    store: AccessStore

    @property
    def ledger(self) -> Ledger:
        return self.runner.ledger

    def require_admin(self, actor: Actor) -> None:
        POLICY.require_role(actor, ADMIN, doing="管理用户和令牌", rule="administer")

    def _user(self, user: UUID) -> User:
        return self.ledger.load(User, user, "用户")

    # ---- bearer tokens ------------------------------------------------------------------

    def authenticate(self, token: str | None) -> Actor:
        """The ledger's check of a bearer token, and a note of its use (at most once a minute)."""
        found = self.identity.authenticate(token)
        if found.token_id is not None:
            self.store.touch_token(found.token_id, self.ledger.clock())
        return found

    def add_user(self, cmd: Command, *, name: str, unit: str, role: str, unit_name: str | None = None) -> Enrolment:
        """Creates a user and gives them a bearer token, shown to the caller once. With
        ``unit_name``, a unit not registered yet is registered in the same save (the first
        administrator's), so a refused user leaves no unit behind."""
        POLICY.require_role(cmd.actor, ADMIN, doing="管理单位和用户", rule="administer")
        self._role_of_this_store(role)
        if unit_name is None:
            self.registry.unit(unit)
        made: list[tuple[Token, str]] = []

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            if self.ledger.exists(user_id(name)):
                raise Forbidden("该用户名已存在", rule="user_name_unique")
            user = User.enrol(stamp, name=name, unit_code=unit, role=role)
            made.append(self.identity.new_token(stamp, user))
            issued = made[-1][0]
            others: list[LedgerAggregate] = [issued]
            if unit_name is not None and not self.ledger.exists(unit_id(unit)):
                others.append(Unit.register(stamp, code=unit, name=unit_name))
            return user, others, {"token_id": str(issued.id), "expires_at": issued.expiry(self.identity.token_lifetime).isoformat()}

        accepted = self.runner.run(cmd, act)
        if not made:
            raise secret_shown_once()
        issued, token = made[-1]
        return Enrolment(user_id=accepted.id, token=token, token_id=issued.id, accepted=accepted)

    def _role_of_this_store(self, role: str) -> None:
        """A province inspector is a user of the province's own store, never of a district's
        (whose credentials carry the district's prefix)."""
        if role == PROVINCE_INSPECTOR and self.identity.credential_prefix:
            raise InvalidCommand("province_inspector_in_province", "省级督查只能在省级（部署自己的模式）中创建")

    def issue_token(self, cmd: Command, user: UUID) -> IssuedToken:
        self.require_admin(cmd.actor)
        made: list[str] = []

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            owner = self._user(user)
            if not owner.active:
                raise RuleViolated("token_only_for_active_user", "该用户已停用，不能签发令牌")
            issued, token = self.identity.new_token(stamp, owner)
            made.append(token)
            return issued, [], {"user_id": str(owner.id), "expires_at": issued.expiry(self.identity.token_lifetime).isoformat()}

        accepted = self.runner.run(cmd, act)
        if not made:
            raise secret_shown_once()
        return IssuedToken(accepted, made[-1])

    def revoke_token(self, cmd: Command, token: UUID) -> Accepted:
        """By an admin, or by the token's owner (with any of their tokens)."""

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            issued = self.ledger.load(Token, token, "令牌")
            if not POLICY.may_revoke_token(cmd.actor, issued.user_id):
                # Whose tokens exist is not told to anyone else.
                raise NotFound("没有这个令牌", rule="token_exists")
            issued.revoke(stamp)
            return issued, [], {}

        return self.runner.run(cmd, act)

    # ---- users --------------------------------------------------------------------------

    def deactivate(self, cmd: Command, user: UUID) -> Accepted:
        """Stops every token and session of the user at once: requests check the user's
        version, and its sessions are deleted."""
        self.require_admin(cmd.actor)
        if user == cmd.actor.user_id:
            raise Forbidden("不能停用自己的账号", rule="admin_may_not_deactivate_self")

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            target = self._user(user)
            target.deactivate(stamp)
            return target, [], {}

        accepted = self.runner.run(cmd, act)
        self.store.end_sessions(user)
        return accepted

    def reactivate(self, cmd: Command, user: UUID) -> Accepted:
        self.require_admin(cmd.actor)

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            target = self._user(user)
            target.reactivate(stamp)
            return target, [], {}

        return self.runner.run(cmd, act)

    def change(self, cmd: Command, user: UUID, *, role: str | None = None, unit: str | None = None) -> Accepted:
        """A user's new role or unit; with an expected version, refused if the user changed since.
        An admin keeps their own role, as they keep their own access: none could undo the loss."""
        self.require_admin(cmd.actor)
        if user == cmd.actor.user_id and role not in (None, ADMIN):
            raise Forbidden("不能取消自己的管理员角色", rule="admin_may_not_demote_self")
        if role is not None:
            self._role_of_this_store(role)
        if unit is not None:
            self.registry.unit(unit)

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            target = self.runner.load_to_change(cmd, User, user, "用户", lambda _actor, _user: None)  # role checked above
            if role is not None:
                target.change_role(stamp, role=role)
            if unit is not None:
                target.move_to_unit(stamp, unit_code=unit)
            return target, [], {}

        return self.runner.run(cmd, act)

    def set_password(self, cmd: Command, name: str, password: str) -> Accepted:
        """Sets a user's dashboard password (the command line's, as an admin) and ends the
        user's sessions: whoever signed in with the old one is signed out."""
        self.require_admin(cmd.actor)
        check_password(password)

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            target = self._user(user_id(name))
            target.record_password_set(stamp)
            return target, [], {}

        accepted = self.runner.run(cmd, act)
        self.store.set_password(accepted.id, password)
        self.store.end_sessions(accepted.id)
        return accepted

    def user_by_name(self, name: str) -> User:
        return self._user(user_id(name))

    def users(self, actor: Actor) -> list[dict[str, Any]]:
        self.require_admin(actor)
        return [
            {"user_id": u.id, "name": u.name, "unit": u.unit_code, "role": u.role, "active": u.active,
             "has_password": getattr(u, "has_password", False), "created_at": u.created_on, "version": u.version}
            for u in cast(list[User], self.ledger.registered(User.Enrolled))  # type: ignore[attr-defined]
        ]

    def tokens(self, actor: Actor, user: UUID | None = None) -> list[dict[str, Any]]:
        """Token ids, owners, when issued, when they expire and were last used: never a secret."""
        self.require_admin(actor)
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
            expires = issued.expiry(self.identity.token_lifetime)
            listed.append({
                "token_id": issued.id, "user_id": issued.user_id, "user": names[issued.user_id],
                "created_at": issued.created_on, "expires_at": expires, "last_used_at": used.get(issued.id),
                "revoked": issued.revoked, "expired": now >= expires,
            })
        return listed


__all__ = ["Accounts", "Enrolment", "IssuedToken", "check_password"]
