"""What a child's personal fields read as once the case's key is erased: sealing and
opening them is infrastructure's (infrastructure.sealing, behind
application.ports.PersonalDataSeals)."""

from __future__ import annotations

from typing import Final


class Erased:
    """What personal fields read as once the case key is gone."""

    _instance: Erased | None = None

    def __new__(cls) -> Erased:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "ERASED"


ERASED: Final = Erased()
