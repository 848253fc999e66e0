"""Eight writers race on one issue with If-Match: one wins per version, nothing lost, nothing twice."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from application.commands import Command
from application.errors import ConcurrentWrite, VersionMismatch
from domain.plan import plan_id
from tests.district import District

pytestmark = pytest.mark.postgres


@pytest.fixture
def backend() -> str:
    return "postgres"


def test_eight_threads_appending_with_if_match(district: District) -> None:
    ledger = district.ledger
    district.issues.register_plan(district.cmd("supervisor"), number="P", title="t", issuer_unit="bgs", year=2019)
    issue = district.issues.register_issue(district.cmd("supervisor"), plan=plan_id("P"), seq=1, duty="d", problem="p",
                                  units=["pf"], measures=[(None, "m", None)]).id
    start_version = district.issues.issue(issue).version
    outcomes: Counter[str] = Counter()
    winners: list[int] = []
    lock = threading.Lock()
    go = threading.Barrier(8)

    def writer(n: int) -> None:
        go.wait()
        for attempt in range(25):
            version = district.issues.issue(issue).version
            cmd = Command(actor=district.actors["pf-clerk"], expected_version=version)
            try:
                accepted = district.issues.report_progress(cmd, issue, "M1", summary=f"w{n}-{attempt}", evidence=[])
            except VersionMismatch:
                result = "412"
            except ConcurrentWrite:
                result = "409"
            else:
                result = "201"
                with lock:
                    winners.append(accepted.version)
            with lock:
                outcomes[result] += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    final = district.issues.issue(issue)
    assert sum(outcomes.values()) == 8 * 25
    assert outcomes["201"] >= 25, outcomes
    assert outcomes["412"] + outcomes["409"] > 0, outcomes
    assert sorted(winners) == list(range(start_version + 1, final.version + 1)), "one winner per version"
    assert final.version - start_version == outcomes["201"]
    assert len(ledger.recorder.select_events(issue)) == final.version
    summaries = [p["summary"] for p in final.measures["M1"]["progress"]]
    assert len(summaries) == len(set(summaries)) == outcomes["201"]
