"""The tree-head key: made once, private to its owner, and checkable from its public PEM."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from infrastructure.signing import SignatureVerifier, TreeHeadSigner, load_public_key
from projections.merkle import tree_head_message


def test_the_key_is_made_on_first_use_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "var" / "keys" / "signing-key.pem"
    signer = TreeHeadSigner.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert [p.name for p in path.parent.iterdir()] == ["signing-key.pem"]
    again = TreeHeadSigner.load_or_create(path)
    assert again.public_key_pem() == signer.public_key_pem()


def test_a_head_verifies_with_the_published_key_and_fails_once_changed(tmp_path: Path) -> None:
    signer = TreeHeadSigner.load_or_create(tmp_path / "k.pem")
    published = SignatureVerifier.from_pem(signer.public_key_pem())
    head = tree_head_message(5, "00" * 32, "2026-01-01T00:00:00.000Z")
    signature = signer.sign(head)
    assert published.verify(head, signature)
    assert not published.verify(
        tree_head_message(6, "00" * 32, "2026-01-01T00:00:00.000Z"), signature
    )
    assert not published.verify(head, bytes([signature[0] ^ 1]) + signature[1:])
    stranger = TreeHeadSigner.load_or_create(tmp_path / "other.pem")
    assert not SignatureVerifier.from_pem(stranger.public_key_pem()).verify(head, signature)


def test_a_key_file_of_another_kind_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "ec.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(TypeError, match="not an Ed25519"):
        TreeHeadSigner.load_or_create(path)


def test_checking_heads_never_makes_a_key(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_public_key(tmp_path / "absent.pem")
    assert not (tmp_path / "absent.pem").exists()
    signer = TreeHeadSigner.load_or_create(tmp_path / "k.pem")
    assert load_public_key(tmp_path / "k.pem").pem() == signer.public_key_pem()
