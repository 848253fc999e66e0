"""The public keys a tree head may be signed by: the current signing key and the retired
ones, so that heads signed before a key rotation still verify after it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from infrastructure.signing import SignatureVerifier, load_public_key


class Keyring:
    """Verifies a signature if any of its keys does."""

    def __init__(self, keys: Iterable[SignatureVerifier]) -> None:
        self.keys = list(keys)
        if not self.keys:
            raise ValueError("a keyring needs at least one key")

    @classmethod
    def load(cls, signing_key_file: Path, retired: Iterable[Path] = ()) -> Keyring:
        """The current key's public half, then each retired public key (PEM files; a
        directory stands for every ``*.pem`` in it)."""
        keys = [load_public_key(signing_key_file)]
        for path in retired:
            files = sorted(Path(path).glob("*.pem")) if Path(path).is_dir() else [Path(path)]
            keys.extend(SignatureVerifier.from_pem(f.read_bytes()) for f in files)
        return cls(keys)

    def verify(self, message: bytes, signature: bytes) -> bool:
        return any(key.verify(message, signature) for key in self.keys)
