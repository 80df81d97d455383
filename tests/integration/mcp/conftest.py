"""Fixtures for the MCP tests: the real app on uvicorn (127.0.0.1, ephemeral port, in a thread),
a trivial moto state machine as the workflow edge, a fake DNS resolver, and moto writes made
atomic across the server's threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.helpers.live_server import serve_app
from tests.integration.api._support import SAMPLE_FINDING, fake_resolver

__all__ = ["SAMPLE_FINDING", "complete_scan"]  # imported by the MCP test modules


@pytest.fixture
def atomic_moto(aws: Any) -> Iterator[None]:
    """moto's in-process DynamoDB is not safe under threads (uvicorn + tool worker threads + the test)."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    names = (
        "put_item",
        "update_item",
        "delete_item",
        "get_item",
        "query",
        "transact_write_items",
        "batch_write_item",
    )
    originals = {name: getattr(DynamoDBBackend, name) for name in names}

    def locked(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return fn(*args, **kwargs)

        return wrapper

    for name, fn in originals.items():
        setattr(DynamoDBBackend, name, locked(fn))
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(DynamoDBBackend, name, fn)


@pytest.fixture
def scan_edges(state_machine: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The root conftest's Pass machine stands in for ScanWorkflow (StartExecution is the edge), and
    *.example.com resolves to a public address without network."""
    from botscope.config import reset_settings
    from botscope.service import scans as scan_service
    from botscope.store.table import reset_clients

    monkeypatch.delenv("BOTSCOPE_ALLOW_PRIVATE_TARGETS", raising=False)
    reset_settings()
    reset_clients()
    monkeypatch.setattr(scan_service, "target_resolver", fake_resolver)
    return state_machine


@pytest.fixture
def live_server(aws: Any, atomic_moto: None, scan_edges: str) -> Iterator[str]:
    """Base URL of the real FastAPI app (with /mcp) served by uvicorn on 127.0.0.1:<ephemeral>."""
    from botscope.api.app import create_app

    with serve_app(create_app(), name="uvicorn-mcp-test") as url:
        yield url


def complete_scan(scan_job_id: str, findings: list[dict[str, Any]]) -> dict[str, Any]:
    """Plays the workflow's part through the stores: a report in S3, the scan completed."""
    from botscope.store import reports, scans

    scans.mark_running(scan_job_id)
    report = {
        "scan_job_id": scan_job_id,
        "ruleset_version": "2026.11.1",
        "findings": findings,
        "summary": {"score": 0.5},
    }
    key = reports.put_report(scan_job_id, report)
    assert scans.mark_completed(
        scan_job_id, report_key=key, ruleset_version="2026.11.1", summary=report["summary"]
    )
    return report
