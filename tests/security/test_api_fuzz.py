"""API fuzzing with schemathesis against the app's own OpenAPI document, in process (ASGI) against
moto, authenticated with a real enterprise key.

For every operation of ``/api/v1/openapi.json`` (``/mcp`` is not in the document: it speaks
JSON-RPC and has its own suite), generated requests — valid and invalid — must get:

- no 5xx (``not_a_server_error``);
- a status code the document lists for the operation, a documented content type, headers and a
  body that match the documented schema (``status_code_conformance``, ``content_type_conformance``,
  ``response_headers_conformance``, ``response_schema_conformance``);
- invalid input refused with a 4xx (``negative_data_rejection``);
- every error as RFC 9457 ``application/problem+json`` with a ``code`` (our own check below).

Bounded: ``MAX_EXAMPLES`` per operation and phase, no deadline (the machine is shared), so the
whole file runs in well under a minute. Names resolve through a fake resolver (``*.example.com``
is public, everything else does not resolve): no DNS query leaves the process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from botscope.api.app import create_app
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

MAX_EXAMPLES = 25
PUBLIC_IP = "93.184.215.14"  # never contacted: the API only resolves
# Guarantees, checked on every operation.
GUARANTEE_CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]
# Plus documentation conformance, on every operation whose documentation is complete (DOC_GAPS).
CHECKS = [*GUARANTEE_CHECKS, status_code_conformance, content_type_conformance]


def fake_resolver(host: str) -> list[str]:
    if host == "example.com" or host.endswith(".example.com"):
        return [PUBLIC_IP]
    raise OSError(f"{host}: does not resolve")


@pytest.fixture
def fuzz_env(aws: Any, state_machine: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from botscope.config import reset_settings
    from botscope.service import scans as scan_service
    from botscope.store.table import reset_clients
    from botscope.webhooks import urls

    monkeypatch.setenv("BOTSCOPE_ALLOW_PRIVATE_TARGETS", "")
    monkeypatch.setenv("BOTSCOPE_RATE_LIMIT_REQUESTS", "0")
    monkeypatch.setenv("BOTSCOPE_MAX_CONCURRENT_SCANS", "0")
    monkeypatch.setattr(scan_service, "target_resolver", fake_resolver)
    monkeypatch.setattr(urls, "DEFAULT_RESOLVER", fake_resolver)
    reset_settings()
    reset_clients()
    yield
    reset_settings()


@pytest.fixture
def fuzz_auth(fuzz_env: None, workspace_factory: Any) -> dict[str, str]:
    _, key = workspace_factory("enterprise")
    return {"Authorization": f"Bearer {key}"}


# Invalid input must be refused with one of these (413: the documented body limit of POST /scans).
REJECTION_STATUSES = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
CONFIG = schemathesis.Config.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": REJECTION_STATUSES}}}
)
# Loaded eagerly: schemathesis' lazy ``from_fixture`` loader does not work with pytest 9 (it sets a
# private node attribute that pytest 9 removed). Building the app touches no AWS resource; every
# request below runs inside the moto fixture.
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_app(), config=CONFIG)


def assert_problem_json(response: Any) -> None:
    if response.status_code < 400:
        return
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    assert content_type.startswith("application/problem+json"), (response.status_code, content_type)
    body = json.loads(response.content)
    assert isinstance(body.get("code"), str) and body["code"], body
    assert body.get("status") == response.status_code, body
    for field in ("type", "title", "detail"):
        assert field in body, (field, body)


# --- the OpenAPI document documents every error as problem+json --------------------------------

PUBLIC_PATHS = ("/api/v1/health", "/api/v1/sample-reports", "/api/v1/sample-reports/{tab_id}")
# Operations whose *documentation* lacks error responses they really return (found by this suite;
# reported to the lead). Each is a strict xfail below, so fixing the route's ``responses=`` makes
# the test fail until the entry is removed here — which also turns the status-code and
# content-type conformance checks of the fuzzer back on for that operation.
_DOC_GAP = (
    "route does not document its problem+json errors (401/404 and a problem+json 422; "
    "FastAPI's default 422 is application/json HTTPValidationError)"
)
DOC_GAPS: dict[tuple[str, str], str] = {}


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    document = schema.raw_schema
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method.upper() in {"GET", "POST", "PUT", "PATCH", "DELETE"}
    ]


def _documentation_problems(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    problems = []
    responses = operation.get("responses", {})
    if path not in PUBLIC_PATHS and "401" not in responses:
        problems.append("401 not documented")
    if "{" in path and "404" not in responses:
        problems.append("404 not documented")
    if method == "POST" and path == "/api/v1/scans" and "400" not in responses:
        problems.append("400 (malformed JSON body) not documented")
    for status, response in responses.items():
        if status[0] in "45" and "application/problem+json" not in (response.get("content") or {}):
            problems.append(f"{status} not documented as application/problem+json")
    return problems


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param(
            m,
            p,
            id=f"{m} {p}",
            marks=[pytest.mark.xfail(strict=True, reason=DOC_GAPS[(m, p)])] if (m, p) in DOC_GAPS else [],
        )
        for m, p, _ in _operations()
    ],
)
def test_openapi_documents_every_error_as_problem_json(method: str, path: str):
    operation = next(op for m, p, op in _operations() if (m, p) == (method, path))
    assert _documentation_problems(method, path, operation) == []


def test_doc_gap_list_names_only_real_operations():
    assert set(DOC_GAPS) <= {(m, p) for m, p, _ in _operations()}


# --- fuzzing ----------------------------------------------------------------------------------------

HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)


@schema.parametrize()
@HYPOTHESIS
def test_api_fuzz(case: Any, fuzz_auth: dict[str, str]) -> None:
    response = case.call(headers=fuzz_auth)
    documented = (case.method.upper(), case.path) not in DOC_GAPS
    case.validate_response(response, checks=CHECKS if documented else GUARANTEE_CHECKS)
    assert_problem_json(response)


@schema.parametrize()
@settings(HYPOTHESIS, max_examples=5)
def test_api_fuzz_without_credentials(case: Any, fuzz_env: None) -> None:
    """Unauthenticated: public routes answer; every other one refuses with a problem+json 401,
    whatever else is wrong with the request (credentials first)."""
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])
    assert_problem_json(response)
    declared = {m for m, p, _ in _operations() if p == case.path}
    if case.method.upper() not in declared:
        assert response.status_code == 405, (case.method, case.path, response.status_code)
    elif case.path not in PUBLIC_PATHS and case.path != "/api/v1/openapi.json":
        assert response.status_code == 401, (case.method, case.path, response.status_code)


# --- credentials first, deterministically ------------------------------------------------------
# The fuzzer above draws a handful of random requests per operation, so it rarely builds a body
# that is valid JSON *and* over a route's size limit. These requests are built on purpose, for every
# authenticated operation of the document and every kind of request error.

OVERSIZED_PADDING = 64 * 1024  # over every route's body limit


def _example_body(operation: dict[str, Any]) -> dict[str, Any]:
    """The documented example of an operation's JSON body, else an empty object."""
    content = ((operation.get("requestBody") or {}).get("content") or {}).get("application/json") or {}
    schema_ref = (content.get("schema") or {}).get("$ref", "")
    component = (
        schema.raw_schema.get("components", {}).get("schemas", {}).get(schema_ref.rsplit("/", 1)[-1], {})
    )
    examples = component.get("examples") or [{}]
    return dict(examples[0])


def _bad_requests(method: str, operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One request per error kind: each would be refused with a 4xx other than 401 if the caller
    were authenticated."""
    kinds: dict[str, dict[str, Any]] = {
        "no error": {},
        "bad query parameter": {"params": {"limit": "-1", "starting_after": "x" * 300}},
    }
    if "requestBody" in operation:
        body = json.dumps(_example_body(operation))
        json_type = {"Content-Type": "application/json"}
        kinds.update(
            {
                "valid JSON over the size limit": {
                    "content": body + " " * OVERSIZED_PADDING,
                    "headers": json_type,
                },
                "declared length over the size limit": {
                    "content": body,
                    "headers": {**json_type, "Content-Length": str(OVERSIZED_PADDING)},
                },
                "malformed JSON": {"content": "{not json", "headers": json_type},
                "schema-invalid body": {
                    "content": json.dumps({"no_such_field": [1, 2]}),
                    "headers": json_type,
                },
                "wrong content type": {"content": "target_url=x", "headers": {"Content-Type": "text/plain"}},
            }
        )
    return kinds


AUTHENTICATED_OPERATIONS = [
    (m, p, op) for m, p, op in _operations() if p not in PUBLIC_PATHS and p != "/api/v1/openapi.json"
]


@pytest.mark.parametrize(
    ("method", "path"), [pytest.param(m, p, id=f"{m} {p}") for m, p, _ in AUTHENTICATED_OPERATIONS]
)
@pytest.mark.parametrize("credential", [None, "Bearer dxk_malformed", "Basic dXNlcjpwYXNz"])
def test_every_request_error_answers_401_without_a_valid_credential(
    method: str, path: str, credential: str | None, api_client: Any, fuzz_env: None
) -> None:
    operation = next(op for m, p, op in AUTHENTICATED_OPERATIONS if (m, p) == (method, path))
    url = path.replace("{", "").replace("}", "_unknown")
    for kind, request in _bad_requests(method, operation).items():
        headers = dict(request.pop("headers", {}))
        if credential:
            headers["Authorization"] = credential
        response = api_client.request(method, url, headers=headers, **request)
        assert response.status_code == 401, (kind, response.status_code, response.text[:200])
        assert_problem_json(_Response(response))
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


class _Response:
    """The fields ``assert_problem_json`` reads, from a TestClient response."""

    def __init__(self, response: Any) -> None:
        self.status_code, self.headers, self.content = (
            response.status_code,
            response.headers,
            response.content,
        )
