"""What a kept answer stores of what the client sent: HMACs under the server's key, nothing else."""

from __future__ import annotations

import hashlib
import os

import pytest

from application.audit import AuditTrail
from application.commands import Command, CommandRunner
from application.issues import Issues
from application.ledger import Ledger
from application.registry import Registry
from domain.idempotency import is_keyed
from infrastructure.idempotency_key import HmacFingerprintKey, load_idempotency_key
from projections.merkle_log import KEPT_TOPIC
from tests.district import District


def kept_events(ledger: Ledger) -> list[object]:
    stored = ledger.recorder.select_notifications(start=1, limit=1000, topics=[KEPT_TOPIC])
    return [ledger.mapper.to_domain_event(n) for n in stored]


def test_a_kept_answer_holds_the_key_and_the_digest_only_as_hmacs_under_the_servers_key(
    district: District, settings,  # type: ignore[no-untyped-def]
) -> None:
    plain = hashlib.sha256(b"POST /api/v1/plans\n{}").hexdigest()
    cmd = Command(actor=district.actors["supervisor"], idempotency_key="plan-k-1", fingerprint=plain)
    district.issues.register_plan(cmd, number="P-1", title="方案", issuer_unit="bgs", year=2019)

    [kept] = kept_events(district.ledger)
    assert is_keyed(kept.key) and is_keyed(kept.fingerprint)  # type: ignore[attr-defined]
    server = HmacFingerprintKey(load_idempotency_key(settings.idempotency_key_file))
    assert kept.fingerprint == server.keyed("request " + plain)  # type: ignore[attr-defined]
    assert kept.key == server.keyed("key plan-k-1")  # type: ignore[attr-defined]
    other_server = HmacFingerprintKey(os.urandom(32))
    assert other_server.keyed("request " + plain) != kept.fingerprint  # type: ignore[attr-defined]
    assert district.runner.kept_answer("supervisor", "plan-k-1") is not None
    assert district.runner.kept_answer("inspector", "plan-k-1") is None


def test_a_ledger_without_a_fingerprint_key_refuses_a_keyed_command_and_stores_nothing(district: District) -> None:
    bare = Ledger(district.ledger.env, clock=district.ledger.clock)
    runner = CommandRunner(bare)  # no fingerprint key
    try:
        before = bare.recorder.max_notification_id()
        cmd = Command(actor=district.actors["supervisor"], idempotency_key="k", fingerprint="f")
        with pytest.raises(RuntimeError):
            Issues(runner, Registry(runner), AuditTrail(bare)).register_plan(cmd, number="P-2", title="方案", issuer_unit="bgs", year=2019)
        assert bare.recorder.max_notification_id() == before
    finally:
        bare.close()
