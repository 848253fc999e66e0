"""Loading an aggregate: the library's default projector against careledger's LedgerRepository
fold (no per-event runtime Protocol check), interleaved in one process, medians of 11.

    .venv/bin/python -m bench.repository
"""

from __future__ import annotations

import statistics
import time

from bench.common import build_services, scratch, table
from bench.replay import make_history


def main() -> None:
    from eventsourcing.application import project_aggregate

    from application.commands import Command
    from application.ledger import _fold
    from domain.plan import plan_id
    from interfaces import demo_district

    rows = []
    with scratch("sqlite", "repository") as s:
        services = build_services(s)
        try:
            ledger = services.ledger
            actor = services.identity.authenticate(demo_district.load(services)["supervisor"])
            for seq, n in enumerate((10, 100, 1000), start=100):
                issue = services.issues.register_issue(Command(actor), plan=plan_id(demo_district.PLAN_NUMBER), seq=seq,
                                              duty="工作职责", problem="存在问题", units=["dxh-pfk"]).id
                make_history(ledger, issue, n)
                library, ours = [], []
                for _ in range(11):
                    t = time.perf_counter()
                    ledger.repository.get(issue, projector_func=project_aggregate)
                    library.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    ledger.repository.get(issue, projector_func=_fold)
                    ours.append(time.perf_counter() - t)
                a, b = statistics.median(library) * 1000, statistics.median(ours) * 1000
                rows.append([n, f"{a:.2f}", f"{b:.2f}", f"{b / a:.2f}×"])
        finally:
            services.close()
    table("Loading an issue: library projector vs LedgerRepository (SQLite)",
          ["events", "library project_aggregate ms", "LedgerRepository fold ms", "ratio"], rows,
          ["the library's projector asserts isinstance(event, CanMutateProtocol) per event, a runtime Protocol "
           "check that costs about as much as decoding the event on Python 3.11."])


if __name__ == "__main__":
    main()
