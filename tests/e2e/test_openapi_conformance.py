"""Schemathesis's own run — what ``st run --checks all`` does: its examples, coverage and fuzzing
phases with every check it has — over every operation of /openapi.json, on both backends, as
the supervisor of a seeded district. No operation and no check is left out: the document must
say what the server enforces (formats and bounds of parameters, headers and bodies, every status
an operation answers, 405 with Allow).

One setting differs from the defaults, and a check of ours takes back what it gives away:
``positive_data_acceptance`` also takes 412 and 422 from a schema-valid request. A valid If-Match
that names another version is 412, and some rules need the ledger, not the document: a unit
code that is not registered, an ID number's checksum, a tree size larger than the log, a time
in the future. But a 422 for the request's *shape* (``request_schema`` and the format rules) is
the document failing to say what the server refuses, and fails the run.

Long run: ``CARELEDGER_CONFORMANCE_EXAMPLES=100 .venv/bin/pytest -p no:xdist tests/e2e/test_openapi_conformance.py``
(a random seed each run with ``CARELEDGER_CONFORMANCE_SEED=random``).
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

from interfaces.http.app import create_app
from tests.district import District

EXAMPLES = int(os.environ.get("CARELEDGER_CONFORMANCE_EXAMPLES", "5"))
SEED = os.environ.get("CARELEDGER_CONFORMANCE_SEED", "19")
DEFAULT_POSITIVE = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
SHAPE_RULES = {"request_schema", "body_is_parseable", "multipart_is_parseable",
               "if_match_is_a_version", "idempotency_key_format"}


def refused_for_its_shape(status: int, body: bytes) -> str | None:
    if status != 422:
        return None
    try:
        rule = json.loads(body).get("rule", "")
    except ValueError:
        return "(not a problem answer)"
    return rule if rule in SHAPE_RULES or rule.endswith("_is_iso8601") else None


@schemathesis.check
def a_schema_valid_request_is_not_refused_for_its_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or is_unexpected_http_status_case(case):
        return None
    rule = refused_for_its_shape(response.status_code, response.content)
    if rule is not None:
        errors = json.loads(response.content).get("errors", []) if rule != "(not a problem answer)" else []
        raise AssertionError(
            f"a request the document allows was refused 422 {rule} at "
            f"{[e.get('in', '') + ' ' + e.get('field', '') for e in errors]}: the document should say so")
    return None


def conformance_config(district: District) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "headers": {"Authorization": f"Bearer {district.tokens['supervisor']}"},
        "checks": {
            "enabled": True,
            "positive_data_acceptance": {"expected-statuses": [*DEFAULT_POSITIVE, "412", "422"]},
        },
        "generation": {"max-examples": EXAMPLES},
        # Stateful runs follow links between operations; the document declares none.
        "phases": {"stateful": {"enabled": False}},
        **({} if SEED == "random" else {"seed": int(SEED)}),
    })


def test_every_operation_conforms_to_the_document_under_every_schemathesis_check(
    services, district: District, backend: str,  # type: ignore[no-untyped-def]
) -> None:
    app = create_app(services=services)
    failures: dict[str, set[str]] = defaultdict(set)
    tested: set[str] = set()
    statuses: Counter[int] = Counter()
    with TestClient(app, raise_server_exceptions=False):
        schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=conformance_config(district))
        operations = {result.ok().label for result in schema.get_all_operations()}
        for event in from_schema(schema).execute():
            if isinstance(event, (events.FatalError, events.NonFatalError)):
                failures["(engine)"].add(str(getattr(event, "info", event)))
            if not isinstance(event, events.ScenarioFinished):
                continue
            if event.recorder.label in operations:
                tested.add(event.recorder.label)
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None:
                    statuses[interaction.response.status_code] += 1
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        failures[event.recorder.label].add(
                            f"{check.name}: {failure.title}: {failure.message}".replace("\n", " | ")[:400])
    print(f"conformance {backend}: {len(tested)} operations, {sum(statuses.values())} requests, "
          f"by status {dict(sorted(statuses.items()))}")
    assert len(operations) > 40, "the run should see every operation"
    assert tested == operations, f"operations never exercised: {sorted(operations - tested)}"
    assert not failures, "\n".join(
        f"{operation}\n    " + "\n    ".join(sorted(found)) for operation, found in sorted(failures.items()))
    assert any(200 <= status < 300 for status in statuses), statuses


def test_the_shape_check_tells_a_shape_refusal_from_a_refusal_that_needs_the_ledger() -> None:
    problem = {"type": "/problems/x", "title": "内容无效", "status": 422, "detail": "…"}
    assert refused_for_its_shape(422, json.dumps({**problem, "rule": "request_schema"}).encode()) == "request_schema"
    assert refused_for_its_shape(422, json.dumps({**problem, "rule": "as_of_is_iso8601"}).encode()) == "as_of_is_iso8601"
    assert refused_for_its_shape(422, json.dumps({**problem, "rule": "unit_is_known"}).encode()) is None
    assert refused_for_its_shape(412, json.dumps({**problem, "rule": "version_matches"}).encode()) is None
