"""docs/ARCHITECTURE.md stays true: every file and folder its tour names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
# A path in backticks: at least one slash, or a known file ending.
NAMED = re.compile(r"`([\w./-]+/[\w./-]*|[\w-]+\.(?:py|md|html))`")


def test_every_path_the_architecture_tour_names_exists() -> None:
    named = set(NAMED.findall(DOC.read_text(encoding="utf-8")))
    assert len(named) > 20, "the tour names the files it is about"
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert missing == []
