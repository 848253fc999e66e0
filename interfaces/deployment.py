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

A district registered while the processes run (`careledger districts add`) is picked up by
``Deployment.refresh``: the table is read again at most once every ``reread_seconds`` in a
process, when a credential, a sign-in or a path names a code it does not know, when the
sign-in page or the roll-up is asked for, and on a timer in every serving process.
The district's services are built (its tables were made by `districts add`), its followers
started where this process runs them, its log added to the roll-up and its name to the
sign-in page's choice.

Every store of a deployment with districts shares the process's connections
(infrastructure.shared_pools): one pool for the library's tables and ours in every schema,
one for the case keys, one listening connection for every district's views follower, one
pool to the standby. A lone store keeps its own, as before; a province built alone, before
its first district was added, keeps its own too (the districts picked up share theirs).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from infrastructure.districts import CODE, District, DistrictTable
from infrastructure.rollup import DistrictLog, RollupFollower
from infrastructure.rollup_store import create_rollup_tables
from infrastructure.settings import Settings
from infrastructure.shared_pools import SharedConnections
from interfaces.bootstrap import Services, build, follows_externally
from interfaces.province_rollup import Rollup, build_rollup

logger = logging.getLogger(__name__)

# A process reads the districts table again at most once this many seconds: a stream of
# credentials with codes nobody registered costs one small query per interval, and a
# district added is served within it.
REREAD_SECONDS = 5.0
# A district whose services cannot be built is tried again after this long, doubling.
ADOPT_RETRY_FIRST, ADOPT_RETRY_MOST = 15.0, 120.0


class MissingDistrictKeys(Exception):
    """A district registered elsewhere whose key files this host does not have (yet)."""


def missing_keys(settings: Settings) -> list[str]:
    """The district's key files this host does not have: `districts add` made them where it
    ran, and a process elsewhere that made its own would sign and seal what no other host reads."""
    files = [settings.signing_key_file, settings.data_key_file, settings.idempotency_key_file]
    return [path.name for path in files if not path.exists()]


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
    # Replaced whole, never changed, once the deployment serves: a request reads one dict.
    districts: dict[str, Services] = field(default_factory=dict)
    # code → the district's name (区县名称), for the sign-in page's choice (replaced likewise).
    names: dict[str, str] = field(default_factory=dict)
    # The province's roll-up over every district (interfaces.province_rollup); None without districts.
    rollup: Rollup | None = None
    clock: Callable[[], datetime] | None = None
    reread_seconds: float = REREAD_SECONDS
    monotonic: Callable[[], float] = time.monotonic
    # What this process does with a district it picks up while running (start its followers),
    # and with the roll-up it builds when its first district comes (start it); None: nothing.
    on_added: Callable[[Services], None] | None = None
    start_rollup: Callable[[RollupFollower], None] | None = None
    # When the last read of the districts table began (monotonic).
    read_at: float | None = None
    # code → {failures, error (its kind), retry_at (monotonic)}: districts registered that this
    # process could not build (replaced whole, like ``districts``).
    unbuilt: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The process's connections, shared by its districts' stores (made with the first
    # district); closed after every store.
    shared: SharedConnections | None = None
    _reading: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _closed: bool = field(default=False, init=False, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _timer: threading.Thread | None = field(default=None, init=False, repr=False)

    def services_for(self, code: str | None) -> Services | None:
        """The district's services; the province's for None; None for a code not registered
        (after reading the table again, if it was not read within ``reread_seconds``)."""
        if code is None:
            return self.province
        found = self.districts.get(code)
        if found is None and CODE.fullmatch(code):
            self.refresh()
            found = self.districts.get(code)
        return found

    def choices(self) -> list[tuple[str, str]]:
        """The sign-in page's districts (code, name), a district registered since included."""
        self.refresh()
        return sorted(self.names.items())

    def current_rollup(self) -> Rollup | None:
        self.refresh()
        return self.rollup

    def every(self) -> list[Services]:
        return [self.province, *self.districts.values()]

    def refresh(self) -> list[str]:
        """Reads the districts table again, unless this process read it within
        ``reread_seconds``, and serves every district registered since: answers their codes.
        Threads that ask while another reads wait for it and read nothing themselves."""
        if not self.province.settings.is_postgres or self._fresh():
            return []
        with self._reading:
            if self._closed or self._fresh():
                return []
            began = self.monotonic()
            added: list[str] = []
            try:
                for district in registered(self.province.settings):
                    if district.code not in self.districts and self._adopt(district):
                        added.append(district.code)
            except Exception:  # noqa: BLE001 — the next read tries again; what is served goes on
                logger.warning("districts_reread_failed", exc_info=True)
            finally:
                # Set at the end: a thread that found the last read too old waits on the lock
                # for this one, then finds the districts it built.
                self.read_at = began
            return added

    def _fresh(self) -> bool:
        return self.read_at is not None and self.monotonic() - self.read_at < self.reread_seconds

    def _adopt(self, district: District) -> bool:
        """Serves ``district``: its services built, its followers started where this process
        runs them, its log in the roll-up; only then is it published to requests. A district
        that cannot be built is tried again at later reads, less and less often, and
        `unbuilt` (/readyz) names it with the kind of its error."""
        failed = self.unbuilt.get(district.code)
        if failed is not None and self.monotonic() < failed["retry_at"]:
            return False
        services: Services | None = None
        try:
            settings = district_settings(self.province.settings, district).model_copy(update={"create_tables": False})
            missing = missing_keys(settings)
            if missing:
                raise MissingDistrictKeys(f"{district.code}: {', '.join(missing)}")
            if self.shared is None:
                self.shared = SharedConnections(self.province.settings)
            services = build(settings, clock=self.clock, district=district.code, shared=self.shared)
            if self.on_added is not None:
                self.on_added(services)
            rollup = self.rollup
            if rollup is None:
                rollup = build_rollup(self.province, {**self.districts, district.code: services},
                                      {**self.names, district.code: district.name})
                if rollup is not None and self.start_rollup is not None:
                    self.start_rollup(rollup.follower)
            else:
                rollup.follower.add(district.code, DistrictLog.of(services.ledger))
                rollup.reader.add(district.code, district.name)
        except Exception as error:  # noqa: BLE001 — tried again later; what is served goes on
            if services is not None:
                services.close()
            self.note_unbuilt(district.code, error)
            return False
        self.districts = {**self.districts, district.code: services}
        self.names = {**self.names, district.code: district.name}
        self.rollup = rollup
        self.unbuilt = {code: f for code, f in self.unbuilt.items() if code != district.code}
        logger.info("district_added code=%s", district.code)
        return True

    def note_unbuilt(self, code: str, error: Exception) -> None:
        before = self.unbuilt.get(code)
        failures = 1 if before is None else before["failures"] + 1
        wait = min(ADOPT_RETRY_FIRST * 2 ** (failures - 1), ADOPT_RETRY_MOST)
        # The traceback once; then a line a failure (the error's kind only: a message can quote data).
        logger.warning("district_not_built code=%s failures=%d retry_in=%.0f error=%s", code, failures, wait,
                       type(error).__name__, exc_info=before is None)
        self.unbuilt = {**self.unbuilt, code: {"failures": failures, "error": type(error).__name__,
                                               "retry_at": self.monotonic() + wait}}

    def start_followers(self) -> None:
        """A serving process's followers: every district's (or none, when `careledger project`
        keeps them: interfaces.bootstrap.run_followers), those of a district picked up later,
        and a re-read of the districts table every ``reread_seconds``."""
        self.on_added = Services.start_followers
        for services in self.every():
            services.start_followers()
        # API workers whose followers run in `careledger project` read the table on a timer too:
        # their /readyz and /metrics then name a district added before anyone signs in to it.
        if self.province.settings.is_postgres:
            self._timer = threading.Thread(target=self._reread, name="careledger-districts", daemon=True)
            self._timer.start()
        if follows_externally(self.province.settings):
            return
        self.start_rollup = RollupFollower.start
        if self.rollup is not None:
            self.rollup.follower.start()

    def _reread(self) -> None:
        while not self._stopping.wait(self.reread_seconds):
            self.refresh()

    def close(self) -> None:
        with self._reading:  # a district being built is built, and closed below
            self._closed = True
        self._stopping.set()
        if self._timer is not None:
            self._timer.join(timeout=10)
        if self.rollup is not None:
            self.rollup.follower.stop()
        try:
            for services in reversed(self.every()):
                services.close()
        finally:
            if self.shared is not None:
                self.shared.close()


def registered(settings: Settings) -> list[District]:
    """The districts of a PostgreSQL deployment (its table is made by the first `districts add`)."""
    return DistrictTable(settings).all() if settings.is_postgres else []


def build_deployment(
    settings: Settings | None = None, *, clock: Callable[[], datetime] | None = None,
    province: Services | None = None, monotonic: Callable[[], float] = time.monotonic,
) -> Deployment:
    """The province's services (``province`` if given) and every registered district's.
    ``monotonic`` paces the re-reads of the districts table (tests move it by hand)."""
    settings = province.settings if province is not None else (settings or Settings())
    districts = registered(settings)
    shared = SharedConnections(settings) if districts else None
    try:
        own = province or build(settings, clock=clock, shared=shared)
    except BaseException:
        if shared is not None:
            shared.close()
        raise
    deployment = Deployment(own, clock=clock, monotonic=monotonic, read_at=monotonic(), shared=shared)
    try:
        for district in districts:
            own_settings = district_settings(settings, district)
            missing = missing_keys(own_settings)
            if missing:  # served once its keys are copied here (Deployment.refresh)
                deployment.note_unbuilt(district.code, MissingDistrictKeys(f"{district.code}: {', '.join(missing)}"))
                continue
            deployment.districts[district.code] = build(own_settings, clock=clock, district=district.code,
                                                        shared=shared)
            deployment.names[district.code] = district.name
        deployment.rollup = build_rollup(own, deployment.districts, deployment.names)
    except BaseException:
        for services in list(deployment.districts.values()) + ([] if province is not None else [own]):
            services.close()
        if shared is not None:
            shared.close()
        raise
    return deployment


def add_district(settings: Settings, code: str, name: str) -> District:
    """`careledger districts add`: registers the district, creates its schema and tables, its
    key files (on first use) and the roll-up's tables in the deployment's own schema, all
    before the district is registered: a running process that picks it up (Deployment.refresh)
    makes no table. Refused on SQLite (DistrictRefused)."""
    def prepare(district: District) -> None:
        build(district_settings(settings, district).model_copy(update={"create_tables": True}),
              district=district.code).close()
        create_rollup_tables(settings)

    return DistrictTable(settings).add(code, name, prepare=prepare)
