"""docs/SECURITY.md names, for every threat, the test that proves its control: each must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_test_the_threat_table_names_exists() -> None:
    doc = (ROOT / "docs" / "SECURITY.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(test_\w+)`", doc))
    paths = set(re.findall(r"`(tests/[\w/]+\.py)`", doc))
    defined = {
        name for source in (ROOT / "tests").rglob("test_*.py")
        for name in re.findall(r"^\s*def (test_\w+)", source.read_text(encoding="utf-8"), re.M)
    }
    assert len(named) > 20
    assert sorted(named - defined) == []
    assert sorted(p for p in paths if not (ROOT / p).exists()) == []
