"""Scans, their path runs, and the "one running scan per URL" marker (docs/data-model.md).

Items:
- scan        ``SCAN#<scan>`` / ``META``  (gsi1: ``WS#<ws>#SCANS`` / ``<scan>``, newest first by id)
- path run    ``SCAN#<scan>`` / ``RUN#<run>``
- active scan ``WS#<ws>`` / ``ACTIVE#<url_hash>`` (TTL ~ the scan deadline)

Status moves queued → running → completed | failed | cancelled and never leaves a terminal state: every
transition is a conditional write, so Step Functions retries and racing writers are harmless.
The scan's progress counters change in the same transaction as the path run that moves them, and
only on that path run's first transition to a terminal state.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import Field

from botscope import ids
from botscope.redaction import redact_url
from botscope.scanner.vocabulary import ScanMode
from botscope.store.entity import Entity
from botscope.store.table import (
    conditional_update,
    dynamodb_client,
    is_conditional_failure,
    is_expired,
    iso,
    now_iso,
    query_all,
    scan_pk,
    serialize,
    table,
    to_dynamo,
    ttl_after,
    url_hash,
    utcnow,
    ws_pk,
)

ScanStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
PathRunStatus = Literal["pending", "running", "completed", "failed", "cancelled"]
ACTIVE_STATUSES: tuple[ScanStatus, ...] = ("queued", "running")
TERMINAL_STATUSES: tuple[ScanStatus, ...] = ("completed", "failed", "cancelled")
RUN_ACTIVE_STATUSES: tuple[PathRunStatus, ...] = ("pending", "running")
RUN_TERMINAL_STATUSES: tuple[PathRunStatus, ...] = ("completed", "failed", "cancelled")
# The progress counter each terminal path-run status moves.
_RUN_COUNTERS = {
    "completed": "path_runs_completed",
    "failed": "path_runs_failed",
    "cancelled": "path_runs_cancelled",
}
# The active marker outlives the scan deadline a little, so a scan that is being marked timed-out
# is not doubled by a request arriving in the same second.
ACTIVE_MARKER_GRACE_SECONDS = 60


class ErrorDetail(Entity):
    """Why a scan or a path run ended without a result: a public code and message (docs/api.md)."""

    code: str
    message: str


class Scan(Entity):
    """A scan item (``SCAN#<scan>`` / ``META``)."""

    scan_job_id: str
    workspace_id: str
    status: ScanStatus
    target_url: str
    scan_mode: ScanMode
    trigger: str = "api"
    render: bool = False  # rendered path runs (a real browser) in the plan
    monitored_url_id: str | None = None
    created_at: str
    started_at: str | None = None
    completed_at: str | None = None
    cancelled_at: str | None = None
    deadline_at: str | None = None
    error: ErrorDetail | None = None
    execution_arn: str | None = None
    path_runs_total: int = 0
    path_runs_completed: int = 0
    path_runs_failed: int = 0
    path_runs_cancelled: int = 0
    report_key: str | None = None
    report_complete: bool | None = None  # False: a cancelled scan's partial report
    ruleset_version: str | None = None
    summary: dict[str, Any] | None = None  # the report's summary section (docs/report.md)
    concurrency_slot: int | None = None
    published_events: dict[str, str] = Field(default_factory=dict)  # event type → event id

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class PathRun(Entity):
    """A path run item (``SCAN#<scan>`` / ``RUN#<run>``): one path probed with one profile."""

    path_run_id: str
    scan_job_id: str
    seq: int = 0  # plan order
    status: PathRunStatus = "pending"
    path: str | None = None
    profile: str | None = None
    kind: str = "page"
    critical: bool = False
    category: str | None = None
    outcome: str | None = None
    http_status: int | None = None
    duration_ms: int | None = None
    error: ErrorDetail | None = None
    observation_key: str | None = None  # the observation in the reports bucket
    updated_at: str | None = None


# --- scans -------------------------------------------------------------------------------------


def create_scan(
    workspace_id: str,
    target_url: str,
    scan_mode: str,
    *,
    monitored_url_id: str | None = None,
    deadline_seconds: int,
    scan_job_id: str | None = None,
    trigger: str = "api",
    render: bool = False,
) -> Scan:
    """Writes a queued scan. ``target_url`` must already be normalized. ``trigger`` is "api",
    "mcp" or "monitoring" (kept for the audit trail and metrics)."""
    now = utcnow()
    scan_job_id = scan_job_id or ids.new_id("scan")
    item = {
        "pk": scan_pk(scan_job_id),
        "sk": "META",
        "gsi1pk": f"{ws_pk(workspace_id)}#SCANS",
        "gsi1sk": scan_job_id,
        "scan_job_id": scan_job_id,
        "workspace_id": workspace_id,
        "status": "queued",
        "target_url": target_url,
        "scan_mode": scan_mode,
        "trigger": trigger,
        "render": bool(render),
        "monitored_url_id": monitored_url_id,
        "created_at": iso(now),
        "started_at": None,
        "completed_at": None,
        "deadline_at": iso(now + timedelta(seconds=deadline_seconds)),
        "error": None,
        "execution_arn": None,
        # The open-scans index (gsi2, sharded like the monitoring due index): lets a sweep find
        # scans past their deadline without scanning the table. Removed when the scan finishes.
        **_open_index_keys(scan_job_id, iso(now + timedelta(seconds=deadline_seconds))),
        "path_runs_total": 0,
        "path_runs_completed": 0,
        "path_runs_failed": 0,
        "report_key": None,
        "ruleset_version": None,
        "summary": None,
    }
    table().put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
    return Scan.from_item(item)


def create_scan_once(
    workspace_id: str,
    target_url: str,
    scan_mode: str,
    scan_job_id: str,
    *,
    monitored_url_id: str | None,
    deadline_seconds: int,
    trigger: str,
    render: bool,
) -> Scan | None:
    """Writes the queued scan ``scan_job_id``, or reads it back when an earlier call with the same id
    wrote it. None when that earlier scan was written and discarded in between (it lost the URL's
    marker): the caller retries."""
    try:
        return create_scan(
            workspace_id,
            target_url,
            scan_mode,
            monitored_url_id=monitored_url_id,
            deadline_seconds=deadline_seconds,
            scan_job_id=scan_job_id,
            trigger=trigger,
            render=render,
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
    return get_scan(scan_job_id)


def get_scan(scan_job_id: str) -> Scan | None:
    item = table().get_item(Key={"pk": scan_pk(scan_job_id), "sk": "META"}, ConsistentRead=True).get("Item")
    return Scan.from_item(item) if item else None


def get_scan_for_workspace(workspace_id: str, scan_job_id: str) -> Scan:
    """The scan if it belongs to ``workspace_id``; ``NotFound`` otherwise — the same answer whether
    the scan does not exist or belongs to someone else, so ids reveal nothing."""
    from botscope.errors import NotFound

    scan = get_scan(scan_job_id) if ids.is_id(scan_job_id, "scan") else None
    if scan is None or scan.workspace_id != workspace_id:
        raise NotFound("No scan with this id in your workspace.")
    return scan


def list_scans(
    workspace_id: str, limit: int = 20, starting_after: str | None = None
) -> tuple[list[Scan], bool]:
    """Newest first. ``starting_after`` is the id of the last scan of the previous page."""
    key_condition = "gsi1pk = :pk"
    values: dict[str, Any] = {":pk": f"{ws_pk(workspace_id)}#SCANS"}
    if starting_after:
        key_condition += " AND gsi1sk < :after"
        values[":after"] = starting_after
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "IndexName": "gsi1",
        "KeyConditionExpression": key_condition,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": False,
        "Limit": limit + 1,
    }
    while True:
        page = table().query(**kwargs)
        items.extend(page.get("Items", []))
        if len(items) > limit or "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [Scan.from_item(i) for i in items[:limit]], len(items) > limit


def discard_scan(scan_job_id: str) -> None:
    """Deletes a queued scan that was never handed to anyone (lost the race for the active marker)."""
    try:
        table().delete_item(
            Key={"pk": scan_pk(scan_job_id), "sk": "META"},
            ConditionExpression="#s = :queued AND path_runs_total = :zero",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":queued": "queued", ":zero": 0},
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise


def mark_running(scan_job_id: str, execution_arn: str | None = None) -> bool:
    """queued → running (sets started_at). Returns False when the scan was not queued."""
    names = {"#s": "status"}
    values: dict[str, Any] = {":running": "running", ":queued": "queued", ":now": now_iso()}
    update = "SET #s = :running, started_at = :now"
    if execution_arn:
        update += ", execution_arn = :arn"
        values[":arn"] = execution_arn
    return conditional_update(
        Key={"pk": scan_pk(scan_job_id), "sk": "META"},
        UpdateExpression=update,
        ConditionExpression="#s = :queued",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def set_execution_arn(scan_job_id: str, execution_arn: str) -> None:
    table().update_item(
        Key={"pk": scan_pk(scan_job_id), "sk": "META"},
        UpdateExpression="SET execution_arn = :arn",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":arn": execution_arn},
    )


def _finish(scan_job_id: str, status: ScanStatus, fields: dict[str, Any]) -> Scan | None:
    """Moves a queued/running scan to a terminal status. Returns the updated scan, or None when it
    was already terminal (or missing): a terminal scan is never overwritten."""
    names = {"#s": "status"}
    values: dict[str, Any] = {
        ":status": status,
        ":queued": "queued",
        ":running": "running",
        ":now": now_iso(),
    }
    sets = ["#s = :status", "completed_at = :now"]
    removes = " REMOVE gsi2pk, gsi2sk"
    for i, (name, value) in enumerate(fields.items()):
        names[f"#f{i}"] = name
        values[f":f{i}"] = to_dynamo(value)
        sets.append(f"#f{i} = :f{i}")
    try:
        response = table().update_item(
            Key={"pk": scan_pk(scan_job_id), "sk": "META"},
            UpdateExpression="SET " + ", ".join(sets) + removes,
            ConditionExpression="attribute_exists(pk) AND #s IN (:queued, :running)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if is_conditional_failure(exc):
            return None
        raise
    scan = Scan.from_item(response["Attributes"])
    release_active(scan.workspace_id, scan.target_url, scan_job_id)
    release_concurrency_lease(scan.workspace_id, scan_job_id, slot=scan.concurrency_slot)
    return scan


OPEN_SCAN_SHARDS = 8


def _open_index_keys(scan_job_id: str, deadline_at: str) -> dict[str, str]:
    shard = int(scan_job_id[-2:], 36) % OPEN_SCAN_SHARDS if scan_job_id[-2:].isalnum() else 0
    return {"gsi2pk": f"OPEN#{shard:02d}", "gsi2sk": f"{deadline_at}#{scan_job_id}"}


def list_overdue_scans(now_iso_value: str, *, limit_per_shard: int = 100) -> list[str]:
    """Ids of queued/running scans whose deadline is before ``now_iso_value`` (oldest first per shard)."""
    overdue: list[str] = []
    for shard in range(OPEN_SCAN_SHARDS):
        response = table().query(
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :pk AND gsi2sk < :now",
            ExpressionAttributeValues={":pk": f"OPEN#{shard:02d}", ":now": now_iso_value},
            Limit=limit_per_shard,
        )
        overdue.extend(item["gsi2sk"].rsplit("#", 1)[1] for item in response.get("Items", []))
    return overdue


def mark_completed(
    scan_job_id: str, *, report_key: str, ruleset_version: str, summary: dict[str, Any] | None
) -> bool:
    """running/queued → completed; also releases the active marker. False if already terminal."""
    return (
        _finish(
            scan_job_id,
            "completed",
            {"report_key": report_key, "ruleset_version": ruleset_version, "summary": summary, "error": None},
        )
        is not None
    )


def mark_failed(scan_job_id: str, code: str, message: str) -> bool:
    """queued/running → failed with ``{code, message}``; also releases the active marker. Never
    overwrites a completed or failed scan; returns whether it changed anything."""
    return _finish(scan_job_id, "failed", {"error": {"code": code, "message": message}}) is not None


def mark_cancelled(scan_job_id: str) -> Scan | None:
    """queued/running → cancelled (``error.code = cancelled``); also releases the active marker.
    Returns the cancelled scan, or None when the scan had already ended (nothing changed)."""
    return _finish(
        scan_job_id,
        "cancelled",
        {
            "error": {"code": "cancelled", "message": "The scan was cancelled before it finished."},
            "cancelled_at": now_iso(),
        },
    )


def set_report(
    scan_job_id: str, report_key: str, *, summary: dict[str, Any] | None, report_complete: bool
) -> None:
    """Attaches a report to a scan that has ended (a cancelled scan's partial report)."""
    table().update_item(
        Key={"pk": scan_pk(scan_job_id), "sk": "META"},
        UpdateExpression="SET report_key = :key, summary = :summary, report_complete = :complete",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={
            ":key": report_key,
            ":summary": to_dynamo(summary),
            ":complete": report_complete,
        },
    )


def record_published_event(scan_job_id: str, event_type: str, event_id: str) -> None:
    """Notes that the scan's ``event_type`` webhook event went out (``published_events`` map), so a
    retried workflow stage publishes it when an earlier attempt did not, and never twice."""
    table().update_item(
        Key={"pk": scan_pk(scan_job_id), "sk": "META"},
        UpdateExpression="SET published_events = if_not_exists(published_events, :empty)",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":empty": {}},
    )
    table().update_item(
        Key={"pk": scan_pk(scan_job_id), "sk": "META"},
        UpdateExpression="SET published_events.#type = :id",
        ExpressionAttributeNames={"#type": event_type},
        ExpressionAttributeValues={":id": event_id},
    )


# --- path runs ---------------------------------------------------------------------------------

_RUN_FIELDS = ("path", "profile", "kind", "critical", "category")


def put_path_runs(scan_job_id: str, runs: list[dict[str, Any]]) -> list[PathRun]:
    """Writes the planned path runs (status pending) and sets ``path_runs_total``.

    Each run needs ``path`` and ``profile`` (``kind``, ``critical``, ``category``,
    ``path_run_id`` optional). Idempotent for a retried Prepare: when the scan already has path
    runs, the stored ones are returned unchanged. Returns the stored runs in plan order.
    """
    scan = get_scan(scan_job_id)
    if scan is None:
        raise LookupError(f"scan {scan_job_id} does not exist")
    if scan.path_runs_total:
        return list_path_runs(scan_job_id)
    items = []
    for seq, run in enumerate(runs):
        run_id = run.get("path_run_id") or ids.new_id("run")
        item = {
            "pk": scan_pk(scan_job_id),
            "sk": f"RUN#{run_id}",
            "path_run_id": run_id,
            "scan_job_id": scan_job_id,
            "seq": seq,
            "status": "pending",
            "outcome": None,
            "http_status": None,
            "duration_ms": None,
            "error": None,
            "observation_key": None,
            "kind": "page",
            "critical": False,
            "category": None,
        }
        item.update({k: run[k] for k in _RUN_FIELDS if k in run})
        path = item.get("path")
        if isinstance(path, str):
            # The probe reads its URL from the stored plan; the stored path run (shown in status
            # and listings) carries no query values of the customer's URL.
            item["path"] = redact_url(path)
        items.append(to_dynamo(item))
    with table().batch_writer() as batch:
        for item in items:
            batch.put_item(Item=item)
    table().update_item(
        Key={"pk": scan_pk(scan_job_id), "sk": "META"},
        UpdateExpression="SET path_runs_total = :n",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":n": len(items)},
    )
    return [PathRun.from_item(i) for i in items]


def start_path_run(scan_job_id: str, path_run_id: str) -> bool:
    """pending → running, only while the scan itself is queued or running: one transaction, so a
    probe can never start after the scan's cancel (or any other end) was recorded. Returns False
    when the run is not pending or the scan has ended."""
    client = dynamodb_client()
    try:
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table().name,
                        "Key": serialize({"pk": scan_pk(scan_job_id), "sk": f"RUN#{path_run_id}"}),
                        "UpdateExpression": "SET #s = :running, updated_at = :now",
                        "ConditionExpression": "attribute_exists(pk) AND #s = :pending",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": serialize(
                            {":running": "running", ":pending": "pending", ":now": now_iso()}
                        ),
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": table().name,
                        "Key": serialize({"pk": scan_pk(scan_job_id), "sk": "META"}),
                        "ConditionExpression": "#s IN (:queued, :running)",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": serialize({":queued": "queued", ":running": "running"}),
                    }
                },
            ]
        )
        return True
    except ClientError as exc:
        if is_conditional_failure(exc):
            return False
        raise


def cancel_pending_path_runs(scan_job_id: str) -> int:
    """Every path run still pending ends ``cancelled``; returns how many did. Runs already probing
    finish on their own (their observation is evidence of the partial report)."""
    cancelled = 0
    for run in list_path_runs(scan_job_id):
        if run.status == "pending" and update_path_run(
            scan_job_id,
            run.path_run_id,
            status="cancelled",
            error={"code": "cancelled", "message": "The scan was cancelled before this path was probed."},
        ):
            cancelled += 1
    return cancelled


def list_path_runs(scan_job_id: str) -> list[PathRun]:
    items = query_all(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :run)",
        ExpressionAttributeValues={":pk": scan_pk(scan_job_id), ":run": "RUN#"},
        ConsistentRead=True,
    )
    return sorted((PathRun.from_item(i) for i in items), key=lambda r: (r.seq, r.path_run_id))


def get_path_run(scan_job_id: str, path_run_id: str) -> PathRun | None:
    item = (
        table()
        .get_item(Key={"pk": scan_pk(scan_job_id), "sk": f"RUN#{path_run_id}"}, ConsistentRead=True)
        .get("Item")
    )
    return PathRun.from_item(item) if item else None


def update_path_run(
    scan_job_id: str,
    path_run_id: str,
    *,
    status: PathRunStatus,
    outcome: str | None = None,
    http_status: int | None = None,
    duration_ms: int | None = None,
    error: dict[str, Any] | None = None,
    observation_key: str | None = None,
) -> bool:
    """Records a path run's progress. Returns True when this call changed the run.

    A run in a terminal state is never changed again, so a retried Lambda or a Catch firing after
    a success cannot double-count: the scan's ``path_runs_completed``/``path_runs_failed``
    counter moves in the same transaction as the run's first terminal transition.
    """
    if status not in RUN_ACTIVE_STATUSES + RUN_TERMINAL_STATUSES:
        raise ValueError(f"unknown path run status {status!r}")
    fields = {
        "status": status,
        "outcome": outcome,
        "http_status": http_status,
        "duration_ms": duration_ms,
        "error": error,
        "observation_key": observation_key,
        "updated_at": now_iso(),
    }
    run_update = _open_run_update(scan_job_id, path_run_id, fields)
    client = dynamodb_client()
    try:
        if status in RUN_ACTIVE_STATUSES:
            client.update_item(**run_update)
        else:
            counter_update = _scan_counter_update(scan_job_id, _RUN_COUNTERS[status])
            client.transact_write_items(TransactItems=[{"Update": run_update}, {"Update": counter_update}])
    except ClientError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def _open_run_update(scan_job_id: str, path_run_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The low-level update that sets ``fields`` on a path run still pending or running (the first
    field is ``status``)."""
    names = {f"#f{i}": k for i, k in enumerate(fields)}
    values = {f":f{i}": v for i, v in enumerate(fields.values())}
    return {
        "TableName": table().name,
        "Key": serialize({"pk": scan_pk(scan_job_id), "sk": f"RUN#{path_run_id}"}),
        "UpdateExpression": "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(fields))),
        "ConditionExpression": "attribute_exists(pk) AND #f0 IN (:pending, :running)",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": serialize({**values, ":pending": "pending", ":running": "running"}),
    }


def _scan_counter_update(scan_job_id: str, counter: str) -> dict[str, Any]:
    """The low-level update that adds one to the scan's progress ``counter``."""
    return {
        "TableName": table().name,
        "Key": serialize({"pk": scan_pk(scan_job_id), "sk": "META"}),
        "UpdateExpression": f"ADD {counter} :one",
        "ConditionExpression": "attribute_exists(pk)",
        "ExpressionAttributeValues": serialize({":one": 1}),
    }


# --- the active marker: one running scan per (workspace, URL) ----------------------------------


def _active_key(workspace_id: str, target_url: str) -> dict[str, str]:
    return {"pk": ws_pk(workspace_id), "sk": f"ACTIVE#{url_hash(target_url)}"}


class MarkerContended(RuntimeError):
    """A marker changed hands on every attempt to claim it (racing writers)."""


def _claim_marker(
    key: dict[str, str], attributes: dict[str, Any], scan_job_id: str, *, attempts: int
) -> str | None:
    """Claims the marker item ``key`` for ``scan_job_id`` (the active marker of a URL, a
    concurrency slot). Returns None when claimed (or already held by ``scan_job_id``), or the id of
    the queued/running scan that holds it.

    A marker that expired, or whose scan is terminal or gone, is stale: it is replaced with a write
    conditional on its old holder, so of two racing claims exactly one replaces it. Raises
    ``MarkerContended`` after ``attempts`` lost races.
    """
    item = {**key, **attributes, "scan_job_id": scan_job_id, "claimed_at": now_iso()}
    condition: dict[str, Any] = {
        "ConditionExpression": "attribute_not_exists(pk) OR expires_at <= :now",
        "ExpressionAttributeValues": {":now": int(utcnow().timestamp())},
    }
    for _ in range(attempts):
        try:
            table().put_item(Item=item, **condition)
            return None
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
        current = table().get_item(Key=key, ConsistentRead=True).get("Item")
        if current is None:
            condition = {"ConditionExpression": "attribute_not_exists(pk)"}
            continue
        holder = str(current["scan_job_id"])
        if holder == scan_job_id:
            return None
        holder_scan = get_scan(holder)
        if not is_expired(current) and holder_scan is not None and holder_scan.is_active:
            return holder
        condition = {
            "ConditionExpression": "scan_job_id = :old",
            "ExpressionAttributeValues": {":old": holder},
        }
    raise MarkerContended(f"could not settle the marker {key['sk']}")


def _marker_ttl(ttl_seconds: int | None) -> int:
    from botscope.config import get_settings

    return (ttl_seconds or get_settings().scan_timeout_seconds) + ACTIVE_MARKER_GRACE_SECONDS


def claim_active(
    workspace_id: str, target_url: str, scan_job_id: str, *, ttl_seconds: int | None = None
) -> str | None:
    """Claims "the running scan of this URL" for ``scan_job_id``. Returns None when claimed, or the
    id of the scan that is already running (the caller returns that scan instead)."""
    attributes = {"target_url": target_url, "expires_at": ttl_after(_marker_ttl(ttl_seconds))}
    return _claim_marker(_active_key(workspace_id, target_url), attributes, scan_job_id, attempts=5)


def release_active(workspace_id: str, target_url: str, scan_job_id: str) -> bool:
    """Deletes the marker if ``scan_job_id`` still holds it (a newer scan's marker is left alone)."""
    try:
        table().delete_item(
            Key=_active_key(workspace_id, target_url),
            ConditionExpression="scan_job_id = :id",
            ExpressionAttributeValues={":id": scan_job_id},
        )
        return True
    except ClientError as exc:
        if is_conditional_failure(exc):
            return False
        raise


def get_active(workspace_id: str, target_url: str) -> str | None:
    item = table().get_item(Key=_active_key(workspace_id, target_url), ConsistentRead=True).get("Item")
    return None if item is None or is_expired(item) else str(item["scan_job_id"])


def running_scan(workspace_id: str, target_url: str) -> Scan | None:
    """The queued/running scan that holds the URL's active marker, if any."""
    holder = get_active(workspace_id, target_url)
    scan = get_scan(holder) if holder else None
    return scan if scan is not None and scan.is_active else None


def count_active_markers(workspace_id: str, *, now: int) -> int:
    """Live ``ACTIVE#`` markers of the workspace (one per running scan; expired markers are stale:
    TTL deletes lazily). ``now`` is epoch seconds."""
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :active)",
        "FilterExpression": "attribute_not_exists(expires_at) OR expires_at > :now",
        "ExpressionAttributeValues": {":pk": ws_pk(workspace_id), ":active": "ACTIVE#", ":now": now},
        "Select": "COUNT",
    }
    count = 0
    while True:
        page = table().query(**kwargs)
        count += int(page.get("Count", 0))
        if "LastEvaluatedKey" not in page:
            return count
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# --- concurrency leases: at most N running scans per workspace ---------------------------------
# One item per slot (``RUNSLOT#<n>``, n < the workspace's limit), each held by at most one scan.
# Claiming is a conditional put on a free (missing, expired or abandoned) slot, so N parallel
# starts with M free slots win exactly min(N, M) of them: a start fails only after finding every
# slot held. A lease expires with the scan's deadline (plus grace) in case a release is lost.
# Released by every terminal transition (``_finish``: completion, failure, the overdue sweep) and
# by ``release_concurrency_lease`` (the start path's undo, cancellation).

CONCURRENCY_SLOT_PREFIX = "RUNSLOT#"


def _slot_key(workspace_id: str, slot: int) -> dict[str, str]:
    return {"pk": ws_pk(workspace_id), "sk": f"{CONCURRENCY_SLOT_PREFIX}{slot:04d}"}


def claim_concurrency_lease(
    workspace_id: str, scan_job_id: str, *, limit: int, ttl_seconds: int | None = None
) -> int | None:
    """Claims one of the workspace's ``limit`` running-scan slots for ``scan_job_id`` and records it
    on the scan. Returns the slot number, or None when every slot is held by a running scan."""
    import random

    attributes = {"expires_at": ttl_after(_marker_ttl(ttl_seconds))}
    start = random.randrange(limit)  # noqa: S311 - spreads contention, not a secret
    for offset in range(limit):
        slot = (start + offset) % limit
        try:
            holder = _claim_marker(_slot_key(workspace_id, slot), attributes, scan_job_id, attempts=2)
        except MarkerContended:
            continue  # taken by parallel starts twice over: count it as held
        if holder is None:
            _record_slot(scan_job_id, slot)
            return slot
    return None


def _record_slot(scan_job_id: str, slot: int) -> None:
    """Notes the claimed slot on the scan, so the terminal transition releases it."""
    try:
        table().update_item(
            Key={"pk": scan_pk(scan_job_id), "sk": "META"},
            UpdateExpression="SET concurrency_slot = :slot",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":slot": slot},
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise


def release_concurrency_lease(workspace_id: str, scan_job_id: str, *, slot: int | None = None) -> bool:
    """Frees the running-scan slot ``scan_job_id`` holds (idempotent; another scan's lease is left
    alone). ``slot`` defaults to the one recorded on the scan. Called by every terminal transition;
    a cancel that does not go through ``_finish`` calls it directly."""
    if slot is None:
        scan = get_scan(scan_job_id)
        if scan is None or scan.concurrency_slot is None:
            return False
        slot = scan.concurrency_slot
    try:
        table().delete_item(
            Key=_slot_key(workspace_id, slot),
            ConditionExpression="scan_job_id = :id",
            ExpressionAttributeValues={":id": scan_job_id},
        )
        return True
    except ClientError as exc:
        if is_conditional_failure(exc):
            return False
        raise
