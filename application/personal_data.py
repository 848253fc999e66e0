"""A child's personal data, sealed under a key of the case's own (crypto-shredding).

Each case has one AES-256-GCM key, kept by a ``CaseKeys`` store outside the event tables.
Events carry only the sealed text, so deleting the key erases every personal field the
case ever recorded, in every event, while the events themselves and their hashes stay.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from datetime import date
from typing import Any, Final, Protocol
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.case import SEALED_PREFIX

KEY_BYTES = 32
NONCE_BYTES = 12  # 96 bits: the size GCM is specified for; fresh from os.urandom each time
# Plaintext is padded to a multiple of this, so the ciphertext's length does not tell a
# two-character name from a four-character one.
PAD_TO = 64


class CaseKeys(Protocol):
    """Where case keys live. ``get`` answers None once a key is erased (or never existed)."""

    def create(self, case_id: UUID) -> bytes: ...

    def get(self, case_id: UUID) -> bytes | None: ...

    def erase(self, case_id: UUID) -> None: ...


class CaseKeyExists(Exception):
    """A second key for the same case: the first would be lost, and its data with it."""


class SealBroken(Exception):
    """The sealed text does not open under the case's key: tampered, or sealed for another
    case. Never carries the text itself."""


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


def new_case_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def _associated_data(case_id: UUID) -> bytes:
    # Binding the case id means a sealed text copied into another case's event does not open.
    return str(case_id).encode()


def _json_value(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def seal(key: bytes, case_id: UUID, fields: dict[str, Any]) -> str:
    """Encrypts ``fields`` (JSON values; dates become ISO text) for one case."""
    plain = json.dumps(fields, ensure_ascii=False, sort_keys=True, default=_json_value).encode()
    # JSON ignores trailing whitespace, so spaces pad without a length field.
    plain += b" " * (-len(plain) % PAD_TO)
    nonce = os.urandom(NONCE_BYTES)
    sealed = nonce + AESGCM(key).encrypt(nonce, plain, _associated_data(case_id))
    return SEALED_PREFIX + base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def unseal(key: bytes | None, case_id: UUID, sealed: str | None) -> dict[str, Any] | Erased | None:
    """The fields sealed in ``sealed``; ``ERASED`` when the key is gone; None when nothing
    was sealed (an event with no personal data)."""
    if sealed is None:
        return None
    if key is None:
        return ERASED
    if not sealed.startswith(SEALED_PREFIX):
        raise SealBroken("个人信息密文格式不正确")
    try:
        body = sealed.removeprefix(SEALED_PREFIX)
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated_data(case_id))
    except (InvalidTag, ValueError, binascii.Error):
        raise SealBroken("个人信息密文无法用本个案的密钥解开") from None
    fields = json.loads(plain)
    if not isinstance(fields, dict):
        raise SealBroken("个人信息密文内容不正确")
    return fields
