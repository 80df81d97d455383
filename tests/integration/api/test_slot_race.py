"""Concurrent enrollments never overbook monitoring slots, concurrent scans of one URL start one
workflow. Threads are released together by a barrier; the assertions are on counts, not timing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botscope.errors import SlotsExhausted
from botscope.store import monitoring, workspaces

from tests.integration.api._support import bearer, executions


def run_together(count: int, fn: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(count)

    def task(n: int) -> Any:
        barrier.wait()
        try:
            return fn(n)
        except Exception as exc:  # noqa: BLE001 - collected and asserted on
            return exc

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(task, range(count)))


def test_twenty_enrollments_into_five_open_slots_succeed_exactly_five_times(aws, atomic_dynamodb):
    ws = workspaces.create_workspace("race", "growth", monitor_slots_limit=5)
    results = run_together(
        20,
        lambda n: monitoring.enroll(ws.workspace_id, f"https://r{n}.example.com/", cadence_seconds=86400),
    )
    won = [r for r in results if isinstance(r, tuple)]
    lost = [r for r in results if not isinstance(r, tuple)]
    assert len(won) == 5 and all(created for _, created in won)
    assert len(lost) == 15 and all(isinstance(r, SlotsExhausted) for r in lost)
    assert monitoring.slots(ws.workspace_id).to_dict() == {"used": 5, "limit": 5}
    listed = monitoring.list_monitored(ws.workspace_id)
    assert sorted(m.monitored_url_id for m in listed) == sorted(r.monitored_url_id for r, _ in won)


def test_concurrent_enrollments_of_one_url_claim_one_slot(aws, atomic_dynamodb):
    ws = workspaces.create_workspace("same-url", "growth", monitor_slots_limit=5)
    results = run_together(
        10, lambda n: monitoring.enroll(ws.workspace_id, "https://example.com/", cadence_seconds=86400)
    )
    assert all(isinstance(r, tuple) for r in results), results
    assert sum(1 for _, created in results if created) == 1
    assert len({r.monitored_url_id for r, _ in results}) == 1
    assert monitoring.slots(ws.workspace_id).used == 1


def test_release_frees_the_slot_once(aws, atomic_dynamodb):
    ws = workspaces.create_workspace("release", "growth", monitor_slots_limit=1)
    record, _ = monitoring.enroll(ws.workspace_id, "https://a.example.com/", cadence_seconds=86400)
    results = run_together(5, lambda n: monitoring.release(ws.workspace_id, record.monitored_url_id))
    assert sum(1 for r in results if isinstance(r, monitoring.MonitoredUrl)) == 1
    assert monitoring.slots(ws.workspace_id).to_dict() == {"used": 0, "limit": 1}
    # The slot is usable again, for another URL.
    monitoring.enroll(ws.workspace_id, "https://b.example.com/", cadence_seconds=86400)
    assert monitoring.slots(ws.workspace_id).used == 1


def test_concurrent_http_enrollments_respect_the_slot_limit(scan_api, workspace_factory, state_machine):
    ws, key = workspace_factory("growth", monitor_slots_limit=3)
    results = run_together(
        8,
        lambda n: scan_api.post(
            "/api/v1/scans",
            json={"target_url": f"https://h{n}.example.com/", "enroll_monitoring": True},
            headers=bearer(key),
        ),
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [202] * 3 + [409] * 5
    assert all(r.json()["code"] == "monitoring_slots_exhausted" for r in results if r.status_code == 409)
    assert monitoring.slots(ws["workspace_id"]).to_dict() == {"used": 3, "limit": 3}
    assert len(executions(state_machine)) == 3


def test_concurrent_scans_of_one_url_start_one_workflow(scan_api, workspace_factory, state_machine):
    _, key = workspace_factory("enterprise")
    results = run_together(
        6,
        lambda n: scan_api.post(
            "/api/v1/scans", json={"target_url": "https://example.com/"}, headers=bearer(key)
        ),
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200] * 5 + [202]
    assert len({r.json()["scan_job_id"] for r in results}) == 1
    assert len(executions(state_machine)) == 1


def test_a_transaction_conflict_is_retryable_not_read_as_slots_exhausted(aws, monkeypatch):
    """DynamoDB cancels a transaction that races another on the same item (TransactionConflict):
    that is not "no slot left" and must not answer 409; the slot count is unchanged."""
    import pytest
    from botocore.exceptions import ClientError
    from botscope.errors import SlotsExhausted
    from botscope.store import monitoring, workspaces
    from botscope.store import table as table_module

    ws = workspaces.create_workspace("conflict", "growth", monitor_slots_limit=5)
    real_client = table_module.dynamodb_client()

    class ConflictingClient:
        def __getattr__(self, name):
            return getattr(real_client, name)

        def transact_write_items(self, **kwargs):
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": [
                        {"Code": "TransactionConflict"},
                        {"Code": "None"},
                        {"Code": "None"},
                    ],
                },
                "TransactWriteItems",
            )

    monkeypatch.setattr(monitoring, "dynamodb_client", lambda: ConflictingClient())
    with pytest.raises(ClientError) as raised:
        monitoring.enroll(ws.workspace_id, "https://conflict.example.com/", cadence_seconds=86400)
    assert not isinstance(raised.value, SlotsExhausted)
    assert workspaces.get_workspace(ws.workspace_id).monitor_slots_used == 0
