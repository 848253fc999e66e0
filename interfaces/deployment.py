"""One deployment, several districts (PostgreSQL): the province's own store and each
district's, each built by the one composition root (interfaces.bootstrap.build).

The deployment's own schema (CARELEDGER_DATABASE_SCHEMA) is the province's: its users
(province inspectors, the province's admins) and the table of registered districts
(infrastructure.districts). Each district has its own schema (``d`` + its code) and its own
key folder beside the deployment's signing key (``districts/CODE/``: signing key, data key,
idempotency key) and evidence folder (``EVIDENCE_DIR/CODE/``), so its log, Merkle tree,
signed heads, views, sealed fields, sessions and kept answers are its alone: one district's
verification, erasure or key rotation touches no other.

A request is served by the district its credential was issued in: a district's tokens and
session ids begin with its code and a dot (application.identity), and that prefix chooses
only where the credential is looked up (interfaces.http.deps). With no district registered
(and always on SQLite) the deployment is its own schema alone, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from infrastructure.districts import CODE, District, DistrictTable
from infrastructure.settings import Settings
from interfaces.bootstrap import Services, build, follows_externally
from interfaces.province_rollup import Rollup, build_rollup


def district_settings(settings: Settings, district: District) -> Settings:
    """The deployment's settings with the district's schema and key files."""
    keys = settings.signing_key_file.parent / "districts" / district.code
    return settings.model_copy(update={
        "database_schema": district.schema,
        "signing_key_file": keys / "signing-key.pem",
        "data_key_file": keys / "data-key",
        "idempotency_key_file": keys / "idempotency-key",
        "evidence_dir": settings.evidence_dir / district.code,
        # A district's retired signing keys are its own (in its key folder); none by default.
        "retired_public_keys": [],
    })


def district_of(credential: str) -> str | None:
    """The district a token or session id was issued in: its prefix (``420112.``), or None
    for the province's own (whose secrets never hold a dot)."""
    code, dot, _ = credential.partition(".")
    return code if dot and CODE.fullmatch(code) else None


@dataclass(eq=False)
class Deployment:
    province: Services
    districts: dict[str, Services] = field(default_factory=dict)
    # code → the district's name (区县名称), for the sign-in page's choice.
    names: dict[str, str] = field(default_factory=dict)
    # The province's roll-up over every district (interfaces.province_rollup); None without districts.
    rollup: Rollup | None = None

    def services_for(self, code: str | None) -> Services | None:
        """The district's services; the province's for None; None for a code not registered."""
        if code is None:
            return self.province
        return self.districts.get(code)

    def every(self) -> list[Services]:
        return [self.province, *self.districts.values()]

    def start_followers(self) -> None:
        for services in self.every():
            services.start_followers()
        # Kept by `careledger project` when it keeps the views (interfaces.bootstrap.run_followers).
        if self.rollup is not None and not follows_externally(self.province.settings):
            self.rollup.follower.start()

    def close(self) -> None:
        if self.rollup is not None:
            self.rollup.follower.stop()
        for services in reversed(self.every()):
            services.close()


def registered(settings: Settings) -> list[District]:
    """The districts of a PostgreSQL deployment (its table is made by the first `districts add`)."""
    return DistrictTable(settings).all() if settings.is_postgres else []


def build_deployment(
    settings: Settings | None = None, *, clock: Callable[[], datetime] | None = None,
    province: Services | None = None,
) -> Deployment:
    """The province's services (``province`` if given) and every registered district's."""
    settings = province.settings if province is not None else (settings or Settings())
    own = province or build(settings, clock=clock)
    deployment = Deployment(own)
    try:
        for district in registered(settings):
            deployment.districts[district.code] = build(district_settings(settings, district), clock=clock,
                                                        district=district.code)
            deployment.names[district.code] = district.name
        deployment.rollup = build_rollup(own, deployment.districts, deployment.names)
    except BaseException:
        for services in list(deployment.districts.values()) + ([] if province is not None else [own]):
            services.close()
        raise
    return deployment


def add_district(settings: Settings, code: str, name: str) -> District:
    """`careledger districts add`: registers the district, creates its schema and tables and
    its key files (on first use). Refused on SQLite (DistrictRefused)."""
    return DistrictTable(settings).add(code, name, prepare=lambda district: build(
        district_settings(settings, district).model_copy(update={"create_tables": True}), district=district.code,
    ).close())
