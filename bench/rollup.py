"""The provincial roll-up's catch-up rate: one follower over N districts' logs, from nothing.

N districts, each a PostgreSQL schema of one scratch database with its own generated
history (bench.generate's district: M issues with their history, about 50 events an issue
with the cases beside them, as in its 10⁶-event district), and the province's schema;
then, measured:

- library read (the baseline): every district's log read with the roll-up's topics and each
  notification decoded to a domain event, as the follower reads it;
- catch-up: ``RollupFollower.catch_up`` from an empty province store (the roll-up's tables
  emptied between repetitions), in log positions per second over all districts;
- the roll-up answered now and as of the middle of the history (``ProvincialRollup.answer``).

    .venv/bin/python -m bench.rollup                                # 3 districts × 50 issues
    .venv/bin/python -m bench.rollup --districts 20 --issues 1000   # issue 21's size (long)
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

import psycopg

from bench.common import median, ms, progress, rate, ratio, scratch, timed
from bench.generate import START, DistrictGenerator


def library_read(ledgers: dict[str, Any], topics: tuple[str, ...], page: int) -> float:
    start = time.perf_counter()
    for ledger in ledgers.values():
        last = 0
        while found := ledger.recorder.select_notifications(last + 1, page, topics=topics):
            for n in found:
                ledger.mapper.to_domain_event(n)
            last = found[-1].id
    return time.perf_counter() - start


def main() -> None:
    from infrastructure.rollup import BATCH, DistrictLog, ProvincialRollup, RollupFollower
    from infrastructure.rollup_store import RollupStore
    from interfaces.bootstrap import build
    from projections import rollup

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--districts", type=int, default=3)
    parser.add_argument("--issues", type=int, default=50, help="issues per district (cases come with them)")
    parser.add_argument("--events-per-issue", type=int, default=50,
                        help="events per issue (cases' included): ~50 in bench.generate's 10⁶-event district")
    parser.add_argument("--batch", type=int, default=BATCH, help="the follower's batch")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()

    with scratch("postgres", "rollup") as s:
        codes = [f"d{i:02d}" for i in range(1, args.districts + 1)]
        with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={s.dbname}", autocommit=True) as conn:
            for schema in (*codes, "province"):
                conn.execute(f'CREATE SCHEMA "{schema}"')
        built: dict[str, Any] = {}
        try:
            generated, issues, cases = 0, 0, 0
            t0 = time.perf_counter()
            for code in codes:
                (s.directory / code).mkdir()
                base = s.settings()
                settings = base.model_copy(update={
                    "database_schema": code, "pool_size": 2,
                    **{key: s.directory / code / getattr(base, key).name
                       for key in ("signing_key_file", "data_key_file", "idempotency_key_file")}})
                services = built[code] = build(settings)
                gen = DistrictGenerator(services, batch=100)
                gen.extend(args.issues * args.events_per_issue)
                while len(gen.issue_ids) < args.issues:
                    gen.extend(gen.written + 1000)
                generated += gen.written
                issues, cases = issues + len(gen.issue_ids), cases + len(gen.case_ids)
                progress(f"{code}: {gen.written:,} events, {len(gen.issue_ids):,} issues, {len(gen.case_ids):,} cases")
            progress(f"generated {generated:,} events in {time.perf_counter() - t0:.0f} s")
            province = build(s.settings().model_copy(update={"database_schema": "province", "pool_size": 2}))
            built["province"] = province
            ledgers = {code: built[code].ledger for code in codes}
            positions = sum(ledger.recorder.max_notification_id() or 0 for ledger in ledgers.values())
            store = RollupStore(province.ledger.recorder.datastore)
            store.create_tables()
            logs = {code: DistrictLog.of(ledger) for code, ledger in ledgers.items()}

            reads, catch_ups = [], []
            for _ in range(args.reps):
                reads.append(library_read(ledgers, rollup.TOPICS, args.batch))
                for code in codes:
                    store.forget(code)
                follower = RollupFollower(RollupStore(province.ledger.recorder.datastore), logs, batch=args.batch)
                start = time.perf_counter()
                follower.catch_up()
                catch_ups.append(time.perf_counter() - start)
            reader = ProvincialRollup(store, lambda: datetime.now(UTC), {code: code for code in codes})
            now = median([timed(reader.answer) for _ in range(args.reps)])
            middle = START + (datetime.fromtimestamp(store.tracked(codes[0]).recorded_max, UTC) - START) / 2
            past = median([timed(lambda: reader.answer(as_of=middle)) for _ in range(args.reps)])
            read, caught = median(reads), median(catch_ups)
            # Printed, not appended to docs/BENCHMARKS.md (bench.common.table): the lead records it.
            print(f"## Provincial roll-up: {args.districts} districts ({args.districts} × ≥{args.issues} issues: "
                  f"{issues:,} issues, {cases:,} cases), {positions:,} positions "
                  f"(PostgreSQL, batch {args.batch}, medians of {args.reps})\n\n"
                  "| what | seconds | positions/s | × library read |\n|---|---|---|---|\n"
                  f"| library read of the roll-up's topics, decoded | {read:.2f} | {rate(positions / read)} | 1.00× |\n"
                  f"| follower catch-up from nothing | {caught:.2f} | {rate(positions / caught)} | {ratio(read, caught)} |\n\n"
                  f"- roll-up answered now: {ms(now)} ms; as of {middle.isoformat()}: {ms(past)} ms")
        finally:
            for services in built.values():
                services.close()


if __name__ == "__main__":
    main()
