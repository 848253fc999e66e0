"""The provincial roll-up, built from a deployment's services (the composition root's part).

``build_rollup(province, districts)`` makes the roll-up's store in the province's own schema,
one follower over every district's log, and the reader the province's pages and API ask.
A deployment of one store (SQLite, or PostgreSQL with no district) has no roll-up: None.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from infrastructure.rollup import DistrictLog, ProvincialRollup, RollupFollower
from infrastructure.rollup_store import RollupStore
from interfaces.bootstrap import Services


@dataclass(frozen=True)
class Rollup:
    follower: RollupFollower
    reader: ProvincialRollup


def build_rollup(province: Services, districts: Mapping[str, Services],
                 names: Mapping[str, str] | None = None) -> Rollup | None:
    if not districts or not province.settings.is_postgres:
        return None
    store = RollupStore(province.ledger.recorder.datastore)
    if province.settings.create_tables:
        store.create_tables()
    follower = RollupFollower(store, {code: DistrictLog.of(services.ledger) for code, services in districts.items()})
    reader = ProvincialRollup(store, province.ledger.clock, {code: (names or {}).get(code, code) for code in districts})
    return Rollup(follower, reader)
