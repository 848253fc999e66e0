"""A deployment of several districts for a test (PostgreSQL only): a database and a province
schema of its own (the districts' schemas, ``d420112`` …, are named by their codes alone, so
two tests sharing a database would share districts), each district registered as `careledger
districts add` does and seeded with tests.district's units and users."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infrastructure.settings import Settings
from interfaces.deployment import Deployment, add_district, build_deployment
from tests.backends import require_postgres, scratch_database, scratch_schema, settings_for
from tests.district import START, Clock, District, seed


@contextmanager
def districts_deployment(folder: Path, codes: dict[str, str]) -> Iterator[tuple[Settings, Deployment, dict[str, District]]]:
    """The settings, the deployment (closed on leaving) and each district's seeded users."""
    require_postgres()
    with scratch_database() as url, scratch_schema(url) as schema:
        settings = settings_for("postgres", folder, url, schema)
        for code, name in codes.items():
            add_district(settings, code, name)
        deployment = build_deployment(settings, clock=Clock(START))
        try:
            yield settings, deployment, {code: seed(deployment.districts[code]) for code in codes}
        finally:
            deployment.close()
