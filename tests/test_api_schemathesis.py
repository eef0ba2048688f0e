"""Schemathesis against our own OpenAPI schema: every operation, as acme.com's admin.

The tests drive the WSGI app in-process, so requests share the test's database
connection and see its fixtures. ``test_every_operation_conforms_to_the_schema``:

1. A deterministic pass calls each operation once with real ids and a valid
   body and requires a 2xx that conforms to the schema.
2. A property-based pass lets Schemathesis generate ``MAX_EXAMPLES`` positive
   requests per operation, and as many negative ones (a broken query or body)
   where something can be broken. About half of them get real ids in the path
   and the body's references (re-created when a DELETE removed them), so
   detail routes run their code instead of answering 404.

Every answer must not be a 5xx, must use a documented status code and content
type and must match the documented schema; a generated request the schema
allows must not be refused (``positive_data_acceptance``, ST202) and one it
forbids must be refused (``negative_data_rejection``, ST201); at the end every
operation must have answered at least one 2xx. The API answers 400 for a
request the schema forbids and 422 for a well-formed one a rule no schema can
state refuses (an unknown owner, a taken id, a batch whose items were refused):
a 422 to positive data passes only when every field it names is one of
``UNSTATED_RULES`` (tests/support/schema.py; docs/api.md lists them), and 413 (a
batch over its limit, the schema's ``maxItems``) is an accepted refusal of
negative data. ``make fuzz`` runs the same with more examples, new on each run.
``test_edge_input_answers_as_documented`` sends inputs random generation seldom
builds, under the same checks.

Outbound HTTP is stubbed (callback DNS lookups and broker sends are refused and
recorded; no worker runs), ``?wait`` waits at most about 1 s, throttling is off
(test settings), each request has a timeout and the whole run a time budget."""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict

import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.support.schema import (
    CHECKS,
    EDGE_CASES,
    FAILURES,
    HYPOTHESIS,
    REQUEST_TIMEOUT,
    RUN_BUDGET,
    request_timeout,
)


@pytest.mark.django_db
def test_every_operation_conforms_to_the_schema(
    wsgi_app, no_network, settings, api_schema, schema_world, admin_auth_header, caplog
):
    caplog.set_level(logging.ERROR, logger="django.request")  # thousands of 4xx lines
    settings.CALLBACK_TEST_WAIT_SECONDS = 1.0
    assert all(rate is None for rate in settings.API_THROTTLE_RATES.values())
    started = time.monotonic()
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 40
    statuses: dict[str, Counter] = defaultdict(Counter)
    failures: list[str] = []

    def headers(path: str) -> dict[str, str]:
        if path.startswith("/pacs/"):
            return schema_world.pacs_auth()
        return schema_world.box_auth() if path.endswith("/counters") else admin_auth_header

    def call(case: schemathesis.Case) -> int:
        with request_timeout(REQUEST_TIMEOUT):
            response = case.call_and_validate(
                headers=headers(case.operation.path), checks=CHECKS
            )
        statuses[case.operation.label][response.status_code] += 1
        return response.status_code

    # 1. Deterministic: each operation once, with real ids and a valid body.
    for operation in operations:
        request = schema_world.valid_request(operation.method.upper(), operation.path)
        case = operation.Case(**request)
        try:
            status = call(case)
        except FAILURES as exc:
            failures.append(f"{operation.label} (valid request): {exc}")
            continue
        if not 200 <= status < 300:
            failures.append(f"{operation.label} (valid request): answered {status}")

    # 2. Generated: positive and negative cases, half of them with real path parameters.
    for operation in operations:
        if time.monotonic() - started > RUN_BUDGET:
            failures.append(f"run budget of {RUN_BUDGET:.0f} s spent before {operation.label}")
            break
        # Negative cases break the query or the body; the token header is fixed and
        # plain-string path parameters cannot be broken.
        negatable = bool(operation.body) or any(True for _ in operation.query)
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if negatable else [])
        for mode in modes:

            @HYPOTHESIS
            @given(
                case=operation.as_strategy(
                    generation_mode=mode, headers=headers(operation.path)
                ),
                real_ids=st.booleans(),
            )
            def fuzz(case: schemathesis.Case, real_ids: bool) -> None:
                if real_ids:
                    schema_world.use_real_ids(case)
                call(case)

            try:
                fuzz()
            except FAILURES as exc:
                failures.append(f"{operation.label} ({mode.value}): {exc}")

    elapsed = time.monotonic() - started
    print(f"\nschemathesis: {len(operations)} operations in {elapsed:.1f} s")
    for label, counts in statuses.items():
        print(f"  {label}: {dict(sorted(counts.items()))}")
    answers = sum(statuses.values(), Counter())
    server_errors = sum(count for status, count in answers.items() if status >= 500)
    print(
        f"schemathesis: {answers.total()} requests, {server_errors} answered 5xx, "
        f"{len(failures)} operations failed a check (server error, status, content type, "
        "response schema, a schema-valid request refused, a schema-invalid one accepted)"
    )
    assert not failures, "\n\n".join(failures)
    without_success = [
        op.label
        for op in operations
        if not any(200 <= status < 300 for status in statuses[op.label])
    ]
    assert not without_success, f"no 2xx answer: {without_success}"
    assert no_network == [], f"outbound calls attempted: {no_network}"
    assert elapsed < RUN_BUDGET


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "build", "expected"), EDGE_CASES)
def test_edge_input_answers_as_documented(
    wsgi_app, no_network, api_schema, schema_world, admin_auth_header, method, path, build, expected
):
    request = {"path_parameters": schema_world.path_parameters(path), **build(schema_world)}
    if "body" in request:
        request["media_type"] = "application/json"
    case = api_schema[path][method].Case(**request)
    with request_timeout(REQUEST_TIMEOUT):
        headers = schema_world.pacs_auth() if path.startswith("/pacs/") else admin_auth_header
        response = case.call_and_validate(headers=headers, checks=CHECKS)
    assert response.status_code == expected, response.text
    assert no_network == []
