"""Who acts: the actor every command and read carries, and the roles. What each role may
read and do is application.read_policy."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

AGENCY, SUPERVISOR, INSPECTOR, ADMIN = "agency", "supervisor", "inspector", "admin"
PROVINCE_INSPECTOR = "province_inspector"


@dataclass(frozen=True)
class Actor:
    user_id: UUID
    name: str
    unit: str
    role: str
    # The bearer token this request signed in with; None for a dashboard session.
    token_id: UUID | None = None
