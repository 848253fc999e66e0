"""What the application needs from the store beyond the library's own recorder API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from application.personal_data import Erased


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


# A sealed text opened: its fields, ERASED once the case's key is gone, None for no text.
Opened = dict[str, Any] | Erased | None


class PersonalDataSeals(Protocol):
    """A child's personal data sealed under a key of the case's own (AES-256-GCM in
    infrastructure.sealing): deleting the key erases every personal field the case ever
    recorded, while the events and their hashes stay."""

    def seal_new(self, case_id: UUID, fields: dict[str, Any]) -> str:
        """Makes the case's key and seals its first fields under it."""
        ...

    def seal(self, case_id: UUID, fields: dict[str, Any]) -> str | None:
        """The fields sealed under the case's key; None once the key is erased."""
        ...

    def opener(self, case_id: UUID) -> Callable[[str | None], Opened] | None:
        """Opens the case's sealed texts (its key read once); None once the key is erased."""
        ...

    def unseal(self, case_id: UUID, sealed: str | None) -> Opened: ...

    def has_key(self, case_id: UUID) -> bool: ...

    def erase(self, case_id: UUID) -> None: ...


class LatestVersions(Protocol):
    """The version each aggregate has reached, in one read: is what a process remembers current?"""

    def latest_versions(self, originator_ids: list[UUID]) -> dict[UUID, int]: ...


@dataclass(frozen=True)
class SessionRecord:
    user_id: UUID
    created_at: datetime
    last_seen_at: datetime


class AccessStore(Protocol):
    """What access needs outside the event log: secrets and per-request bookkeeping that
    must never be published with the events (password hashes, session ids) or that would
    make the log grow with every request (last use, failed attempts)."""

    # Passwords: hashed and verified by the store; the application never sees a hash.
    def set_password(self, user_id: UUID, password: str) -> None: ...

    def verify_password(self, user_id: UUID | None, password: str) -> bool: ...

    # Sessions, found by the SHA-256 of their random id.
    def open_session(self, digest: str, user_id: UUID, now: datetime) -> None: ...

    def find_session(self, digest: str) -> SessionRecord | None: ...

    def touch_session(self, digest: str, now: datetime) -> None: ...

    def end_session(self, digest: str) -> None: ...

    def end_sessions(self, user_id: UUID) -> int: ...

    def end_sessions_older_than(self, created_before: datetime, seen_before: datetime) -> int: ...

    # Failed sign-ins, by key ("user:ID", "address:IP"): answers the lock's end once locked.
    def locked_until(self, keys: list[str], now: datetime) -> datetime | None: ...

    def count_failure(
        self, key: str, now: datetime, *, limit: int, window: timedelta, lock: timedelta
    ) -> datetime | None: ...

    def clear_failures(self, key: str) -> None: ...

    def forget_failures_before(self, moment: datetime) -> None: ...

    # When each token last signed a request in (kept at most once a minute).
    def touch_token(self, token_id: UUID, now: datetime) -> None: ...

    def tokens_last_used(self) -> dict[UUID, datetime]: ...


class HeldUploads(Protocol):
    """A problem list previewed and not yet confirmed, kept for the one user who uploaded it
    by the SHA-256 of its content: a page's confirmation names the digest, so what is
    imported is exactly what was previewed (a form without script cannot send the file twice)."""

    def hold(self, owner: UUID, name: str, content: bytes) -> str:
        """Keeps the upload; answers its SHA-256 (lower-case hex)."""
        ...

    def held(self, owner: UUID, sha256: str) -> tuple[str, bytes] | None:
        """The name and content ``owner`` uploaded under that digest; None if not (or no longer) kept."""
        ...

    def release(self, owner: UUID, sha256: str) -> None: ...
