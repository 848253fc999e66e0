"""The first answer to a command sent with an Idempotency-Key, saved with the command's events.

Saved in the same transaction as the events it answers for, so its presence is the truth
about whether the command committed — even when a retried insert reports a conflict.

The ``fingerprint`` tells a retry from another command under the same key. It and the key
are kept as HMACs under a server secret ("hmac-sha256:HEX"), never as what the client sent
nor a plain digest of it: the log is published to auditors, and a plain digest of a child's
registration lets anyone who guesses the name and ID number confirm the guess offline,
after erasure too. Answers kept before that hold the key as sent and a plain SHA-256 of the
request (64 hex digits, no prefix); they stay in the append-only log and are withheld
wherever events are shown (``is_keyed``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import LedgerAggregate, Stamp, ledger_id, versioned

KEYED = "hmac-sha256:"


def answer_id(user_name: str, key: str) -> UUID:
    return ledger_id("idempotency", user_name, key)


def is_keyed(fingerprint: object) -> bool:
    """True for a fingerprint that proves nothing without the server's secret."""
    return isinstance(fingerprint, str) and fingerprint.startswith(KEYED)


@versioned(Kept=1)
class CommandAnswer(LedgerAggregate):
    @staticmethod
    def create_id(*, owner: str, key: str, **_: object) -> UUID:
        return answer_id(owner, key)

    @classmethod
    def keep(
        cls, stamp: Stamp, *, owner: str, key: str, fingerprint: str, answer: dict[str, Any]
    ) -> CommandAnswer:
        if not (is_keyed(key) and is_keyed(fingerprint)):
            # Not a rule a user can break: the ledger must never store a plain digest again.
            raise ValueError("a command's answer is kept only under a keyed key and fingerprint")
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
