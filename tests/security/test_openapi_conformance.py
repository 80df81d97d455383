"""The OpenAPI document is the whole contract: schemathesis drives the *live* app (uvicorn on
127.0.0.1, an ephemeral port, moto behind it) through every operation of /api/v1/openapi.json and
fails on any response the document does not describe — status code, content type, headers, body
schema. Also: the security schemes, and every operation-specific problem code, are declared."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from botscope.api import problems
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers.live_server import serve_app
from tests.security.test_api_fuzz import CONFIG, assert_problem_json, fuzz_auth, fuzz_env  # noqa: F401

CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def live_app(fuzz_env: None) -> Iterator[str]:  # noqa: F811 - the imported fixture
    from botscope.api.app import create_app

    with serve_app(create_app(), name="uvicorn-openapi-test") as url:
        yield url


def _document() -> dict[str, Any]:
    from botscope.api.app import create_app

    return create_app().openapi()


def test_security_schemes_declare_the_bearer_key_and_the_session_cookie() -> None:
    document = _document()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert (
        schemes["sessionCookie"]["in"] == "cookie" and schemes["sessionCookie"]["name"] == "botscope_session"
    )
    for path, item in document["paths"].items():
        for method, operation in item.items():
            expected = (
                []
                if path in problems._PUBLIC_OPERATION_PATHS
                else [{"bearerAuth": []}, {"sessionCookie": []}]
            )
            assert operation["security"] == expected, (method, path)


def test_every_declared_problem_code_is_in_its_operations_responses() -> None:
    document = _document()
    for (method, path), by_status in problems.OPERATION_ERRORS.items():
        operation = document["paths"][path][method.lower()]
        for status, codes in by_status.items():
            response = operation["responses"][status]
            assert "application/problem+json" in response["content"], (method, path, status)
            for code in codes:
                assert code in response["description"], (method, path, status, code)


def test_every_error_status_is_problem_json_and_every_body_operation_documents_413_415() -> None:
    for path, item in _document()["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status[0] in "45":
                    assert list(response["content"]) == ["application/problem+json"], (method, path, status)
            if "requestBody" in operation:
                assert {"413", "415", "422"} <= set(operation["responses"]), (method, path)


def test_the_live_app_conforms_to_its_document_on_every_operation(
    live_app: str,
    fuzz_auth: dict[str, str],  # noqa: F811
) -> None:
    schema = schemathesis.openapi.from_url(f"{live_app}/api/v1/openapi.json", config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(item) for item in _document()["paths"].values())
    failures: list[str] = []
    for operation in operations:
        strategy = operation.as_strategy()

        @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(strategy)
        def check(case: Any) -> None:
            for headers in (fuzz_auth, {}):
                response = case.call(headers=headers)
                case.validate_response(response, checks=CONFORMANCE)
                assert_problem_json(response)

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collected so one run names every non-conforming operation
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")
    assert failures == []
