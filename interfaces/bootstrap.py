"""The composition root: the only place that builds applications and stores from settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from application.ledger import Ledger
from infrastructure.settings import Settings


@dataclass
class Services:
    settings: Settings
    ledger: Ledger

    def close(self) -> None:
        self.ledger.close()


def build(settings: Settings | None = None, *, clock: Callable[[], datetime] | None = None) -> Services:
    settings = settings or Settings()
    ledger = Ledger(settings.eventsourcing_env(), clock=clock)
    return Services(settings=settings, ledger=ledger)
