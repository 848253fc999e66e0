"""The units a form or a filter offers to choose from: one list, in the order they were
registered, whatever page shows it."""

from __future__ import annotations

from application.commands import SYSTEM
from application.problem_list_import import unit_directory
from interfaces.bootstrap import Services

# The unit of the ledger's own entries (the command line, initialisation): only the audit
# trail's filter offers it, as only there are such entries looked for.
SYSTEM_CHOICE = (SYSTEM.unit, "系统（命令行、初始化）")


def unit_choices(svc: Services, *, coded: bool = False, groups: bool = False) -> list[tuple[str, str]]:
    """(code, label) of every registered unit, labelled by its name (and its code when
    ``coded``), then, with ``groups``, each group as 各X."""
    directory = unit_directory(svc.ledger)
    found = [(code, f"{name}（{code}）" if coded else name) for name, code in directory.units.items()]
    if groups:
        found += [(code, f"各{code}（单位组）") for code in sorted(directory.groups)]
    return found
