"""A case's personal data as commands use it: sealed under the case's own key, opened only
for what a rule needs (the exact birth date for the age rules). Nothing opened here is
shown, so these openings are not reads and are not logged (application.cases logs reads)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from application.ports import PersonalDataSeals
from domain.base import RuleViolated
from domain.case import ChildCase


class CaseSeals:
    def __init__(self, port: PersonalDataSeals) -> None:
        self.port = port

    def seal_new(self, case: UUID, fields: dict[str, Any]) -> str:
        """The first sealed text of a case, under a key made for it now."""
        return self.port.seal_new(case, fields)

    def seal(self, case: UUID, fields: dict[str, Any]) -> str:
        sealed = self.port.seal(case, fields)
        if sealed is None:
            raise self.erased()
        return sealed

    def require_key(self, case: UUID) -> None:
        if not self.alive(case):
            raise self.erased()

    @staticmethod
    def erased() -> RuleViolated:
        return RuleViolated("no_personal_data_after_erasure", "个人信息已删除，不能再记录新的个人信息")

    def alive(self, case: UUID) -> bool:
        """Whether the case's key still exists (not erased)."""
        return self.port.has_key(case)

    def opened(self, c: ChildCase, sealed: str | None) -> dict[str, Any]:
        """What a command needs from a sealed text; empty once the key is gone."""
        fields = self.port.unseal(c.id, sealed)
        return fields if isinstance(fields, dict) else {}

    def birth_date(self, c: ChildCase) -> date | None:
        """The exact birth date the age rules count from, opened from the seal; None when
        the case keeps it in clear (registered before it was sealed) or the key is gone."""
        if c.birth_date is not None:
            return None
        value = self.opened(c, c.sealed).get("birth_date")
        return date.fromisoformat(value) if isinstance(value, str) else None

    def erase(self, case: UUID) -> None:
        self.port.erase(case)
