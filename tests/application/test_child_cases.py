"""Child cases through the application: who sees personal fields, the access log, erasure."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from application.commands import Command
from application.errors import Forbidden, NotFound
from domain.base import InvalidCommand, RuleViolated
from tests.district import District

NAME = "王小明"
BIRTH = date(2012, 5, 15)


def valid_id() -> str:
    from stdnum.cn import ric

    body = "11010520120515341"  # a region code python-stdnum knows
    return body + ric.calc_check_digit(body + "0")  # the function ignores the last character


@pytest.fixture
def case(district: District):  # type: ignore[no-untyped-def]
    accepted = district.cases.register_case(
        district.cmd("cq-clerk"), street="常青花园", community="常青一社区", household_local=True,
        birth_date=BIRTH, person={"name": NAME, "id_number": valid_id(), "address": "某路1号"},
    )
    assert accepted.extra["case_number"].startswith("ET2019-")
    return accepted.id


def log_size(district: District) -> int:
    return district.ledger.recorder.max_notification_id() or 0


def test_an_id_number_that_fails_its_checksum_is_refused_without_echoing_it(district: District) -> None:
    before = log_size(district)
    bad = valid_id()[:-1] + ("0" if valid_id()[-1] != "0" else "1")
    with pytest.raises(InvalidCommand) as info:
        district.cases.register_case(district.cmd("cq-clerk"), street="s", community="c", household_local=True,
                                      birth_date=BIRTH, person={"name": NAME, "id_number": bad})
    assert bad not in str(info.value) and NAME not in str(info.value)
    assert log_size(district) == before


def test_an_id_number_must_agree_with_the_birth_date(district: District) -> None:
    with pytest.raises(InvalidCommand):
        district.cases.register_case(district.cmd("cq-clerk"), street="s", community="c", household_local=True,
                                      birth_date=BIRTH + timedelta(days=1), person={"name": NAME, "id_number": valid_id()})


# (who, referral state) -> sees personal fields (True), sees the case without them (False), reads it as
# missing (None: NotFound, as for an id that does not exist), refused by role ("role": Forbidden)
WHO_SEES = [
    ("supervisor", "none", True),
    ("inspector", "none", True),
    ("cq-clerk", "none", False),      # the registering unit
    ("gf-clerk", "none", None),       # no referral, not the registering unit
    ("gf-clerk", "open", True),
    ("gf-clerk", "closed", False),
    ("pf-clerk", "open", None),       # referral to gf does not open the case to pf
    ("admin", "none", "role"),
]


@pytest.mark.parametrize(("who", "referral", "expected"), WHO_SEES)
def test_who_sees_personal_fields(district: District, case, who: str, referral: str, expected) -> None:  # type: ignore[no-untyped-def]
    if referral != "none":
        referral_id = district.cases.refer_case(district.cmd("supervisor"), case, unit="gf", duty="法律援助").extra["referral_id"]
        if referral == "closed":
            district.cases.close_referral(district.cmd("gf-clerk"), case, referral_id, outcome="completed")
    reads_before = len(district.cases.case_access_log(district.actors["inspector"], case))
    if expected in (None, "role"):
        with pytest.raises(NotFound if expected is None else Forbidden):
            district.cases.read_case(district.actors[who], case, endpoint="test")
        with pytest.raises(NotFound if expected is None else Forbidden):
            district.cases.case_history(district.actors[who], case)
        assert len(district.cases.case_access_log(district.actors["inspector"], case)) == reads_before
        return
    shown, personal = district.cases.read_case(district.actors[who], case, endpoint="test")
    assert shown.case_number
    if expected:
        assert personal is not None and personal["person"]["name"] == NAME
    else:
        assert personal is None
    reads_after = len(district.cases.case_access_log(district.actors["inspector"], case))
    # The inspector's own access-log reads are not reads of personal fields.
    assert reads_after - reads_before == (1 if expected else 0)


def test_every_read_of_personal_fields_is_logged_with_who_and_where(district: District, case) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        district.cases.read_case(district.actors["supervisor"], case, endpoint="/api/v1/cases/x")
    log = district.cases.case_access_log(district.actors["supervisor"], case)
    assert [(e["user"], e["unit"], e["endpoint"]) for e in log] == [("supervisor", "bgs", "/api/v1/cases/x")] * 3
    with pytest.raises(Forbidden):
        district.cases.case_access_log(district.actors["cq-clerk"], case)


def test_after_erasure_events_load_and_personal_fields_read_as_erased(district: District, case) -> None:  # type: ignore[no-untyped-def]
    district.cases.record_guardianship(district.cmd("cq-clerk"), case, arrangement="entrusted", guardian={"name": "王奶奶"})
    district.cases.erase_personal_data(district.cmd("supervisor"), case, reason="年满十八周岁")
    shown, personal = district.cases.read_case(district.actors["supervisor"], case, endpoint="test")
    assert shown.erased and personal == {"erased": True}
    assert len(district.cases.case_history(district.actors["inspector"], case)) == shown.version
    with pytest.raises(RuleViolated):
        district.cases.record_guardianship(district.cmd("cq-clerk"), case, arrangement="entrusted", guardian={"name": "x"})


def test_a_report_is_accepted_before_police_are_dispatched_and_times_become_facts(district: District, case, clock) -> None:  # type: ignore[no-untyped-def]
    reported = clock.now - timedelta(hours=2)
    report_id = district.cases.file_mandatory_report(Command(actor=district.actors["cq-clerk"], occurred_at=reported), case,
                                             reporter="school", nature="abuse", details="详情").extra["report_id"]
    with pytest.raises(RuleViolated):
        district.cases.dispatch_police(district.cmd("supervisor"), case, report_id)
    accepted = district.cases.accept_report(Command(actor=district.actors["supervisor"], occurred_at=reported + timedelta(minutes=10)),
                                    case, report_id)
    assert accepted.extra["seconds_since_report"] == 600
    dispatched = district.cases.dispatch_police(district.cmd("supervisor"), case, report_id)
    assert dispatched.extra["seconds_since_report"] == 7200


def test_the_first_service_of_a_referred_unit_measures_its_response(district: District, case, clock) -> None:  # type: ignore[no-untyped-def]
    referral = district.cases.refer_case(district.cmd("supervisor"), case, unit="gf", duty="法律援助").extra["referral_id"]
    clock.advance(days=2)
    first = district.cases.provide_service(district.cmd("gf-clerk"), case, kind="legal_aid", referral_id=referral, notes=None)
    assert first.extra["seconds_since_referral"] == 2 * 86400
    second = district.cases.provide_service(district.cmd("gf-clerk"), case, kind="legal_aid", referral_id=referral, notes=None)
    assert second.extra["seconds_since_referral"] is None


def test_personal_data_is_nowhere_in_clear_in_any_table(district: District, case, services) -> None:  # type: ignore[no-untyped-def]
    from tests.scan import scan_store

    district.cases.record_guardianship(district.cmd("cq-clerk"), case, arrangement="statutory", guardian={"name": "王大明"})
    district.cases.read_case(district.actors["supervisor"], case, endpoint="test")
    for needle in (NAME, valid_id(), "王大明", "某路1号"):
        assert not scan_store(services.settings, needle), needle
    district.cases.erase_personal_data(district.cmd("supervisor"), case, reason="r")
    for needle in (NAME, valid_id(), "王大明"):
        assert not scan_store(services.settings, needle), needle


def test_sealed_entries_are_corrected_sealed_and_merge_with_what_they_held(district: District, case) -> None:  # type: ignore[no-untyped-def]
    clerk = district.cmd("cq-clerk")
    guardianship = district.cases.record_guardianship(clerk, case, arrangement="entrusted",
                                              guardian={"name": "王奶奶", "relation": "祖母", "phone": "027-1"})
    report = district.cases.file_mandatory_report(clerk, case, reporter="school", nature="abuse", details=None)
    before = log_size(district)
    for bad in ({"guardian": {"name": " "}}, {"guardian": {"phone": "电话"}}, {"guardian": {"age": 70}},
                {"guardian": "王奶奶"}):
        with pytest.raises(InvalidCommand) as refused:
            district.cases.correct_case_entry(clerk, case, position=guardianship.position, changes=bad, reason="更正")
        assert refused.value.rule == "correction_values_valid"
    assert log_size(district) == before
    district.cases.correct_case_entry(clerk, case, position=guardianship.position,
                              changes={"guardian": {"phone": "027-83912345"}}, reason="电话变更")
    district.cases.correct_case_entry(clerk, case, position=report.position, changes={"details": "补充：夜间独自在家"},
                              reason="补充报告内容")
    _, personal = district.cases.read_case(district.actors["supervisor"], case, endpoint="test")
    assert personal is not None
    assert personal["guardianships"] == [{"name": "王奶奶", "relation": "祖母", "phone": "027-83912345"}]
    assert personal["reports"] == {"MR1": {"details": "补充：夜间独自在家"}}
    assert [c["reason"] for c in personal["corrections"]] == ["电话变更", "补充报告内容"]
    history = district.cases.case_history(district.actors["inspector"], case)
    assert "027-83912345" not in str(history) and "补充报告内容" not in str(history)
