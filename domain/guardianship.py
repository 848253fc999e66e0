"""监护情况: who has the care of the child, by the kind of arrangement; the guardian's
name and contact are personal data and arrive sealed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.base import check_code

GUARDIANSHIPS = (
    "statutory",  # 监护人
    "entrusted",  # 受委托监护人
    "court_appointed",  # 法院指定监护人
)


def check_arrangement(arrangement: object) -> None:
    check_code(arrangement, GUARDIANSHIPS, "guardianship_arrangement_is_known", "监护类型")


def new_guardianship(version: int, arrangement: str, sealed: str, occurred_at: datetime) -> dict[str, Any]:
    return {"version": version, "arrangement": arrangement, "sealed": sealed, "occurred_at": occurred_at}
