"""What the folds of a case and of an issue share: the summary a later event folds into."""

from __future__ import annotations

import copy
from typing import Any

Summary = dict[str, Any]


def continued(summary: Summary | None, kind: str, *, in_place: bool) -> Summary:
    """The summary an event after the registration changes: the argument itself when
    ``in_place`` (a view's batch owns the summaries it loaded), else a copy, leaving the
    argument untouched."""
    if summary is None:
        raise ValueError(f"{kind} before Registered")
    return summary if in_place else copy.deepcopy(summary)
