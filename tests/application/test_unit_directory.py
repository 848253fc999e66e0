"""The unit directory (names → codes, groups → members) that the plans page, the problem-list
import and the audit filters read is kept between reads (Ledger.derived) and read again
once a unit or a group is registered or a member admitted, by this process or another."""

from __future__ import annotations

from contextlib import closing

from application.commands import SYSTEM, Command
from application.problem_list_import import unit_directory
from interfaces import bootstrap
from tests.district import District


def test_the_unit_directory_is_kept_until_a_unit_a_group_or_a_member_is_recorded(
    district: District, settings,  # type: ignore[no-untyped-def]
) -> None:
    ledger = district.ledger
    first = unit_directory(ledger)
    assert first.units["普法和依法治理科"] == "pf" and list(first.groups["司法所"]) == ["sfs-cq", "sfs-zml"]
    district.issues.register_plan(district.cmd("supervisor"), number="东政办[2019]6号", title="方案",
                                  issuer_unit="bgs", year=2019)
    assert unit_directory(ledger) is first  # nothing of the registry changed: not loaded again
    district.registry.add_unit(Command(SYSTEM), code="pf", name="普法和依法治理科", group="法治组")  # a group founded
    founded = unit_directory(ledger)
    assert list(founded.groups["法治组"]) == ["pf"]
    district.registry.add_unit(Command(SYSTEM), code="gf", name="公共法律服务管理科", group="法治组")  # admitted only
    assert list(unit_directory(ledger).groups["法治组"]) == ["pf", "gf"]
    # Another process registers a unit: this one's next read has it.
    with closing(bootstrap.build(settings)) as other:
        other.registry.add_unit(Command(SYSTEM), code="jcy", name="区检察院")
    assert unit_directory(ledger).units["区检察院"] == "jcy"
