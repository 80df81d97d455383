"""One vocabulary: each of these is defined once, in the layer that owns it — the ISO time helpers
(botscope.isotime), the API prefix (botscope.links), the retryable AWS error codes
(botscope.aws.errors) and the 503 code for a busy dependency (botscope.errors.ServiceUnavailable)."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from botscope import isotime, links
from botscope.aws.errors import TRANSIENT_AWS_ERROR_CODES
from botscope.errors import ServiceUnavailable

PACKAGE = Path(__file__).resolve().parents[3] / "layers/core/botscope"
TIME_HELPERS = {"iso", "_iso", "now_iso", "_now_iso", "parse_iso", "_parse_iso", "utcnow", "_utcnow"}


def _product_modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts]


def test_the_time_helpers_are_defined_once() -> None:
    defined = [
        f"{p.relative_to(PACKAGE)}:{node.name}"
        for p in _product_modules()
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.FunctionDef) and node.name in TIME_HELPERS
    ]
    assert sorted(defined) == [
        "isotime.py:iso",
        "isotime.py:now_iso",
        "isotime.py:parse_iso",
        "isotime.py:utcnow",
    ]


def test_iso_strings_round_trip_and_sort_as_time() -> None:
    moment = datetime(2026, 12, 3, 14, 57, 3, 123456, tzinfo=UTC)
    assert isotime.iso(moment) == "2026-12-03T14:57:03.123Z"
    assert isotime.iso(moment, "seconds") == "2026-12-03T14:57:03Z"
    assert isotime.parse_iso(isotime.iso(moment)) == moment.replace(microsecond=123000)
    assert isotime.iso(moment.astimezone(timezone(timedelta(hours=5)))) == "2026-12-03T14:57:03.123Z"
    assert isotime.iso(moment) < isotime.iso(moment + timedelta(milliseconds=1))


def test_the_api_prefix_is_defined_once() -> None:
    assigned = [
        str(p.relative_to(PACKAGE))
        for p in _product_modules()
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "API_PREFIX" for t in node.targets)
    ]
    assert assigned == ["links.py"]
    assert links.scan_path("scan_1", "report") == "/api/v1/scans/scan_1/report"


@pytest.mark.parametrize("code", sorted(TRANSIENT_AWS_ERROR_CODES))
def test_the_api_and_the_workflow_retry_the_same_aws_errors(code: str) -> None:
    from botscope.workflow.handler import is_transient

    assert is_transient(ClientError({"Error": {"Code": code}}, "Op"))


def test_a_permanent_aws_error_is_not_retried() -> None:
    from botscope.workflow.handler import is_transient

    assert not is_transient(ClientError({"Error": {"Code": "AccessDeniedException"}}, "Op"))
    assert not is_transient(ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "Op"))


def test_one_code_for_a_busy_dependency(api_client, monkeypatch: pytest.MonkeyPatch) -> None:
    from botscope.service import monitoring

    def throttled() -> dict:
        raise ClientError({"Error": {"Code": "ThrottlingException"}}, "Query")

    monkeypatch.setattr(monitoring, "sample_reports", throttled)
    response = api_client.get("/api/v1/sample-reports")
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.json()["code"] == ServiceUnavailable.code == "temporarily_unavailable"
