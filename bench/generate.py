"""The district generator (interfaces.district_generator) from the command line, for benches.

    .venv/bin/python -m bench.generate 100000 --url postgresql://postgres@127.0.0.1/db
"""

from __future__ import annotations

import argparse
import time

from bench.common import progress
from interfaces.district_generator import START, DistrictGenerator

__all__ = ["START", "DistrictGenerator", "main"]


def main() -> None:
    from infrastructure.settings import Settings
    from interfaces.bootstrap import build

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("events", type=int)
    parser.add_argument("--url", default=None, help="database URL (default: CARELEDGER_DATABASE_URL)")
    parser.add_argument("--batch", type=int, default=40, help="commands per save")
    args = parser.parse_args()
    settings = Settings(database_url=args.url) if args.url else Settings()
    services = build(settings)
    try:
        start = time.perf_counter()
        gen = DistrictGenerator(services, batch=args.batch)
        gen.extend(args.events, report=lambda done, total: progress(f"{done:,}/{total:,} events"))
        seconds = time.perf_counter() - start
        print(f"{gen.written:,} events in {gen.saves:,} saves, {seconds:.1f} s: "
              f"{gen.written / seconds:,.0f} events/s; {len(gen.issue_ids):,} issues, {len(gen.case_ids):,} cases")
    finally:
        services.close()


if __name__ == "__main__":
    main()
