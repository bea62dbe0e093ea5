"""schemathesis over /api/v1/openapi.json: every operation, as the admin and as a grid worker.

Each operation gets a few generated requests (hypothesis, derandomised: the same requests on every
run) sent through the WSGI application inside the test's transaction. Every answer must be no
server error, a status the operation documents, the documented content type, and a body that
matches the documented schema. The budget is bounded (FUZZ_EXAMPLES per operation and role);
`scripts/fuzz_api.py` runs the same with a larger budget and prints the numbers.
"""

from __future__ import annotations

import pytest

from tests.api_fuzz import FUZZ_EXAMPLES, fuzz_api, seed_rows


@pytest.mark.parametrize("role", ["admin", "worker"])
def test_fuzz_the_api(world, role, capsys):
    seed_rows(world)
    user = getattr(world, role)
    summary = fuzz_api(user, max_examples=FUZZ_EXAMPLES)
    with capsys.disabled():
        print(f"\n{summary.line(role)}")
    assert not summary.failures, summary.report()


def _operations():
    from jiedao.api import api

    schema = api.get_openapi_schema(path_prefix="/api/v1")
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def test_every_operation_documents_the_statuses_any_request_can_get():
    """What the shared handlers answer whatever the endpoint: 401 without a valid token; 400 for a
    control character in the path or any query parameter (the text boundary); 422 for a parameter
    or body that does not match the schema; 404 for an id in the path; 403 (a session's CSRF
    check) on unsafe methods; 400 (malformed JSON) and 413 (too large) for a body."""
    missing = {}
    for label, operation in _operations():
        method = label.split()[0]
        expected = {"400", "401"}
        if operation.get("parameters") or operation.get("requestBody"):
            expected.add("422")
        if any(p["in"] == "path" for p in operation.get("parameters", [])):
            expected.add("404")
        if method != "GET":
            expected.add("403")
        if operation.get("requestBody"):
            expected |= {"400", "413"}
        documented = {str(status) for status in operation["responses"]}
        if expected - documented:
            missing[label] = sorted(expected - documented)
    assert not missing, missing
