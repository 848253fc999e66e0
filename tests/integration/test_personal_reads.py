"""Reads of a child's personal fields are all on the access log, a killed server included; after
erasure a dump of the whole database holds the child's name and ID number nowhere."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from application.commands import SYSTEM, Command
from interfaces import bootstrap
from tests.application.test_child_cases import BIRTH
from tests.backends import scratch_database, settings_for
from tests.integration.test_operations import env_for, poll, serving

READS = int(os.environ.get("CARELEDGER_PERSONAL_READS", "1000"))
# The reads must be done by then, so a server that stops answering fails the test instead of
# hanging it. On the 2-CPU machine shared with others' benchmarks 1,000 reads took 75 to 267 s.
READS_WITHIN_SECONDS = 540
NAME = "欧阳晓萱"
ID_NUMBER = (lambda body: body + __import__("stdnum.cn.ric", fromlist=["ric"]).calc_check_digit(body + "0"))(
    "11010520120515772")  # a valid 18-digit number, unlike the one the other tests use


def seeded_case(settings) -> tuple[dict[str, str], str]:  # type: ignore[no-untyped-def]
    services = bootstrap.build(settings)
    try:
        tokens = {}
        for code, name in (("bgs", "办公室"), ("sfs-cq", "常青花园司法所"), ("gf", "公共法律服务管理科")):
            services.registry.add_unit(Command(SYSTEM), code=code, name=name)
        for user, unit, role in (("supervisor", "bgs", "supervisor"), ("inspector", "bgs", "inspector"),
                                 ("cq-clerk", "sfs-cq", "agency"), ("gf-clerk", "gf", "agency")):
            tokens[user] = services.accounts.add_user(Command(SYSTEM), name=user, unit=unit, role=role).token
        cq = Command(services.identity.authenticate(tokens["cq-clerk"]))
        case = services.cases.register_case(cq, street="常青花园", community="常青一社区", household_local=True,
                                    birth_date=BIRTH, person={"name": NAME, "id_number": ID_NUMBER,
                                                              "address": "某路1号", "guardian": "欧阳大明"})
        services.cases.refer_case(Command(services.identity.authenticate(tokens["supervisor"])), case.id, unit="gf", duty="法律援助")
    finally:
        services.close()
    return tokens, str(case.id)


# A scratch database's URL, its settings, the users' tokens and the id of the case it holds.
Seeded = tuple[str, Any, dict[str, str], str]


@pytest.fixture
def seeded(tmp_path: Path, postgres_database: str) -> Iterator[Seeded]:
    """A scratch database holding one case, registered and referred."""
    with scratch_database() as url:
        settings = settings_for("postgres", tmp_path, url, "public")
        yield url, settings, *seeded_case(settings)


def workers_of(server: int) -> list[int]:
    found = []
    for pid in Path(f"/proc/{server}/task/{server}/children").read_text().split():
        if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            found.append(int(pid))
    return found


@pytest.mark.slow
@pytest.mark.postgres
def test_every_read_of_personal_fields_is_an_access_log_entry_a_killed_worker_included(
    tmp_path: Path, seeded: Seeded,
) -> None:
    _url, settings, tokens, case = seeded
    env = env_for(settings, CARELEDGER_FOLLOWERS="external")
    reads = attempts = 0
    with serving(env, tmp_path, "--workers", "2") as (base, process):
        poll(lambda: len(workers_of(process.pid)) >= 2, 60, "two workers")
        gf = {"Authorization": f"Bearer {tokens['gf-clerk']}"}
        killed = False
        began = time.monotonic()
        give_up = began + READS_WITHIN_SECONDS
        while reads < READS:
            assert time.monotonic() < give_up, f"{reads} of {READS} reads in {READS_WITHIN_SECONDS}s"
            if reads == READS // 2 and not killed:
                os.kill(workers_of(process.pid)[0], signal.SIGKILL)
                killed = True
            attempts += 1
            try:  # a new connection each time, so both workers (and the killed one) answer some
                answer = httpx.get(f"{base}/api/v1/cases/{case}", headers=gf, timeout=10)
            except httpx.HTTPError:
                continue
            if answer.status_code == 200:
                assert answer.json()["personal"]["person"]["name"] == NAME
                reads += 1
        log = httpx.get(f"{base}/api/v1/cases/{case}/access-log",
                        headers={"Authorization": f"Bearer {tokens['inspector']}"}, timeout=30).json()
        took = time.monotonic() - began
    entries = [e for e in log if e["user"] == "gf-clerk"]
    print(f"personal reads: {reads} shown, {attempts} attempts, {len(entries)} access-log entries, "
          f"reads took {took:.0f}s")  # for the record (-s)
    # Every read that showed the fields is logged; a read cut off by the kill may be logged
    # without its answer arriving (the entry is stored first), never the other way round.
    assert READS <= len(entries) <= attempts, (len(entries), attempts)
    assert len(entries) - READS <= attempts - reads


@pytest.mark.postgres
def test_after_erasure_a_dump_of_the_whole_database_holds_no_name_or_id_number(
    seeded: Seeded,
) -> None:
    url, settings, tokens, case = seeded
    services = bootstrap.build(settings)
    try:
        shown = services.cases.read_case(services.identity.authenticate(tokens["gf-clerk"]), UUID(case),
                                         endpoint="test")
        assert shown[1] is not None and shown[1]["person"]["name"] == NAME
        services.cases.erase_personal_data(Command(services.identity.authenticate(tokens["supervisor"])),
                                           UUID(case), reason="期满")
    finally:
        services.close()
    dump = subprocess.run(["pg_dump", "--format=plain", "--inserts", url], capture_output=True, check=True,
                          timeout=120).stdout
    assert len(dump) > 10_000
    for secret in (NAME, ID_NUMBER, "欧阳大明"):
        for form in (secret.encode(), secret.encode("unicode_escape"), secret.encode().hex().encode(),
                     json.dumps(secret).encode()):
            assert form not in dump, (secret, form[:40])
