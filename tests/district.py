"""A small district for tests: units, a group, users of every role, a controllable clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from uuid import UUID

from application.access import Actor
from application.commands import SYSTEM, Command
from domain.plan import plan_id

if TYPE_CHECKING:
    from interfaces.bootstrap import Services


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


START = datetime(2019, 3, 1, 9, 0, tzinfo=timezone.utc)

UNITS = [
    ("pf", "普法和依法治理科", None),
    ("gf", "公共法律服务管理科", None),
    ("bgs", "办公室", None),
    ("sfs-cq", "常青花园司法所", "司法所"),
    ("sfs-zml", "走马岭司法所", "司法所"),
]


@dataclass
class District:
    services: Services
    actors: dict[str, Actor] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        # The ledger and its services (ledger, issues, cases, registry, accounts, ...).
        return getattr(self.__dict__["services"], name)

    def cmd(self, who: str, **kw: object) -> Command:
        return Command(actor=self.actors[who], **kw)  # type: ignore[arg-type]


USERS = [
    ("supervisor", "bgs", "supervisor"),
    ("inspector", "bgs", "inspector"),
    ("admin", "bgs", "admin"),
    ("pf-clerk", "pf", "agency"),
    ("gf-clerk", "gf", "agency"),
    ("cq-clerk", "sfs-cq", "agency"),
    ("zml-clerk", "sfs-zml", "agency"),
]


def seed(services: Services) -> District:
    district = District(services)
    for code, name, group in UNITS:
        services.registry.add_unit(Command(SYSTEM), code=code, name=name, group=group)
    for name, unit, role in USERS:
        enrolment = services.accounts.add_user(Command(SYSTEM), name=name, unit=unit, role=role)
        district.tokens[name] = enrolment.token
        district.actors[name] = services.identity.authenticate(enrolment.token)
    return district


def assigned_issue(district: District) -> UUID:
    """A plan's first issue, its measure M1 owned by 普法 (pf), assigned with a deadline and a
    node: what the forms on one issue act on (tests/e2e/test_measure_forms.py and others)."""
    cmd = district.cmd
    district.issues.register_plan(cmd("supervisor"), number="东政办[2019]6号", title="实施方案", issuer_unit="bgs", year=2019)
    made = district.issues.register_issue(cmd("supervisor"), plan=plan_id("东政办[2019]6号"), seq=1, duty="法治宣传教育",
                                          problem="普法有待加强", units=["pf"], measures=[("pf", "纳入考核标准", None)])
    district.issues.assign_issue(cmd("supervisor"), made.id, lead_unit="pf", co_units=[], contact_person="陈静",
                                 deadline=date(2019, 12, 31), nodes=[date(2019, 6, 30)])
    return made.id
