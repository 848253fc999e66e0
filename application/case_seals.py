"""A case's personal data as commands use it: sealed under the case's own key, opened only
for what a rule needs (the exact birth date for the age rules). Nothing opened here is
shown, so these openings are not reads and are not logged (application.cases logs reads)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from application.personal_data import CaseKeys, seal, unseal
from domain.base import RuleViolated
from domain.case import ChildCase


class CaseSeals:
    def __init__(self, keys: CaseKeys) -> None:
        self.keys = keys

    def seal_new(self, case: UUID, fields: dict[str, Any]) -> str:
        """The first sealed text of a case, under a key made for it now."""
        return seal(self.keys.create(case), case, fields)

    def seal(self, case: UUID, fields: dict[str, Any]) -> str:
        return seal(self.key(case), case, fields)

    def key(self, case: UUID) -> bytes:
        key = self.keys.get(case)
        if key is None:
            raise RuleViolated("no_personal_data_after_erasure", "个人信息已删除，不能再记录新的个人信息")
        return key

    def alive(self, case: UUID) -> bool:
        """Whether the case's key still exists (not erased)."""
        return self.keys.get(case) is not None

    def opened(self, c: ChildCase, sealed: str | None) -> dict[str, Any]:
        """What a command needs from a sealed text; empty once the key is gone."""
        fields = unseal(self.keys.get(c.id), c.id, sealed)
        return fields if isinstance(fields, dict) else {}

    def birth_date(self, c: ChildCase) -> date | None:
        """The exact birth date the age rules count from, opened from the seal; None when
        the case keeps it in clear (registered before it was sealed) or the key is gone."""
        if c.birth_date is not None:
            return None
        value = self.opened(c, c.sealed).get("birth_date")
        return date.fromisoformat(value) if isinstance(value, str) else None

    def erase(self, case: UUID) -> None:
        self.keys.erase(case)
