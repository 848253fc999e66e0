"""Audit: filtered queries of the audit index over a large generated log, p50/p99.

The log is generated (bench.generate), the audit index caught up, then each filter the
HTTP API offers (/audit/events) is asked with random values and random starting positions,
a page of 100 rows each. Baselines from the same run: a bare round trip (SELECT 1) and a
raw page of 100 rows of the event table by position range (the cheapest useful read).
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import timedelta
from typing import Any

from bench.common import build_services, median, ms, percentile, progress, scratch, table
from bench.generate import DistrictGenerator


def run(backend: str, size: int, queries: int) -> None:
    from projections.audit_index import AuditFilter

    rng = random.Random(3)
    rows: list[list[Any]] = []
    with scratch(backend, "audit") as s:
        services = build_services(s)
        try:
            ledger = services.ledger
            gen = DistrictGenerator(ledger, batch=100)
            t0 = time.perf_counter()
            gen.extend(size)
            progress(f"audit {backend}: {gen.written:,} events generated ({time.perf_counter() - t0:.0f} s)")
            t0 = time.perf_counter()
            services.audit.catch_up()
            total = ledger.recorder.max_notification_id() or 0
            progress(f"audit {backend}: indexed {total:,} in {time.perf_counter() - t0:.0f} s")
            store = services.audit.store
            conn = s.connect()
            table_name = ledger.recorder.events_table_name
            key, mark = ("notification_id", "%s") if s.backend == "postgres" else ("rowid", "?")

            def sample(fn: Any) -> list[float]:
                out = []
                for _ in range(queries):
                    start = time.perf_counter()
                    fn()
                    out.append(time.perf_counter() - start)
                return out

            ping = sample(lambda: conn.execute("SELECT 1").fetchall())
            raw_page = sample(lambda: conn.execute(
                f"SELECT {key}, originator_id, originator_version, topic, state FROM {table_name} "
                f"WHERE {key} > {mark} ORDER BY {key} LIMIT 100", (rng.randint(0, total - 100),)).fetchall())
            base = percentile(raw_page, 99)
            units = [*gen.agencies, *gen.joint, "dxh-bgs"]
            users = list(gen.users.values())
            types = ["Urged", "ProgressReported", "Registered", "ServiceProvided", "Referred", "Closed",
                     "EvaluatedAtYearEnd", "PoliceDispatched"]
            start_t, end_t = gen.now - (gen.now - ledger.clock()) , gen.now
            from bench.generate import START
            span = (gen.now - START).total_seconds()
            aggs = gen.issue_ids + gen.case_ids

            def after() -> int:
                return rng.choice([0, 0, rng.randint(0, total)])

            def window() -> Any:
                a = START + timedelta(seconds=rng.uniform(0, span))
                return a, a + timedelta(days=rng.choice([1, 7, 30]))

            filters = {
                "unit": lambda: AuditFilter(after=after(), unit=rng.choice(units)),
                "user": lambda: AuditFilter(after=after(), user=rng.choice(users)),
                "type": lambda: AuditFilter(after=after(), type=rng.choice(types)),
                "aggregate": lambda: AuditFilter(aggregate=rng.choice(aggs)),
                "recorded between": lambda: AuditFilter(after=after(), recorded_from=window()[0],
                                                         recorded_to=window()[1]),
                "late by ≥ 7 days": lambda: AuditFilter(after=after(), late_by_seconds=7 * 86400),
                "unit + type": lambda: AuditFilter(after=after(), unit=rng.choice(units), type=rng.choice(types)),
                "unit + recorded between": lambda: (lambda w: AuditFilter(
                    after=after(), unit=rng.choice(units), recorded_from=w[0], recorded_to=w[1]))(window()),
                "no filter": lambda: AuditFilter(after=after()),
            }
            rows.append(["SELECT 1 (round trip)", ms(percentile(ping, 50)), ms(percentile(ping, 99)), "", ""])
            rows.append(["raw page of 100 events by position", ms(percentile(raw_page, 50)), ms(base), "1.00×", ""])
            for name, make in filters.items():
                lat = sample(lambda: store.query(make()))
                p99 = percentile(lat, 99)
                rows.append([name, ms(percentile(lat, 50)), ms(p99), f"{p99 / base:.2f}×",
                             "yes" if p99 < 0.050 else "no"])
                progress(f"audit {backend}: {name} p99 {p99 * 1000:.1f} ms")
            conn.close()
        finally:
            services.close()
    table(
        f"Audit queries over {total:,} events, {backend}",
        ["query (page of 100)", "p50 ms", "p99 ms", "p99 ratio to raw page", "p99 < 50 ms"],
        rows,
        [f"{queries} queries per row, random values; a third start at a random position (`after`).",
         "through the audit store (infrastructure/audit_store.py), as /audit/events asks it, without HTTP."],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="audit benchmark")
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    run(args.backend, args.events, args.queries)


if __name__ == "__main__":
    main()
