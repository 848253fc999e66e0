"""Granting and taking back access: tokens issued and revoked, users deactivated and
reactivated, each an event recorded by whoever did it; lists that never hold a secret."""

from __future__ import annotations

import pytest

from application.commands import Command
from application.errors import Forbidden, NotFound, Unauthenticated, VersionMismatch
from domain.base import RuleViolated
from domain.registry import Token, token_digest, user_id
from tests.district import Clock, District


def _log_size(district: District) -> int:
    return district.ledger.recorder.max_notification_id() or 0


def test_an_admin_issues_a_token_that_signs_in_and_is_listed_without_its_secret(district: District) -> None:
    accounts = district.accounts
    issued = accounts.issue_token(district.cmd("admin"), user_id("pf-clerk"))
    assert accounts.authenticate(issued.token).name == "pf-clerk"
    listed = accounts.tokens(district.actors["admin"], user_id("pf-clerk"))
    assert {t["token_id"] for t in listed} == {Token.create_id(digest=token_digest(district.tokens["pf-clerk"])),
                                                issued.accepted.id}
    assert all(issued.token not in repr(t) and token_digest(issued.token) not in repr(t) for t in listed)
    fresh = next(t for t in listed if t["token_id"] == issued.accepted.id)
    assert fresh["last_used_at"] is not None and fresh["expires_at"] > fresh["created_at"]
    assert fresh["revoked"] is False and fresh["user"] == "pf-clerk"


@pytest.mark.parametrize("who", ["supervisor", "inspector", "pf-clerk"])
def test_only_an_admin_issues_tokens_deactivates_or_lists(district: District, who: str) -> None:
    accounts, before = district.accounts, _log_size(district)
    with pytest.raises(Forbidden):
        accounts.issue_token(district.cmd(who), user_id(who))
    with pytest.raises(Forbidden):
        accounts.deactivate(district.cmd(who), user_id("gf-clerk"))
    with pytest.raises(Forbidden):
        accounts.tokens(district.actors[who])
    with pytest.raises(Forbidden):
        accounts.users(district.actors[who])
    assert _log_size(district) == before


def test_the_owner_revokes_their_own_token_and_nobody_else_but_an_admin_may(district: District) -> None:
    accounts = district.accounts
    own = Token.create_id(digest=token_digest(district.tokens["pf-clerk"]))
    before = _log_size(district)
    with pytest.raises(NotFound):
        accounts.revoke_token(district.cmd("gf-clerk"), own)
    assert _log_size(district) == before
    accounts.revoke_token(district.cmd("pf-clerk"), own)
    with pytest.raises(Unauthenticated):
        accounts.authenticate(district.tokens["pf-clerk"])
    other = Token.create_id(digest=token_digest(district.tokens["gf-clerk"]))
    accounts.revoke_token(district.cmd("admin"), other)
    with pytest.raises(Unauthenticated):
        accounts.authenticate(district.tokens["gf-clerk"])


def test_every_grant_and_withdrawal_is_an_event_recorded_by_the_admin(district: District) -> None:
    accounts, admin = district.accounts, district.cmd("admin")
    target = user_id("zml-clerk")
    issued = accounts.issue_token(admin, target)
    accounts.revoke_token(admin, issued.accepted.id)
    accounts.deactivate(admin, target)
    accounts.reactivate(admin, target)
    accounts.change(admin, target, role="inspector")
    user_history = [(e["type"], e["recorder"]) for e in district.trail.history(target)]
    assert user_history == [("Enrolled", "system"), ("Deactivated", "admin"), ("Reactivated", "admin"),
                            ("RoleChanged", "admin")]
    token_history = [(e["type"], e["recorder"]) for e in district.trail.history(issued.accepted.id)]
    assert token_history == [("Issued", "admin"), ("Revoked", "admin")]
    fields = district.trail.history(issued.accepted.id)[0]["fields"]
    assert fields["user_id"] == target and "expires_at" in fields and issued.token not in repr(fields)


def test_refused_access_commands_leave_the_log_as_it_was(district: District) -> None:
    accounts, admin = district.accounts, district.cmd("admin")
    accounts.deactivate(admin, user_id("zml-clerk"))
    before = _log_size(district)
    with pytest.raises(RuleViolated):
        accounts.deactivate(admin, user_id("zml-clerk"))
    with pytest.raises(RuleViolated):
        accounts.issue_token(admin, user_id("zml-clerk"))
    with pytest.raises(RuleViolated):
        accounts.reactivate(admin, user_id("pf-clerk"))
    with pytest.raises(Forbidden):
        accounts.deactivate(admin, user_id("admin"))
    with pytest.raises(NotFound):
        accounts.deactivate(admin, user_id("nobody"))
    with pytest.raises(NotFound):
        accounts.change(admin, user_id("pf-clerk"), unit="no-such-unit")
    assert _log_size(district) == before


def test_a_deactivated_users_tokens_all_stop_and_come_back_with_reactivation(district: District) -> None:
    accounts, admin = district.accounts, district.cmd("admin")
    second = accounts.issue_token(admin, user_id("cq-clerk")).token
    accounts.deactivate(admin, user_id("cq-clerk"))
    for token in (district.tokens["cq-clerk"], second):
        with pytest.raises(Unauthenticated):
            accounts.authenticate(token)
    accounts.reactivate(admin, user_id("cq-clerk"))
    assert accounts.authenticate(second).name == "cq-clerk"


def test_a_token_issuing_command_sent_again_does_not_answer_a_secret_twice(district: District) -> None:
    accounts = district.accounts
    cmd = Command(district.actors["admin"], idempotency_key="issue-1", fingerprint="f")
    accounts.issue_token(cmd, user_id("pf-clerk"))
    before = _log_size(district)
    with pytest.raises(RuleViolated) as refused:
        accounts.issue_token(cmd, user_id("pf-clerk"))
    assert refused.value.rule == "token_shown_once" and _log_size(district) == before


def test_the_token_list_says_which_tokens_have_expired(district: District, clock: Clock) -> None:
    clock.advance(days=3651)
    listed = district.accounts.tokens(district.actors["admin"])
    assert listed and all(t["expired"] for t in listed)


def test_a_change_or_a_duty_sent_against_an_older_version_is_refused_and_stores_nothing(district: District) -> None:
    target = user_id("pf-clerk")
    version = district.ledger.repository.get(target).version
    district.accounts.deactivate(district.cmd("admin"), target)
    unit_version = district.registry.unit("gf").version
    district.registry.define_duty(district.cmd("admin"), unit="gf", duty_id="D1", text="法律援助")
    before = _log_size(district)
    with pytest.raises(VersionMismatch):
        district.accounts.change(district.cmd("admin", expected_version=version), target, role="inspector")
    with pytest.raises(VersionMismatch):
        district.registry.define_duty(district.cmd("admin", expected_version=unit_version), unit="gf", duty_id="D1",
                                      text="法律咨询")
    assert _log_size(district) == before
    assert district.accounts.change(district.cmd("admin", expected_version=version + 1), target,
                                    role="inspector").version == version + 2


def test_an_admin_keeps_their_own_admin_role_and_only_an_admin_reads_the_catalogue(district: District) -> None:
    before = _log_size(district)
    with pytest.raises(Forbidden, match="不能取消自己的管理员角色"):
        district.accounts.change(district.cmd("admin"), user_id("admin"), role="supervisor")
    assert _log_size(district) == before
    with pytest.raises(Forbidden):
        district.registry.catalogue(district.actors["supervisor"])
    catalogue = district.registry.catalogue(district.actors["admin"])
    assert [u["code"] for u in catalogue] == ["pf", "gf", "bgs", "sfs-cq", "sfs-zml"]
    assert catalogue[3]["groups"] == ["司法所"] and catalogue[0]["duties"] == {}
