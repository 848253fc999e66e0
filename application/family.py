"""What the command service of an aggregate family (application.issues, application.cases) is
given and keeps: the one runner its commands take, the registry that resolves unit codes, the
audit trail its histories are read from, and ``_change``, a command on one of its aggregates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic

from application.access import Actor
from application.audit import AuditTrail
from application.commands import A, Changer, CommandRunner
from application.registry import Registry


class FamilyService(Generic[A]):
    def __init__(self, runner: CommandRunner, registry: Registry, trail: AuditTrail, *, kind: type[A], what: str,
                 readable: Callable[[Actor, A], None]) -> None:
        self.runner = runner
        self.ledger = runner.ledger
        self.registry = registry
        self.trail = trail
        self._change: Changer[A] = runner.changer(kind, what, readable)
