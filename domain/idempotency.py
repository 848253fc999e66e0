"""The first answer to a command sent with an Idempotency-Key, saved with the command's events.

Saved in the same transaction as the events it answers for, so its presence is the truth
about whether the command committed — even when a retried insert reports a conflict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import LedgerAggregate, Stamp, ledger_id


def answer_id(user_name: str, key: str) -> UUID:
    return ledger_id("idempotency", user_name, key)


class CommandAnswer(LedgerAggregate):
    @staticmethod
    def create_id(*, owner: str, key: str, **_: object) -> UUID:
        return answer_id(owner, key)

    @classmethod
    def keep(
        cls, stamp: Stamp, *, owner: str, key: str, fingerprint: str, answer: dict[str, Any]
    ) -> CommandAnswer:
        return cls(**stamp.fields(), owner=owner, key=key, fingerprint=fingerprint, answer=answer)

    @event("Kept")
    def __init__(
        self,
        *,
        user: str,
        unit: str,
        occurred_at: datetime,
        owner: str,
        key: str,
        fingerprint: str,
        answer: dict[str, Any],
    ) -> None:
        self.owner = owner
        self.key = key
        self.fingerprint = fingerprint
        self.answer = answer
