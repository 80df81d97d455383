"""A path run's terminal write is a transaction with the scan's counter, and parallel probes of one
scan all touch that counter. DynamoDB cancels a transaction that collides with another one
(reason ``TransactionConflict``): that is not a lost condition, so the write must fail loudly (the
workflow retries it) instead of being dropped as "already terminal"."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from botscope.store import scans, workspaces
from botscope.workflow.handler import is_transient


def _cancelled(*reasons: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
            "CancellationReasons": [{"Code": code} for code in reasons],
        },
        "TransactWriteItems",
    )


class _CollidingOnce:
    """The real client, except that the first transaction is cancelled by a concurrent one."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.collisions = 0

    def transact_write_items(self, **kwargs: Any) -> Any:
        if self.collisions == 0:
            self.collisions += 1
            raise _cancelled("None", "TransactionConflict")
        return self._inner.transact_write_items(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_conflicting_transaction_is_raised_and_the_retry_counts_once(
    aws: Any, monkeypatch: pytest.MonkeyPatch
):
    ws = workspaces.create_workspace("conflicts", "enterprise")
    scan = scans.create_scan(ws.workspace_id, "https://example.com/", "quick", deadline_seconds=900)
    (run,) = scans.put_path_runs(scan.scan_job_id, [{"path": "/", "profile": "browser"}])
    scans.update_path_run(scan.scan_job_id, run.path_run_id, status="running")
    colliding = _CollidingOnce(scans.dynamodb_client())
    monkeypatch.setattr(scans, "dynamodb_client", lambda: colliding)

    # When the terminal write collides with another probe's transaction, it is not dropped silently
    with pytest.raises(ClientError) as raised:
        scans.update_path_run(scan.scan_job_id, run.path_run_id, status="completed", outcome="served")
    # and the workflow's Retry treats it as transient
    assert is_transient(raised.value)
    # Then the retried write lands, once
    assert scans.update_path_run(scan.scan_job_id, run.path_run_id, status="completed", outcome="served")
    assert not scans.update_path_run(scan.scan_job_id, run.path_run_id, status="completed", outcome="served")
    stored = scans.get_scan(scan.scan_job_id)
    assert stored.path_runs_completed == 1
    assert scans.get_path_run(scan.scan_job_id, run.path_run_id).status == "completed"


def test_a_lost_condition_inside_a_transaction_still_means_already_done():
    from botscope.store.table import is_conditional_failure

    assert is_conditional_failure(_cancelled("ConditionalCheckFailed", "None"))
    assert is_conditional_failure(_cancelled("None", "ConditionalCheckFailed"))
    assert not is_conditional_failure(_cancelled("None", "TransactionConflict"))
    assert not is_conditional_failure(_cancelled("ThrottlingError", "None"))
