"""The Ed25519 key that signs tree heads, kept in one PEM file readable by its owner only."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class TreeHeadSigner:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = SignatureVerifier(private_key.public_key())

    @classmethod
    def load_or_create(cls, path: Path) -> TreeHeadSigner:
        """The key in ``path``; a new one written there (mode 0600) if there is none."""
        path = Path(path)
        if not path.exists():
            _create_key_file(path)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise TypeError(f"{path} holds a {type(key).__name__}, not an Ed25519 private key")
        return cls(key)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def public_key_pem(self) -> str:
        return self.public_key.pem()


class SignatureVerifier:
    """A public key, for whoever checks tree heads: the service itself, or `verify`."""

    def __init__(self, public_key: Ed25519PublicKey) -> None:
        self._key = public_key

    @classmethod
    def from_pem(cls, pem: str | bytes) -> SignatureVerifier:
        key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
        if not isinstance(key, Ed25519PublicKey):
            raise TypeError(f"not an Ed25519 public key but a {type(key).__name__}")
        return cls(key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def pem(self) -> str:
        return self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")


def load_public_key(path: Path) -> SignatureVerifier:
    """The public half of the key in ``path``, for checking heads; never makes a key."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no tree-head signing key at {path}")
    return TreeHeadSigner.load_or_create(path).public_key


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Written whole under a private name, then linked into place: two processes starting
    # at once never read half a key, and the first one's key is the one both keep.
    draft = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
    finally:
        draft.unlink(missing_ok=True)
