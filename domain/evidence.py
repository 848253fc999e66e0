"""Evidence of progress (证明材料) as a progress report takes it (interfaces.http.schemas
.Evidence): a file name and the document's SHA-256; the document stays out of the ledger."""

from __future__ import annotations

import re

from domain.base import InvalidCommand
from domain.free_text import check_free_text

MAX_EVIDENCE, MAX_EVIDENCE_NAME = 100, 200
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def checked_evidence(evidence: object, *, rule: str = "evidence_valid") -> list[dict[str, str]]:
    """Evidence of a progress report or of its correction, hashes in lower case; the names
    are clear free text (checked for ID and mobile numbers), the hashes are not."""
    invalid = InvalidCommand(rule, "证明材料须为名称和 SHA-256 摘要的列表")
    if not isinstance(evidence, list) or len(evidence) > MAX_EVIDENCE:
        raise invalid
    checked = []
    for item in evidence:
        if not isinstance(item, dict) or set(item) != {"name", "sha256"}:
            raise invalid
        name, sha256 = item["name"], item["sha256"]
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_EVIDENCE_NAME or _CONTROL.search(name):
            raise invalid
        if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
            raise invalid
        checked.append({"name": name, "sha256": sha256.lower()})
    check_free_text("证明材料名称", [item["name"] for item in checked])
    return checked
