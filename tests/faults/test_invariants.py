"""Fault injection: each fault ends in a documented consistent state (docs/invariants.md).

INV-1 slots:   a monitoring slot is held only by a monitored URL the customer can see and release;
               a failed, throttled or retried request never holds a slot for nothing or two for one URL.
INV-2 settle:  every scan reaches completed or failed; a stage failure, a crash before the workflow
               starts and a timed-out workflow all end in ``failed`` with a code, told through
               exactly one ``scan.failed`` event, and free the URL for the next scan.
INV-3 once:    retries (Step Functions Retry, a late Catch, a re-run stage) never double-count a
               path run or publish a scan event twice; a terminal status never changes.
INV-4 retry:   AWS throttling inside a stage becomes ``TransientError`` (the state machine's Retry),
               not a failed scan; the retried stage converges.
INV-5 probes:  a probe that times out fails only its path run; the scan still completes.
INV-6 webhook: a redelivered (or concurrently delivered) SQS message produces one HTTP request and
               one successful delivery record; the ``webhook-id`` is the event id on every attempt.
INV-7 recheck: a target that stops being public between POST and Prepare fails the scan with
               ``target_not_public`` and nothing is fetched.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botscope.auth.principal import Principal

from tests.faults.conftest import FaultApi, Faults, Receiver
from tests.fixtures.site.server import FixtureSite

PROBLEM_JSON = "application/problem+json"
THROTTLED = "ProvisionedThroughputExceededException"


def _is_scan_item(params: dict[str, Any]) -> bool:
    item = params.get("Item") or {}
    pk = item.get("pk")
    pk = pk.get("S") if isinstance(pk, dict) else pk
    return isinstance(pk, str) and pk.startswith("SCAN#")


def _enroll(api: FaultApi, url: str = "https://watched.example.com/") -> Any:
    return api.client.post(
        "/api/v1/scans", headers=api.headers(), json={"target_url": url, "enroll_monitoring": True}
    )


def _assert_server_problem(response: Any) -> None:
    assert response.status_code >= 500, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["code"]


# --- INV-1: slots ------------------------------------------------------------------------------------


def test_a_workflow_that_does_not_start_releases_slot_and_marker(fault_api: FaultApi, faults: Faults):
    faults.fail("StartExecution", "ServiceUnavailable")
    refused = _enroll(fault_api)
    assert refused.status_code == 503 and refused.json()["code"] == "scan_start_failed"
    assert refused.headers.get("retry-after")
    assert fault_api.slots_used() == 0 and fault_api.monitored() == []
    scans = fault_api.client.get("/api/v1/scans", headers=fault_api.headers()).json()["data"]
    assert all(s["status"] == "failed" for s in scans), "nothing is left queued"
    retried = _enroll(fault_api)
    assert retried.status_code == 202, retried.text
    assert fault_api.slots_used() == 1 and len(fault_api.executions()) == 1


def test_throttled_enrollment_claims_nothing(fault_api: FaultApi, faults: Faults):
    faults.fail("TransactWriteItems", THROTTLED)
    throttled = _enroll(fault_api)
    _assert_server_problem(throttled)
    # Throttling is the client's cue to retry, not our bug: 503 with a Retry-After.
    assert throttled.status_code == 503 and throttled.json()["code"] == "temporarily_unavailable"
    assert throttled.headers.get("retry-after")
    assert fault_api.slots_used() == 0 and fault_api.monitored() == []
    assert fault_api.executions() == []
    faults.clear()
    assert _enroll(fault_api).status_code == 202
    assert fault_api.slots_used() == 1


def test_a_failure_between_slot_claim_and_scan_start_converges_on_retry(fault_api: FaultApi, faults: Faults):
    """The slot is claimed, then writing the scan is throttled. The enrollment stays (the customer
    sees the URL under monitoring and can release it); the retry starts the scan on the same slot."""
    faults.fail("PutItem", THROTTLED, when=_is_scan_item)
    _assert_server_problem(_enroll(fault_api))
    assert fault_api.executions() == []
    assert fault_api.slots_used() == len(fault_api.monitored()) <= 1
    faults.clear()
    retried = _enroll(fault_api)
    assert retried.status_code == 202, retried.text
    assert fault_api.slots_used() == 1 and len(fault_api.monitored()) == 1
    assert len(fault_api.executions()) == 1
    released = fault_api.client.delete(
        f"/api/v1/monitoring/{fault_api.monitored()[0]['monitored_url_id']}", headers=fault_api.headers()
    )
    assert released.status_code == 204 and fault_api.slots_used() == 0


def test_concurrent_enrollments_of_one_url_hold_one_slot(fault_api: FaultApi, atomic_moto: None):
    from botscope.service import scans as service

    barrier = threading.Barrier(6)
    created: list[bool] = []

    def enroll() -> None:
        barrier.wait()
        created.append(
            service.start_scan(_principal(fault_api), "https://race.example.com/", "quick", True).created
        )

    threads = [threading.Thread(target=enroll) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(created) == 6 and created.count(True) == 1, created
    assert fault_api.slots_used() == 1 and len(fault_api.executions()) == 1


# --- INV-2: every scan settles, and the customer is told -----------------------------------------------


class Crash(BaseException):
    """A process dying mid-request: not an Exception, so no handler or undo runs."""


def _principal(api: FaultApi) -> Principal:
    return Principal(
        workspace_id=api.workspace_id,
        plan="growth",
        workspace_status="active",
        actor_type="api_key",
        actor_id="key_faults",
    )


def test_a_crash_before_the_workflow_starts_is_settled_by_the_deadline(
    fault_api: FaultApi, monkeypatch: pytest.MonkeyPatch
):
    from botscope.service import scans as service
    from botscope.store import table
    from botscope.workflow import starter

    def crash(*_: Any) -> str:
        raise Crash

    working_start = starter.start_scan_execution
    monkeypatch.setattr(starter, "start_scan_execution", crash)
    with pytest.raises(Crash):
        service.start_scan(_principal(fault_api), "https://crash.example.com/", "quick", True)
    monkeypatch.setattr(starter, "start_scan_execution", working_start)

    listed = fault_api.client.get("/api/v1/scans", headers=fault_api.headers()).json()["data"]
    (stuck,) = [s for s in listed if s["target_url"] == "https://crash.example.com/"]
    assert stuck["status"] == "queued"
    assert fault_api.slots_used() == 1, "the URL is enrolled: its slot is not orphaned"
    # Time passes beyond the scan deadline (and its grace period): the next read settles the scan.
    later = table.utcnow() + timedelta(seconds=900 + service.OVERDUE_GRACE_SECONDS + 5)
    _shift_clock(monkeypatch, later)
    status = fault_api.client.get(f"/api/v1/scans/{stuck['scan_job_id']}", headers=fault_api.headers()).json()
    assert status["status"] == "failed" and status["error"]["code"] == "scan_timeout"
    assert [e["event_type"] for e in fault_api.events("scan.failed")] == ["scan.failed"]
    # the URL is free again: the next request starts a new scan on the same slot
    again = fault_api.client.post(
        "/api/v1/scans",
        headers=fault_api.headers(),
        json={"target_url": "https://crash.example.com/", "scan_mode": "quick"},
    )
    assert again.status_code == 202 and again.json()["scan_job_id"] != stuck["scan_job_id"]
    assert fault_api.slots_used() == 1
    assert len(fault_api.events("scan.failed")) == 1, "told once, however often the scan is read"


def _shift_clock(monkeypatch: pytest.MonkeyPatch, now: Any) -> None:
    """Every module that asks ``store.table.utcnow`` for the time gets ``now``."""
    import importlib
    import sys

    # Import the modules that bind ``utcnow`` by name first: one imported lazily while the clock is
    # shifted would keep the fake clock after the test (it copies the patched function).
    for name in (
        "botscope.service.scans",
        "botscope.store.monitoring",
        "botscope.store.idempotency",
        "botscope.store.credentials",
        "botscope.store.scans",
        "botscope.workflow.stages",
        "botscope.webhooks.delivery",
    ):
        importlib.import_module(name)
    for name, module in list(sys.modules.items()):
        if name.startswith("botscope") and getattr(module, "utcnow", None) is not None:
            monkeypatch.setattr(module, "utcnow", lambda: now)


@pytest.fixture
def private_fixture_site(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The fixture site on 127.0.0.1 and a policy that allows exactly that address for the stages."""
    from botscope.config import reset_settings

    monkeypatch.setenv("BOTSCOPE_ALLOW_PRIVATE_TARGETS", "127.0.0.1/32")
    reset_settings()
    with FixtureSite(scenario="clean") as site:
        yield site
    reset_settings()


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Scan events as the stages publish them (the fan-out itself is tested with webhooks)."""
    from botscope.webhooks import fanout

    calls: list[tuple[str, str]] = []
    original = fanout.publish_event

    def record(workspace_id: str, event_type: str, data: dict[str, Any], **kwargs: Any) -> str:
        calls.append((data.get("scan_job_id"), event_type))
        return original(workspace_id, event_type, data, **kwargs)

    monkeypatch.setattr(fanout, "publish_event", record)
    return calls


def _queued_scan(url: str, *, plan: str = "enterprise") -> dict[str, Any]:
    from botscope.store import scans, workspaces

    ws = workspaces.create_workspace("faults", plan)
    scan = scans.create_scan(ws.workspace_id, url, "quick", deadline_seconds=900)
    assert scans.claim_active(ws.workspace_id, url, scan.scan_job_id) is None
    return scan


def _states_error(exc_type: str, message: str) -> dict[str, Any]:
    return {"Error": exc_type, "Cause": json.dumps({"errorType": exc_type, "errorMessage": message})}


def test_a_failing_stage_ends_failed_once_and_frees_the_url(
    private_fixture_site: FixtureSite, published: list, monkeypatch: pytest.MonkeyPatch
):
    from botscope.scanner import engine
    from botscope.store import scans
    from botscope.workflow import stages

    scan = _queued_scan(private_fixture_site.url("/"))
    sid, ws = scan.scan_job_id, scan.workspace_id
    prepared = stages.prepare(sid, ws)
    for run in prepared["path_runs"]:
        stages.probe_path_run(sid, ws, run["path_run_id"])

    def broken_analyze(*_: Any, **__: Any) -> Any:
        raise RuntimeError("internal detail: /var/task/secret.py line 12")

    monkeypatch.setattr(engine, "analyze", broken_analyze)
    with pytest.raises(RuntimeError):
        stages.analyze(sid, ws)
    # The state machine's Catch runs MarkFailed — and may run it again (a retried Catch).
    error = _states_error("RuntimeError", "internal detail: /var/task/secret.py line 12")
    stages.mark_scan_failed(sid, ws, error)
    stages.mark_scan_failed(sid, ws, error)
    failed = scans.get_scan(sid)
    assert failed.status == "failed" and failed.error.code == "internal_error"
    assert "secret.py" not in failed.error.message, "internal details stay in the logs"
    assert published == [(sid, "scan.failed")]
    assert scans.get_active(ws, scan.target_url) is None, "the URL is free for the next scan"
    # A late Finalize (e.g. a duplicate execution) cannot resurrect it.
    with pytest.raises(Exception):  # noqa: B017 - no report was written: Finalize has nothing to finalize
        stages.finalize(sid, ws)
    assert scans.get_scan(sid).status == "failed" and published == [(sid, "scan.failed")]


# --- INV-3: retries never double-count or double-publish ------------------------------------------------


def test_a_timed_out_scan_is_not_completed_by_a_late_finalize(
    private_fixture_site: FixtureSite, published: list
):
    """Conditional write lost: the deadline sweep failed the scan, then Finalize arrives."""
    from botscope.store import scans
    from botscope.workflow import stages

    scan = _queued_scan(private_fixture_site.url("/"))
    sid, ws = scan.scan_job_id, scan.workspace_id
    prepared = stages.prepare(sid, ws)
    for run in prepared["path_runs"]:
        stages.probe_path_run(sid, ws, run["path_run_id"])
    stages.analyze(sid, ws)
    assert scans.mark_failed(sid, "scan_timeout", "The scan did not finish in time.")
    result = stages.finalize(sid, ws)
    assert result["status"] == "failed"
    assert scans.get_scan(sid).status == "failed"
    assert [kind for _, kind in published] == [], "mark_failed alone publishes nothing; Finalize lost"


def test_finalize_twice_publishes_once(private_fixture_site: FixtureSite, published: list):
    from botscope.store import scans
    from botscope.workflow import stages

    scan = _queued_scan(private_fixture_site.url("/"))
    sid, ws = scan.scan_job_id, scan.workspace_id
    prepared = stages.prepare(sid, ws)
    for run in prepared["path_runs"]:
        stages.probe_path_run(sid, ws, run["path_run_id"])
    stages.analyze(sid, ws)
    assert stages.finalize(sid, ws)["status"] == "completed"
    assert stages.finalize(sid, ws)["status"] == "completed"
    stages.mark_scan_failed(sid, ws, _states_error("RuntimeError", "late catch"))
    final = scans.get_scan(sid)
    assert final.status == "completed"
    total = len(prepared["path_runs"])
    assert final.path_runs_completed + final.path_runs_failed == total
    assert published == [(sid, "scan.completed")]


# --- INV-4: throttling inside a stage is retried, and the retry converges --------------------------------


@pytest.fixture
def prepared_probe(private_fixture_site: FixtureSite, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The real ScanProbeFunction handler and the event of the first path run of a prepared scan."""
    from botscope.local.seam import load_handler
    from botscope.workflow import stages

    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    scan = _queued_scan(private_fixture_site.url("/"))
    sid, ws = scan.scan_job_id, scan.workspace_id
    run_id = stages.prepare(sid, ws)["path_runs"][0]["path_run_id"]
    return load_handler("scan_probe"), {"scan_job_id": sid, "workspace_id": ws, "path_run_id": run_id}


class _Context:
    function_name = "ScanProbeFunction"
    memory_limit_in_mb = 512
    aws_request_id = "req-faults"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ScanProbeFunction"


def test_throttling_in_a_probe_is_retried_and_counted_once(prepared_probe: Any, faults: Faults):
    from botscope.store import scans
    from botscope.workflow.handler import TransientError

    probe, event = prepared_probe
    sid, run_id = event["scan_job_id"], event["path_run_id"]
    # The probe's terminal write (run + scan counter, one transaction) is throttled once; the first
    # transaction is the start (pending → running while the scan still runs).
    faults.fail("TransactWriteItems", THROTTLED, on_call=2)
    with pytest.raises(TransientError):
        probe(event, _Context())
    assert scans.get_path_run(sid, run_id).status == "running"
    probe(event, _Context())  # the state machine's Retry
    probe(event, _Context())  # and a duplicate invocation after success
    run, scan_now = scans.get_path_run(sid, run_id), scans.get_scan(sid)
    assert run.status in ("completed", "failed")
    assert scan_now.path_runs_completed + scan_now.path_runs_failed == 1


def test_a_non_transient_aws_error_is_not_retried(prepared_probe: Any, faults: Faults):
    from botocore.exceptions import ClientError

    probe, event = prepared_probe
    faults.fail("PutObject", "AccessDenied")
    with pytest.raises(ClientError):  # goes to the Map item's Catch: only this path run fails
        probe(event, _Context())


# --- INV-5: a probe that times out fails only its path run ----------------------------------------------


def test_a_probe_timeout_fails_only_its_path_run(
    private_fixture_site: FixtureSite, published: list, monkeypatch: pytest.MonkeyPatch
):
    import functools

    from botscope.scanner import fetch
    from botscope.store import scans
    from botscope.workflow import stages

    private_fixture_site.latency = 1.5  # every response waits longer than the read timeout below
    scan = _queued_scan(private_fixture_site.url("/"))
    sid, ws = scan.scan_job_id, scan.workspace_id
    private_fixture_site.latency = 0.0
    prepared = stages.prepare(sid, ws)
    runs = [r["path_run_id"] for r in prepared["path_runs"]]
    normal_limits = fetch.FetchLimits
    monkeypatch.setattr(
        fetch, "FetchLimits", functools.partial(normal_limits, read_timeout=0.3, total_timeout=0.6)
    )
    private_fixture_site.latency = 1.5
    stages.probe_path_run(sid, ws, runs[0])  # times out
    private_fixture_site.latency = 0.0
    monkeypatch.setattr(fetch, "FetchLimits", normal_limits)
    for run_id in runs[1:]:
        stages.probe_path_run(sid, ws, run_id)
    timed_out = scans.get_path_run(sid, runs[0])
    assert timed_out.status == "failed" and timed_out.error.code == "timeout"
    # The Map item's own timeout (States.Timeout) arriving late for the same run changes nothing.
    stages.mark_path_run_failed(sid, runs[0], {"Error": "States.Timeout"})
    stages.analyze(sid, ws)
    assert stages.finalize(sid, ws)["status"] == "completed"
    final = scans.get_scan(sid)
    assert final.status == "completed" and final.path_runs_failed >= 1
    assert final.path_runs_completed + final.path_runs_failed == len(runs)
    assert published == [(sid, "scan.completed")]


# --- INV-6: a webhook message delivered twice is sent once ------------------------------------------------


@pytest.fixture
def webhook_setup(aws: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Any:
    from botscope.config import reset_settings
    from botscope.service import webhooks as service
    from botscope.store import delivery_queue, workspaces
    from botscope.webhooks import secrets

    monkeypatch.setenv("BOTSCOPE_LOCAL_MODE", "true")
    monkeypatch.setenv("BOTSCOPE_ALLOW_PRIVATE_TARGETS", "127.0.0.1/32")
    monkeypatch.setenv("BOTSCOPE_WEBHOOK_RETRY_SCHEDULE", "0,0,0")
    monkeypatch.setenv("BOTSCOPE_WEBHOOK_TIMEOUT_SECONDS", "5")
    reset_settings()
    secrets.reset()
    delivery_queue.reset()
    ws = workspaces.create_workspace("webhook faults", "enterprise")
    principal = Principal(
        workspace_id=ws.workspace_id,
        plan="enterprise",
        workspace_status="active",
        actor_type="api_key",
        actor_id="key_faults",
    )
    hook = service.create_webhook(
        principal, label="receiver", url=receiver.url, event_types=["scan.completed"]
    )
    yield ws.workspace_id, hook["webhook_id"]
    reset_settings()


def _take_messages(queue_url: str) -> list[str]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    bodies: list[str] = []
    for _ in range(5):
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        for message in got.get("Messages", []):
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_a_redelivered_message_is_sent_once(webhook_setup: Any, receiver: Receiver, aws: Any):
    from botscope.store import webhooks as store
    from botscope.webhooks import delivery, fanout

    workspace_id, webhook_id = webhook_setup
    event_id = fanout.publish_event(
        workspace_id, "scan.completed", {"scan_job_id": "scan_x", "status": "completed"}
    )
    (body,) = _take_messages(aws.webhook_queue_url)
    assert delivery.process_message(body) == delivery.DELIVERED
    assert delivery.process_message(body) == delivery.SKIPPED  # SQS at-least-once: the same message again
    assert delivery.process_message(body) == delivery.SKIPPED
    assert [h["webhook-id"] for h in receiver.hits] == [event_id]
    record = store.get_delivery(webhook_id, event_id)
    assert record is not None and record.status == store.DELIVERED and len(record.attempts) == 1


def test_concurrent_copies_of_a_message_send_once(
    webhook_setup: Any, receiver: Receiver, aws: Any, atomic_moto: None
):
    from botscope.store import webhooks as store
    from botscope.webhooks import delivery, fanout

    workspace_id, webhook_id = webhook_setup
    event_id = fanout.publish_event(
        workspace_id, "scan.completed", {"scan_job_id": "scan_y", "status": "completed"}
    )
    (body,) = _take_messages(aws.webhook_queue_url)
    outcomes: list[str] = []

    def worker() -> None:
        try:
            outcomes.append(delivery.process_message(body))
        except delivery.AttemptInProgress:
            outcomes.append("in_progress")  # SQS brings it back later; it is then skipped

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count(delivery.DELIVERED) == 1, outcomes
    assert len(receiver.hits) == 1
    record = store.get_delivery(webhook_id, event_id)
    assert record is not None and record.status == store.DELIVERED


def test_retries_keep_the_event_id_and_end_in_one_success(webhook_setup: Any, receiver: Receiver, aws: Any):
    from botscope.store import webhooks as store
    from botscope.webhooks import delivery, fanout

    workspace_id, webhook_id = webhook_setup
    receiver.status = 500
    event_id = fanout.publish_event(
        workspace_id, "scan.completed", {"scan_job_id": "scan_z", "status": "completed"}
    )
    (first,) = _take_messages(aws.webhook_queue_url)
    assert delivery.process_message(first) == delivery.RETRY_SCHEDULED
    receiver.status = 200
    (second,) = _take_messages(aws.webhook_queue_url)
    assert delivery.process_message(first) == delivery.SKIPPED  # the old attempt redelivered late
    assert delivery.process_message(second) == delivery.DELIVERED
    assert delivery.process_message(second) == delivery.SKIPPED
    assert {h["webhook-id"] for h in receiver.hits} == {event_id} and len(receiver.hits) == 2
    record = store.get_delivery(webhook_id, event_id)
    assert record is not None and record.status == store.DELIVERED and len(record.attempts) == 2


# --- INV-7: the target is checked again when the workflow starts -------------------------------------------


def test_a_target_that_turns_private_before_prepare_fails_the_scan(
    private_fixture_site: FixtureSite, published: list, monkeypatch: pytest.MonkeyPatch
):
    from botscope.errors import TargetNotPublic
    from botscope.scanner import targets
    from botscope.store import scans
    from botscope.workflow import stages

    # POST accepted "rebind.example.test" while it resolved to the allowed 127.0.0.1; by Prepare the
    # name points at 10.0.0.1 (not allowed): Prepare refuses before any request.
    monkeypatch.setattr(targets, "system_resolver", lambda host: ["10.0.0.1"])
    before = len(private_fixture_site.requests)
    scan = _queued_scan(f"http://rebind.example.test:{private_fixture_site.port}/")
    sid, ws = scan.scan_job_id, scan.workspace_id
    with pytest.raises(TargetNotPublic) as info:
        stages.prepare(sid, ws)
    stages.mark_scan_failed(sid, ws, _states_error(type(info.value).__name__, info.value.message))
    failed = scans.get_scan(sid)
    assert failed.status == "failed" and failed.error.code == "target_not_public"
    assert published == [(sid, "scan.failed")]
    assert len(private_fixture_site.requests) == before


# --- INV-8: the local stack runs the same handler code under concurrency -------------------------------


def test_concurrent_first_invocations_load_a_handler_once():
    import sys

    from botscope.local import seam

    failures: list[str] = []
    loaded: list[object] = []
    for name in ("scan_probe", "scan_analyze", "scan_prepare") * 5:  # a race: several rounds
        module_name = f"botscope_function_{name}"
        saved = (seam._LOADED.pop(module_name, None), sys.modules.pop(module_name, None))
        barrier = threading.Barrier(8)

        def load(function: str = name) -> None:
            barrier.wait()
            try:
                loaded.append(seam.load_handler(function))
            except Exception as exc:  # noqa: BLE001 - collected and asserted on
                failures.append(repr(exc))

        threads = [threading.Thread(target=load) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # Every thread of a round got the same, fully imported handler: the module ran once.
        assert len({id(h) for h in loaded[-8:]}) == 1
        if saved[0] is not None and module_name not in seam._LOADED:
            seam._LOADED[module_name] = saved[0]
            sys.modules[module_name] = saved[1]
    assert failures == []
