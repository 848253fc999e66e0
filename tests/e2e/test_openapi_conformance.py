"""Schemathesis's own run — what ``st run`` does: its examples, coverage and fuzzing phases with
every check it has — over each operation of /openapi.json, one test per operation, in process
(ASGI) on SQLite, with a seeded district's tokens. No operation and no check is left out: the
document must say what the server enforces (formats and bounds of parameters, headers and
bodies, every status an operation answers, 405 with Allow).

One setting differs from the defaults, and a check of ours takes back what it gives away:
``positive_data_acceptance`` also takes 412, 413, 415 and 422 from a request the schema allows,
which some rules refuse by what the ledger holds, not by the request's shape: a version that is
no longer current, a unit that is not registered, a tree larger than the log, a time after now —
or by what no schema can state (an ID number's check digit, a file's type read from its content,
its size against the configured limit). ``refused_only_by_a_declared_rule``
passes such an answer only when the operation's document declares its rule (``x-rules`` of
that status, problems.refused_by): a refusal the document does not announce fails the run.

Path parameters are mostly objects that exist (a plan, an issue with a measure, a case with a
report and a referral, a user and a token, made anew for each operation), so requests get past
404 into the handlers. Users and tokens are asked as the admin, everything else as the supervisor.

Derandomized (a fixed seed) and bounded (a few examples per operation; ~40 s of CPU in all,
spread over the xdist workers). Longer runs, with more examples or another seed:

    CARELEDGER_CONFORMANCE_EXAMPLES=100 .venv/bin/pytest -n 2 tests/e2e/test_openapi_conformance.py
    CARELEDGER_CONFORMANCE_SEED=random .venv/bin/pytest -n 2 tests/e2e/test_openapi_conformance.py
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis.strategies._internal import regex as hypothesis_regex
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES
from schemathesis.engine import events, from_schema
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

from interfaces import bootstrap
from interfaces.http.app import create_app
from interfaces.http.problems import RULES
from tests.backends import settings_for
from tests.district import START, Clock, District, seed
from tests.e2e.test_fuzz_api import bearer, existing_objects

EXAMPLES = int(os.environ.get("CARELEDGER_CONFORMANCE_EXAMPLES", "5"))
SEED = os.environ.get("CARELEDGER_CONFORMANCE_SEED", "19")
# The document alone, for the list of operations to collect (no database is opened).
DOCUMENT = create_app(settings_for("sqlite", Path(tempfile.gettempdir()), None, None)).openapi()
OPERATIONS = [(method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item]
ADMIN_PATHS = ("/api/v1/users", "/api/v1/tokens")
# The statuses positive_data_acceptance is told to take, each only from a rule the operation declares.
REFUSALS_BY_RULE = (412, 413, 415, 422)


def declared_rules(case: Any, status: int) -> dict[str, str]:
    return case.operation.definition.raw.get("responses", {}).get(str(status), {}).get(RULES, {})


@schemathesis.check
def refused_only_by_a_declared_rule(ctx: Any, response: Any, case: Any) -> bool | None:
    meta = case.meta
    if (meta is None or not meta.generation.mode.is_positive or is_unexpected_http_status_case(case)
            or response.status_code not in REFUSALS_BY_RULE):
        return None
    try:
        problem = json.loads(response.content)
    except ValueError:
        problem = {}
    rule = problem.get("rule", "(not a problem answer)")
    if rule not in declared_rules(case, response.status_code):
        where = [f"{e.get('in', '')} {e.get('field', '')}: {e.get('msg', '')}" for e in problem.get("errors", [])]
        raise AssertionError(
            f"a request the document allows was refused {response.status_code} by `{rule}` {where}, "
            f"a rule the operation does not declare: the document should state it (schema or {RULES})")
    return None


@pytest.fixture(scope="module", autouse=True)
def one_strategy_per_character_class() -> Iterator[None]:
    """Hypothesis builds a character class code point by code point, and anew for each strategy
    schemathesis makes: 0.4 s of CPU each time for the class of refused characters (it holds the
    137,000 private-use code points), some 60 s in all. Here each pattern is built once per alphabet."""
    build = hypothesis_regex.base_regex_strategy
    built: dict[tuple[str, int, str], Any] = {}

    def once(regex: Any, *, parsed: Any = None, alphabet: Any = None) -> Any:
        key = (regex.pattern, regex.flags, repr(alphabet))
        if key not in built:
            built[key] = build(regex, parsed=parsed, alphabet=alphabet)
        return built[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hypothesis_regex, "base_regex_strategy", once)
        yield


class Ledger:
    def __init__(self, app: FastAPI, district: District, client: TestClient) -> None:
        self.app, self.district, self.client = app, district, client
        self.made = 0  # sets of path objects made so far


@pytest.fixture(scope="session")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    """One seeded district for every operation a worker runs (building one takes seconds)."""
    services = bootstrap.build(settings_for("sqlite", tmp_path_factory.mktemp("conformance"), None, None),
                               clock=Clock(START))
    try:
        district = seed(services)
        district.accounts = services.accounts
        app = create_app(services=services)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Ledger(app, district, client)
    finally:
        services.close()


def path_objects(ledger: Ledger) -> dict[str, Any]:
    """Fresh objects for the path parameters, so no operation meets what another one changed."""
    ledger.made += 1
    known = existing_objects(ledger.client, ledger.district, plan_number=ledger.made)
    user = ledger.client.post("/api/v1/users", headers=bearer(ledger.district, "admin"),
                              json={"name": f"user-{ledger.made}", "unit": "gf", "role": "agency"})
    assert user.status_code == 201, user.text
    return {**known, "user_id": user.json()["user_id"], "token_id": user.json()["token_id"]}


def conformance_config(token: str, known: dict[str, Any]) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "headers": {"Authorization": f"Bearer {token}"},
        "checks": {
            "enabled": True,
            "positive_data_acceptance": {
                "expected-statuses": [*POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES, *map(str, REFUSALS_BY_RULE)]},
        },
        "generation": {"max-examples": EXAMPLES},
        # Four in five requests name an object that exists; the rest are drawn (and meet 404).
        "parameters": {f"path.{name}": {"dictionary": name, "probability": 0.8} for name in known},
        "dictionaries": {name: {"values": [value if isinstance(value, int) else str(value)]}
                         for name, value in known.items()},
        # Stateful runs follow links between operations; the document declares none.
        "phases": {"stateful": {"enabled": False}},
        **({} if SEED == "random" else {"seed": int(SEED)}),
    })


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_operation_answers_as_its_document_says_under_every_schemathesis_check(
    ledger: Ledger, method: str, path: str,
) -> None:
    who = "admin" if path.startswith(ADMIN_PATHS) else "supervisor"
    known = path_objects(ledger) if "{" in path else {}
    schema = schemathesis.openapi.from_dict(DOCUMENT, config=conformance_config(ledger.district.tokens[who], known))
    schema.app = ledger.app
    failures: dict[str, set[str]] = defaultdict(set)
    statuses: set[int] = set()
    for event in from_schema(schema.include(method=method, path=path)).execute():
        if isinstance(event, (events.FatalError, events.NonFatalError)):
            failures["(engine)"].add(str(getattr(event, "info", event)))
        if not isinstance(event, events.ScenarioFinished):
            continue
        statuses.update(i.response.status_code for i in event.recorder.interactions.values() if i.response)
        for check in (c for checks in event.recorder.checks.values() for c in checks if c.failure_info):
            failure = check.failure_info.failure
            failures[check.name].add(f"{failure.title}: {failure.message}\n{check.failure_info.code_sample}")
    assert statuses, f"{method} {path} was never called"
    assert not failures, "\n".join(
        f"{name}:\n    " + "\n    ".join(sorted(found)) for name, found in sorted(failures.items()))


def test_the_run_covers_every_operation_of_the_document() -> None:
    assert len(OPERATIONS) > 40
    assert {(m, p) for m, p in OPERATIONS} >= {("POST", "/api/v1/cases"), ("GET", "/api/v1/audit/events")}
