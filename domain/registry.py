"""成员单位 and 各X groups, their duty catalogues (职责清单), and the people who use the ledger."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.domain import event

from domain.base import InvalidCommand, LedgerAggregate, RuleViolated, Stamp, ledger_id, versioned
from domain.free_text import check_free_text

# province_inspector (省级督查): a user of a province deployment's own schema, who reads every
# district's audit trail (interfaces.deployment) and nothing of its content.
ROLES = ("agency", "supervisor", "inspector", "admin", "province_inspector")


def unit_id(code: str) -> UUID:
    return ledger_id("unit", code)


def group_id(code: str) -> UUID:
    return ledger_id("unit-group", code)


def user_id(name: str) -> UUID:
    return ledger_id("user", name)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_id(token: str) -> UUID:
    """Tokens are found by their digest; the token itself is never stored."""
    return ledger_id("token", token_digest(token))


@versioned(Registered=1, JoinedGroup=1, DutyDefined=1)
class Unit(LedgerAggregate):
    @staticmethod
    def create_id(*, code: str, **_: object) -> UUID:
        return unit_id(code)

    @classmethod
    def register(cls, stamp: Stamp, *, code: str, name: str) -> Unit:
        if not code.strip() or not name.strip():
            raise InvalidCommand("unit_needs_code_and_name", "单位须有代码和名称")
        # Not a child's field, but clear for good in every event the unit records.
        check_free_text("单位代码和名称", code, name)
        return cls(**stamp.fields(), code=code, name=name)

    @event("Registered")
    def __init__(self, *, user: str, unit: str, occurred_at: datetime, code: str, name: str) -> None:
        self.code = code
        self.name = name
        self.groups: list[str] = []
        self.duties: dict[str, str] = {}

    def join_group(self, stamp: Stamp, *, group: str) -> None:
        if group in self.groups:
            return
        self._joined_group(**stamp.fields(), group=group)

    @event("JoinedGroup")
    def _joined_group(self, *, user: str, unit: str, occurred_at: datetime, group: str) -> None:
        self.groups.append(group)

    def define_duty(self, stamp: Stamp, *, duty_id: str, text: str) -> None:
        if self.duties.get(duty_id) == text:
            return
        if not text.strip():
            raise InvalidCommand("duty_text_required", "职责内容不能为空")
        check_free_text("职责内容", text)
        self._duty_defined(**stamp.fields(), duty_id=duty_id, text=text)

    @event("DutyDefined")
    def _duty_defined(
        self, *, user: str, unit: str, occurred_at: datetime, duty_id: str, text: str
    ) -> None:
        self.duties[duty_id] = text


@versioned(Founded=1, MemberAdmitted=1)
class UnitGroup(LedgerAggregate):
    """各司法所: a name that stands for every unit of the group."""

    @staticmethod
    def create_id(*, code: str, **_: object) -> UUID:
        return group_id(code)

    @classmethod
    def found(cls, stamp: Stamp, *, code: str) -> UnitGroup:
        if not code.strip():
            raise InvalidCommand("group_needs_code", "单位组须有代码")
        check_free_text("单位组代码", code)
        return cls(**stamp.fields(), code=code)

    @event("Founded")
    def __init__(self, *, user: str, unit: str, occurred_at: datetime, code: str) -> None:
        self.code = code
        self.members: list[str] = []

    def admit(self, stamp: Stamp, *, member: str) -> None:
        if member in self.members:
            return
        self._admitted(**stamp.fields(), member=member)

    @event("MemberAdmitted")
    def _admitted(self, *, user: str, unit: str, occurred_at: datetime, member: str) -> None:
        self.members.append(member)


@versioned(Enrolled=1, Deactivated=1, Reactivated=1, RoleChanged=1, UnitChanged=1, PasswordSet=1)
class User(LedgerAggregate):
    @staticmethod
    def create_id(*, name: str, **_: object) -> UUID:
        return user_id(name)

    @classmethod
    def enrol(cls, stamp: Stamp, *, name: str, unit_code: str, role: str) -> User:
        if role not in ROLES:
            raise InvalidCommand("role_is_known", f"角色须为{'、'.join(ROLES)}之一")
        if not name.strip():
            raise InvalidCommand("user_needs_name", "用户须有名称")
        # An official's name is not a child's field, but it stands in clear in every event
        # the user records and no erasure reaches it: no ID or mobile number in it either.
        check_free_text("用户名称", name)
        return cls(**stamp.fields(), name=name, unit_code=unit_code, role=role)

    @event("Enrolled")
    def __init__(
        self, *, user: str, unit: str, occurred_at: datetime, name: str, unit_code: str, role: str
    ) -> None:
        self.name = name
        self.unit_code = unit_code
        self.role = role
        self.active = True
        self.has_password = False

    def deactivate(self, stamp: Stamp) -> None:
        if not self.active:
            raise RuleViolated("user_already_inactive", "该用户已停用")
        self._deactivated(**stamp.fields())

    @event("Deactivated")
    def _deactivated(self, *, user: str, unit: str, occurred_at: datetime) -> None:
        self.active = False

    def reactivate(self, stamp: Stamp) -> None:
        if self.active:
            raise RuleViolated("user_already_active", "该用户未停用")
        self._reactivated(**stamp.fields())

    @event("Reactivated")
    def _reactivated(self, *, user: str, unit: str, occurred_at: datetime) -> None:
        self.active = True

    def change_role(self, stamp: Stamp, *, role: str) -> None:
        if role not in ROLES:
            raise InvalidCommand("role_is_known", f"角色须为{'、'.join(ROLES)}之一")
        if role != self.role:
            self._role_changed(**stamp.fields(), role=role)

    @event("RoleChanged")
    def _role_changed(self, *, user: str, unit: str, occurred_at: datetime, role: str) -> None:
        self.role = role

    def move_to_unit(self, stamp: Stamp, *, unit_code: str) -> None:
        if unit_code != self.unit_code:
            self._unit_changed(**stamp.fields(), unit_code=unit_code)

    @event("UnitChanged")
    def _unit_changed(self, *, user: str, unit: str, occurred_at: datetime, unit_code: str) -> None:
        self.unit_code = unit_code

    def record_password_set(self, stamp: Stamp) -> None:
        """The hash lives outside the log (it would be published with the event's fields);
        the log says who set a password and when."""
        self._password_set(**stamp.fields())

    @event("PasswordSet")
    def _password_set(self, *, user: str, unit: str, occurred_at: datetime) -> None:
        self.has_password = True


@versioned(Issued=1, Revoked=1)
class Token(LedgerAggregate):
    """A bearer token, kept only as its SHA-256 digest (the id is derived from it)."""

    @staticmethod
    def create_id(*, digest: str, **_: object) -> UUID:
        return ledger_id("token", digest)

    @classmethod
    def issue(cls, stamp: Stamp, *, digest: str, user_id: UUID, expires_at: datetime) -> Token:
        if expires_at <= stamp.recorded_at:
            raise InvalidCommand("token_expires_in_future", "令牌的失效时间须晚于签发时间")
        return cls(**stamp.fields(), digest=digest, user_id=user_id, expires_at=expires_at)

    # ``expires_at`` came later: tokens issued before it have none (None when loaded).
    @event("Issued")
    def __init__(
        self, *, user: str, unit: str, occurred_at: datetime, digest: str, user_id: UUID,
        expires_at: datetime | None = None,
    ) -> None:
        self.digest = digest
        self.user_id = user_id
        self.revoked = False
        self.expires_at = expires_at

    def expiry(self, lifetime: timedelta) -> datetime:
        """When the token stops signing in: its own expiry, or, for a token issued before
        tokens had one, ``lifetime`` after it was issued."""
        return self.expires_at if self.expires_at is not None else self.created_on + lifetime

    def revoke(self, stamp: Stamp) -> None:
        if not self.revoked:
            self._revoked(**stamp.fields())

    @event("Revoked")
    def _revoked(self, *, user: str, unit: str, occurred_at: datetime) -> None:
        self.revoked = True


@versioned(Locked=1)
class SignInLock(LedgerAggregate):
    """A user's password sign-in stopped after repeated failures, until ``until``.

    An aggregate per lock, not an event per failed attempt on the user: someone trying
    passwords adds at most one event per user per lock period, and never to the user's
    own history, which every request of theirs loads."""

    @staticmethod
    def create_id(*, user_id: UUID, until: datetime, **_: object) -> UUID:
        return ledger_id("sign-in-lock", user_id, until.isoformat())

    @classmethod
    def lock(cls, stamp: Stamp, *, user_id: UUID, until: datetime, failures: int) -> SignInLock:
        return cls(**stamp.fields(), user_id=user_id, until=until, failures=failures)

    @event("Locked")
    def __init__(
        self, *, user: str, unit: str, occurred_at: datetime, user_id: UUID, until: datetime, failures: int
    ) -> None:
        self.user_id = user_id
        self.until = until
        self.failures = failures
