"""A previewed problem list kept for its sender until confirmed (infrastructure.held_uploads)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from uuid import uuid4

from infrastructure.held_uploads import KEPT_SECONDS, HeldUploadFiles


def test_only_the_sender_finds_the_upload_by_its_digest_until_it_is_released(tmp_path: Path) -> None:
    held = HeldUploadFiles(tmp_path)
    sender, other = uuid4(), uuid4()
    digest = held.hold(sender, "问题清单.csv", b"a,b\n")
    assert held.held(sender, digest) == ("问题清单.csv", b"a,b\n")
    assert held.held(other, digest) is None
    assert held.held(sender, "../" + digest[3:]) is None and held.held(sender, digest.upper()) is None
    held.release(sender, digest)
    assert held.held(sender, digest) is None


def test_a_file_changed_after_the_preview_is_not_imported(tmp_path: Path) -> None:
    held = HeldUploadFiles(tmp_path)
    sender = uuid4()
    digest = held.hold(sender, "a.csv", b"previewed")
    (tmp_path / "held" / str(sender) / digest).write_bytes(b"changed")
    assert held.held(sender, digest) is None


def test_a_preview_left_for_a_day_goes_with_the_senders_next_upload(tmp_path: Path) -> None:
    held = HeldUploadFiles(tmp_path)
    sender = uuid4()
    old = held.hold(sender, "old.csv", b"old")
    long_ago = time.time() - KEPT_SECONDS - 60
    for part in (tmp_path / "held" / str(sender)).glob(f"{old}*"):
        os.utime(part, (long_ago, long_ago))
    new = held.hold(sender, "new.csv", b"new")
    assert held.held(sender, old) is None and held.held(sender, new) == ("new.csv", b"new")


def test_a_preview_left_for_a_day_goes_with_anyones_next_upload(tmp_path: Path) -> None:
    held = HeldUploadFiles(tmp_path)
    gone_away, another = uuid4(), uuid4()
    old = held.hold(gone_away, "old.csv", b"old")
    long_ago = time.time() - KEPT_SECONDS - 60
    for part in (tmp_path / "held" / str(gone_away)).glob(f"{old}*"):
        os.utime(part, (long_ago, long_ago))
    held.hold(another, "new.csv", b"new")
    assert held.held(gone_away, old) is None
    assert list((tmp_path / "held" / str(gone_away)).glob("*")) == []
