"""What the application needs from the store beyond the library's own recorder API."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID


class PositionIndex(Protocol):
    """Maps between an aggregate's versions and their positions in the global log."""

    def positions(self, originator_id: UUID) -> dict[int, int]: ...

    def locate(self, position: int) -> tuple[UUID, int] | None: ...


class FingerprintKey(Protocol):
    """An HMAC under a server secret, for what a client sent with an Idempotency-Key (the
    request's digest, and the key itself).

    The kept answer stores only results (``domain.idempotency.KEYED`` + hex), so what the
    log publishes proves nothing about the request to anyone without the secret."""

    def keyed(self, text: str) -> str: ...
