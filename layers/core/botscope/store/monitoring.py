"""Monitored URLs: enrollment and the workspace's slot counter, settings, the scheduler's due index
and claims, the change-detection state and the change history (docs/data-model.md,
docs/monitoring.md). This module is the one repository of the monitored URL item.

Items:
- monitored URL  ``WS#<ws>`` / ``MON#<mon>``     (gsi1: ``WS#<ws>#MON`` / ``<mon>``; gsi2: due index)
- uniqueness     ``WS#<ws>`` / ``MONURL#<url_hash>`` → ``monitored_url_id``
- change history ``WS#<ws>`` / ``MONCHG#<mon>#<scan>`` → ``entry`` (TTL 400 days)
- slot counter   ``monitor_slots_used`` / ``monitor_slots_limit`` on the workspace item

Enrolling claims a slot and writes both items in ONE ``TransactWriteItems`` whose condition on
the workspace item is ``monitor_slots_used < monitor_slots_limit`` (or no limit): N concurrent
enrollments into M open slots succeed exactly min(N, M) times, and a URL already monitored is
never a second enrollment (its uniqueness item exists). Releasing reverses all three in one
transaction.

Due index (GSI ``gsi2``): ``gsi2pk = DUE#<shard 00-31>``, ``gsi2sk = <next_scan_at>#<mon>``. The
shard is a hash of the monitored URL id, so the scheduler's reads and the index's writes spread
over 32 partition keys. Every write that moves ``next_scan_at`` moves ``gsi2sk`` with it.

Attributes the scheduler and change detection keep on the monitored URL item:
- ``claim``: ``{due_at, scan_job_id, attempts, claimed_at}`` while a scan for ``due_at`` is being
  started; removed when the start is confirmed.
- ``baseline``, ``pending_changes``, ``last_evaluated_scan_job_id``, ``last_completed_scan_job_id``,
  ``outbox_event``: change detection (``botscope.monitoring.changes``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from botscope import ids
from botscope.errors import NotFound, SlotsExhausted
from botscope.scanner.vocabulary import ScanMode
from botscope.store.entity import Entity
from botscope.store.table import (
    DUE_SHARDS,
    conditional_update,
    due_shard,
    dynamodb_client,
    is_conditional_failure,
    iso,
    parse_iso,
    query_all,
    serialize,
    table,
    to_dynamo,
    ttl_after,
    url_hash,
    utcnow,
    ws_pk,
)

if TYPE_CHECKING:
    from botscope.store.workspaces import Workspace

# A change-history entry is kept this long after it was recorded (TTL).
CHANGE_HISTORY_TTL_SECONDS = 400 * 86400
_NOT_MONITORED = "No monitored URL with this id in your workspace."


# --- entities ------------------------------------------------------------------------------------


class ScheduleClaim(Entity):
    """A scheduler run's claim of one due time, kept on the item until the scan's start is confirmed."""

    due_at: str
    scan_job_id: str
    attempts: int = 1
    claimed_at: str


class MonitoringSummary(Entity):
    """The last completed scan's report summary, with the URL's change counters."""

    posture: str | None = None
    score: int | float | None = None
    measures_present: list[str] | None = None
    vendors: list[str] | None = None
    findings_by_severity: dict[str, int] | None = None
    findings_count: int = 0
    ruleset_version: str | None = None
    pending_changes: int = 0
    last_change_at: str | None = None


class LastEvaluation(Entity):
    """What change detection made of the last evaluated scan (for support)."""

    scan_job_id: str
    result: str
    suppressed: dict[str, int] = {}


class OutboxEvent(Entity):
    """A ``monitoring.findings_changed`` event written with its evaluation, not yet published.
    ``data`` is the event's data as the webhooks send it."""

    event_key: str
    detected_at: str | None = None
    data: dict[str, Any]


class DueUrl(Entity):
    """A monitored URL as the scheduler reads it from the due index: what it needs to claim the due
    time, start the scan and schedule the next one (``botscope.monitoring.scheduler``). The rest
    of the item (baseline, pending changes, summary) stays in the table."""

    monitored_url_id: str
    workspace_id: str
    target_url: str
    next_scan_at: str
    cadence_seconds: int | None = None
    scan_mode: ScanMode | None = None
    claim: ScheduleClaim | None = None


class MonitoredUrl(DueUrl):
    """The whole monitored URL item: the scheduler's view (``DueUrl``) and everything else."""

    url_hash: str | None = None
    enrolled_at: str | None = None
    last_scan_job_id: str | None = None
    last_scanned_at: str | None = None
    summary: MonitoringSummary | None = None
    # settings (PATCH /monitoring/{id}) and the manual-rescan allowance
    paused: bool = False
    last_manual_rescan_at: str | None = None
    # the scheduler
    last_due_at: str | None = None
    last_started_scan_job_id: str | None = None
    last_started_at: str | None = None
    last_skipped_reason: str | None = None
    # change detection (botscope.monitoring.changes, botscope.monitoring.hooks)
    baseline: dict[str, Any] | None = None
    pending_changes: list[dict[str, Any]] | None = None
    last_evaluated_scan_job_id: str | None = None
    last_completed_scan_job_id: str | None = None
    last_evaluation: LastEvaluation | None = None
    last_change_at: str | None = None
    outbox_event: OutboxEvent | None = None
    last_failed_scan_job_id: str | None = None
    last_failed_at: str | None = None
    last_failure_code: str | None = None


class ChangeEntry(Entity):
    """One change-history entry: the data of one ``monitoring.findings_changed`` event plus when it
    was detected (docs/monitoring.md)."""

    monitored_url_id: str
    target_url: str | None = None
    scan_job_id: str
    since_scan_job_id: str | None = None
    first_seen_scan_job_id: str | None = None
    confirmation: str | None = None
    summary: dict[str, int] = {}
    changes: list[dict[str, Any]] = []
    truncated: bool = False
    links: dict[str, str] = {}
    detected_at: str


class ChangeRecord(Entity):
    """The stored change-history item: its entry (keys and TTL aside)."""

    entry: ChangeEntry


class MonitorSlots(Entity):
    """The workspace's monitoring slots: ``limit`` None is no cap."""

    used: int
    limit: int | None


# --- keys ----------------------------------------------------------------------------------------


def _mon_key(workspace_id: str, monitored_url_id: str) -> dict[str, str]:
    return {"pk": ws_pk(workspace_id), "sk": f"MON#{monitored_url_id}"}


def _monurl_key(workspace_id: str, target_url: str) -> dict[str, str]:
    return {"pk": ws_pk(workspace_id), "sk": f"MONURL#{url_hash(target_url)}"}


def _workspace_key(workspace_id: str) -> dict[str, str]:
    return {"pk": ws_pk(workspace_id), "sk": "META"}


def _change_key(workspace_id: str, monitored_url_id: str, scan_job_id: str) -> dict[str, str]:
    return {"pk": ws_pk(workspace_id), "sk": f"MONCHG#{monitored_url_id}#{scan_job_id}"}


def due_index_keys(monitored_url_id: str, next_scan_at: str) -> dict[str, str]:
    return {
        "gsi2pk": f"DUE#{due_shard(monitored_url_id):02d}",
        "gsi2sk": f"{next_scan_at}#{monitored_url_id}",
    }


# --- reads ---------------------------------------------------------------------------------------


def get_monitored(workspace_id: str, monitored_url_id: str) -> MonitoredUrl | None:
    item = table().get_item(Key=_mon_key(workspace_id, monitored_url_id), ConsistentRead=True).get("Item")
    return MonitoredUrl.from_item(item) if item else None


def get_monitored_by_url(workspace_id: str, target_url: str) -> MonitoredUrl | None:
    """The monitored URL record for a normalized URL, or None."""
    marker = table().get_item(Key=_monurl_key(workspace_id, target_url), ConsistentRead=True).get("Item")
    if marker is None:
        return None
    return get_monitored(workspace_id, str(marker["monitored_url_id"]))


def list_monitored(workspace_id: str) -> list[MonitoredUrl]:
    """All monitored URLs of a workspace, newest enrollment first."""
    items = query_all(
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :pk",
        ExpressionAttributeValues={":pk": f"{ws_pk(workspace_id)}#MON"},
        ScanIndexForward=False,
    )
    return [MonitoredUrl.from_item(i) for i in items]


def slots(workspace_id: str) -> MonitorSlots:
    ws = table().get_item(Key=_workspace_key(workspace_id), ConsistentRead=True).get("Item") or {}
    limit = ws.get("monitor_slots_limit")
    return MonitorSlots(
        used=int(ws.get("monitor_slots_used") or 0), limit=None if limit is None else int(limit)
    )


# --- enrollment and release ----------------------------------------------------------------------


def enroll(
    workspace_id: str, target_url: str, *, cadence_seconds: int, first_scan_job_id: str | None = None
) -> tuple[MonitoredUrl, bool]:
    """Puts ``target_url`` (normalized) under monitoring, claiming one slot atomically.

    Returns ``(record, created)``: ``created`` is False when the URL was already monitored (no slot
    is claimed twice). Raises ``SlotsExhausted`` when no slot is open, with the counter unchanged.
    """
    existing = get_monitored_by_url(workspace_id, target_url)
    if existing is not None:
        return existing, False
    item = _new_monitored_item(workspace_id, target_url, cadence_seconds, first_scan_job_id)
    try:
        _write_enrollment(workspace_id, target_url, item)
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise  # a conflict with a concurrent transaction or throttling: retryable, not "no slot"
        return _lost_enrollment(workspace_id, target_url), False
    return MonitoredUrl.from_item(item), True


def _new_monitored_item(
    workspace_id: str, target_url: str, cadence_seconds: int, first_scan_job_id: str | None
) -> dict[str, Any]:
    """The monitored URL item of a new enrollment, first due one cadence from now."""
    now = utcnow()
    mon_id = ids.new_id("mon")
    next_scan_at = iso(now + timedelta(seconds=cadence_seconds))
    return {
        **_mon_key(workspace_id, mon_id),
        "gsi1pk": f"{ws_pk(workspace_id)}#MON",
        "gsi1sk": mon_id,
        **due_index_keys(mon_id, next_scan_at),
        "monitored_url_id": mon_id,
        "workspace_id": workspace_id,
        "target_url": target_url,
        "url_hash": url_hash(target_url),
        "enrolled_at": iso(now),
        "cadence_seconds": cadence_seconds,
        "last_scan_job_id": first_scan_job_id,
        "last_scanned_at": None,
        "next_scan_at": next_scan_at,
        "summary": None,
    }


def _write_enrollment(workspace_id: str, target_url: str, item: dict[str, Any]) -> None:
    """One transaction: claim a slot on the workspace item (if one is open), put the monitored URL
    and its uniqueness item (if the URL is not monitored yet)."""
    name = table().name
    uniqueness = {
        **_monurl_key(workspace_id, target_url),
        "monitored_url_id": item["monitored_url_id"],
        "target_url": target_url,
    }
    slot_claim = {
        "TableName": name,
        "Key": serialize(_workspace_key(workspace_id)),
        "UpdateExpression": "SET monitor_slots_used = if_not_exists(monitor_slots_used, :zero) + :one",
        "ConditionExpression": (
            "attribute_exists(pk) AND (attribute_not_exists(monitor_slots_limit) "
            "OR attribute_type(monitor_slots_limit, :null) "
            "OR monitor_slots_used < monitor_slots_limit)"
        ),
        "ExpressionAttributeValues": serialize({":zero": 0, ":one": 1, ":null": "NULL"}),
    }
    dynamodb_client().transact_write_items(
        TransactItems=[
            {"Update": slot_claim},
            {
                "Put": {
                    "TableName": name,
                    "Item": serialize(item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": name,
                    "Item": serialize(uniqueness),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
    )


def _lost_enrollment(workspace_id: str, target_url: str) -> MonitoredUrl:
    """An enrollment lost its condition: to a concurrent enrollment of the same URL (its record is
    returned), or because no slot was left (``SlotsExhausted``)."""
    existing = get_monitored_by_url(workspace_id, target_url)
    if existing is not None:
        return existing
    current = slots(workspace_id)
    raise SlotsExhausted(
        f"All {current.limit} monitoring slots of this workspace are in use; release one "
        "(DELETE /api/v1/monitoring/{id}) or upgrade the plan."
    )


def release(workspace_id: str, monitored_url_id: str) -> MonitoredUrl:
    """Stops monitoring and frees the slot, in one transaction. ``NotFound`` when the workspace has
    no such monitored URL. Returns the released record."""
    record = get_monitored(workspace_id, monitored_url_id)
    if record is None:
        raise NotFound(_NOT_MONITORED)
    name = table().name
    try:
        dynamodb_client().transact_write_items(
            TransactItems=[
                {
                    "Delete": {
                        "TableName": name,
                        "Key": serialize(_mon_key(workspace_id, monitored_url_id)),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
                {
                    "Delete": {
                        "TableName": name,
                        "Key": serialize(_monurl_key(workspace_id, record.target_url)),
                        "ConditionExpression": "monitored_url_id = :id",
                        "ExpressionAttributeValues": serialize({":id": monitored_url_id}),
                    }
                },
                {
                    "Update": {
                        "TableName": name,
                        "Key": serialize(_workspace_key(workspace_id)),
                        "UpdateExpression": "SET monitor_slots_used = monitor_slots_used - :one",
                        "ConditionExpression": "monitor_slots_used > :zero",
                        "ExpressionAttributeValues": serialize({":zero": 0, ":one": 1}),
                    }
                },
            ]
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise  # a conflict with a concurrent transaction or throttling: retryable, not "no slot"
        raise NotFound(_NOT_MONITORED) from None  # released concurrently
    return record


# --- the monitored URL as a resource: pause, scan mode, manual rescans ----------------------------


def update_settings(
    workspace_id: str, monitored_url_id: str, *, paused: bool | None = None, scan_mode: str | None = None
) -> MonitoredUrl:
    """Sets ``paused`` and/or ``scan_mode``. A paused URL leaves the due index (the scheduler never
    reads it; its claim also refuses a paused item, for a scheduler that read it just before);
    resuming puts it back, due at its stored next scan time or now, whichever is later.
    ``NotFound`` when the workspace has no such monitored URL. Returns the updated record."""
    record = get_monitored(workspace_id, monitored_url_id)
    if record is None:
        raise NotFound(_NOT_MONITORED)
    sets: list[str] = []
    removes: list[str] = []
    values: dict[str, Any] = {}
    if scan_mode is not None:
        sets.append("scan_mode = :mode")
        values[":mode"] = scan_mode
    if paused is True:
        sets.append("paused = :true")
        values[":true"] = True
        removes += ["gsi2pk", "gsi2sk"]
    elif paused is False:
        now = iso(utcnow())
        next_scan_at = max(record.next_scan_at or now, now)
        keys = due_index_keys(monitored_url_id, next_scan_at)
        sets += ["paused = :false", "next_scan_at = :next", "gsi2pk = :dpk", "gsi2sk = :dsk"]
        values.update(
            {":false": False, ":next": next_scan_at, ":dpk": keys["gsi2pk"], ":dsk": keys["gsi2sk"]}
        )
    if not sets:
        return record
    update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    try:
        response = table().update_item(
            Key=_mon_key(workspace_id, monitored_url_id),
            UpdateExpression=update,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if is_conditional_failure(exc):
            raise NotFound(_NOT_MONITORED) from None
        raise
    return MonitoredUrl.from_item(response["Attributes"])


def claim_manual_rescan(workspace_id: str, monitored_url_id: str, *, min_interval_seconds: int) -> int | None:
    """Takes the URL's manual-rescan allowance: at most one per ``min_interval_seconds``. Returns None
    when taken, or the seconds until the next one is allowed."""
    now = utcnow()
    try:
        table().update_item(
            Key=_mon_key(workspace_id, monitored_url_id),
            UpdateExpression="SET last_manual_rescan_at = :now",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(last_manual_rescan_at)"
            " OR last_manual_rescan_at <= :cutoff)",
            ExpressionAttributeValues={
                ":now": iso(now),
                ":cutoff": iso(now - timedelta(seconds=min_interval_seconds)),
            },
        )
        return None
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
    record = get_monitored(workspace_id, monitored_url_id)
    if record is None or record.last_manual_rescan_at is None:
        raise NotFound(_NOT_MONITORED)
    last = parse_iso(record.last_manual_rescan_at)
    return max(1, int(min_interval_seconds - (now - last).total_seconds()) + 1)


def release_manual_rescan(workspace_id: str, monitored_url_id: str) -> None:
    """Gives the allowance back when the rescan did not start (nothing was scanned)."""
    conditional_update(
        Key=_mon_key(workspace_id, monitored_url_id),
        UpdateExpression="REMOVE last_manual_rescan_at",
        ConditionExpression="attribute_exists(pk)",
    )


def force_due(workspace_id: str, monitored_url_id: str) -> MonitoredUrl:
    """Makes the URL due now (the local developer loop's forced rescan); a paused URL stays paused."""
    now = iso(utcnow())
    keys = due_index_keys(monitored_url_id, now)
    update = "SET next_scan_at = :now, gsi2pk = :dpk, gsi2sk = :dsk"
    values: dict[str, Any] = {":now": now, ":dpk": keys["gsi2pk"], ":dsk": keys["gsi2sk"], ":true": True}
    try:
        response = table().update_item(
            Key=_mon_key(workspace_id, monitored_url_id),
            UpdateExpression=update,
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(paused) OR paused <> :true)",
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if is_conditional_failure(exc):
            raise NotFound("No active (unpaused) monitored URL with this id.") from None
        raise
    return MonitoredUrl.from_item(response["Attributes"])


# --- the scheduler: due index, claims, rescheduling ----------------------------------------------


def _due_sk_upper_bound(now_iso: str) -> str:
    # gsi2sk is "<iso>#<mon>"; "$" sorts right after "#", so "< iso$" keeps every entry due at or before now.
    return f"{now_iso}$"


class DynamoScheduleStore:
    """The scheduler's view of the table (see ``botscope.monitoring.scheduler.ScheduleStore``)."""

    shards = DUE_SHARDS

    def due(self, shard: int, now_iso: str, limit: int, after: DueUrl | None = None) -> list[DueUrl]:
        """Up to ``limit`` items of one shard due at or before ``now_iso``, oldest first, continuing
        after the item ``after`` (the last one of the previous page). The index is eventually
        consistent: a caller must claim with a conditional write before acting."""
        kwargs: dict[str, Any] = {
            "IndexName": "gsi2",
            "KeyConditionExpression": "gsi2pk = :pk AND gsi2sk < :upper",
            "ExpressionAttributeValues": {":pk": f"DUE#{shard:02d}", ":upper": _due_sk_upper_bound(now_iso)},
            "ScanIndexForward": True,
            "Limit": limit,
        }
        if after is not None:
            kwargs["ExclusiveStartKey"] = {
                **_mon_key(after.workspace_id, after.monitored_url_id),
                **due_index_keys(after.monitored_url_id, after.next_scan_at),
            }
        items: list[dict[str, Any]] = []
        while len(items) < limit:
            response = table().query(**kwargs)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            kwargs["Limit"] = limit - len(items)
        return [DueUrl.from_item(i) for i in items]

    def get_workspace(self, workspace_id: str) -> Workspace | None:
        from botscope.store.workspaces import get_workspace

        return get_workspace(workspace_id)

    def claim(self, item: DueUrl, *, lease_until: str, claim: ScheduleClaim) -> bool:
        """Takes the due item for this run: only if ``next_scan_at`` is still the value read (so of
        two racing schedulers exactly one wins) and the URL is still monitored. The item moves to
        ``lease_until`` in the due index: if this run dies before confirming, a later run retries."""
        # A paused URL (PATCH /monitoring/{id}) left the due index; a run that read it just before
        # must not start it either.
        return _update_monitored(
            item,
            "SET next_scan_at = :next, gsi2sk = :sk, claim = :claim",
            "attribute_exists(pk) AND next_scan_at = :seen AND "
            "(attribute_not_exists(paused) OR paused = :unpaused)",
            {
                ":next": lease_until,
                ":sk": due_index_keys(item.monitored_url_id, lease_until)["gsi2sk"],
                ":claim": claim.to_dict(),
                ":seen": item.next_scan_at,
                ":unpaused": False,
            },
        )

    def confirm(
        self, item: DueUrl, *, scan_job_id: str, due_at: str, next_scan_at: str, started_at: str
    ) -> bool:
        """The scan for the claimed due time is started: schedule the next one and drop the claim.
        Conditional on the claim being ours (a later run may have re-claimed an expired lease; it
        re-uses the same scan id, so whichever confirms first is right and the other is a no-op)."""
        return _update_monitored(
            item,
            "SET next_scan_at = :next, gsi2sk = :sk, last_due_at = :due, last_started_scan_job_id = :scan, "
            "last_started_at = :started REMOVE claim",
            "attribute_exists(pk) AND claim.scan_job_id = :scan",
            {
                ":next": next_scan_at,
                ":sk": due_index_keys(item.monitored_url_id, next_scan_at)["gsi2sk"],
                ":due": due_at,
                ":scan": scan_job_id,
                ":started": started_at,
            },
        )

    def skip(self, item: DueUrl, *, next_scan_at: str, reason: str) -> bool:
        """Moves a due item on without scanning (workspace cancelled, past due or gone)."""
        return _update_monitored(
            item,
            "SET next_scan_at = :next, gsi2sk = :sk, last_skipped_reason = :reason REMOVE claim",
            "attribute_exists(pk) AND next_scan_at = :seen",
            {
                ":next": next_scan_at,
                ":sk": due_index_keys(item.monitored_url_id, next_scan_at)["gsi2sk"],
                ":reason": reason,
                ":seen": item.next_scan_at,
            },
        )


def _update_monitored(item: DueUrl, update: str, condition: str, values: dict[str, Any]) -> bool:
    return conditional_update(
        Key=_mon_key(item.workspace_id, item.monitored_url_id),
        UpdateExpression=update,
        ConditionExpression=condition,
        ExpressionAttributeValues=to_dynamo(values),
    )


# --- change-detection state ----------------------------------------------------------------------


def save_evaluation(
    workspace_id: str,
    monitored_url_id: str,
    *,
    expected_last_evaluated: str | None,
    scan_job_id: str,
    scanned_at: str,
    baseline: dict[str, Any],
    pending_changes: list[dict[str, Any]],
    summary: dict[str, Any],
    last_change_at: str | None,
    last_evaluation: dict[str, Any],
    outbox_event: dict[str, Any] | None,
) -> bool:
    """Writes the result of evaluating one scan (it becomes the URL's last scan), only if no other
    scan was evaluated since we read the item (optimistic concurrency on
    ``last_evaluated_scan_job_id``) and the URL is still monitored. ``last_change_at`` None removes
    it; ``outbox_event`` None leaves the outbox as it is."""
    values: dict[str, Any] = {
        "baseline": baseline,
        "pending_changes": pending_changes,
        "last_evaluated_scan_job_id": scan_job_id,
        "last_completed_scan_job_id": scan_job_id,
        "last_scan_job_id": scan_job_id,
        "last_scanned_at": scanned_at,
        "summary": summary,
        "last_change_at": last_change_at,
        "last_evaluation": last_evaluation,
    }
    if outbox_event is not None:
        values["outbox_event"] = outbox_event
    sets, removes = [], []
    names: dict[str, str] = {"#lev": "last_evaluated_scan_job_id"}
    expr_values: dict[str, Any] = {}
    for i, (name, value) in enumerate(values.items()):
        names[f"#a{i}"] = name
        if value is None:
            removes.append(f"#a{i}")
        else:
            expr_values[f":v{i}"] = value
            sets.append(f"#a{i} = :v{i}")
    update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    if expected_last_evaluated is None:
        condition = "attribute_exists(pk) AND (attribute_not_exists(#lev) OR attribute_type(#lev, :null))"
        expr_values[":null"] = "NULL"
    else:
        condition = "attribute_exists(pk) AND #lev = :expected"
        expr_values[":expected"] = expected_last_evaluated
    return conditional_update(
        Key=_mon_key(workspace_id, monitored_url_id),
        UpdateExpression=update,
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=to_dynamo(expr_values),
    )


def clear_outbox(workspace_id: str, monitored_url_id: str, event_key: str) -> None:
    """Removes the outbox entry once its event is published (only the entry we published)."""
    conditional_update(
        Key=_mon_key(workspace_id, monitored_url_id),
        UpdateExpression="REMOVE outbox_event",
        ConditionExpression="outbox_event.event_key = :k",
        ExpressionAttributeValues={":k": event_key},
    )


def record_failed_scan(
    workspace_id: str, monitored_url_id: str, scan_job_id: str, at: str, error_code: str | None
) -> None:
    """Notes a failed scan on the URL (shown nowhere as a defense change; the schedule already moved on)."""
    conditional_update(
        Key=_mon_key(workspace_id, monitored_url_id),
        UpdateExpression="SET last_failed_scan_job_id = :s, last_failed_at = :at, last_failure_code = :code",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":s": scan_job_id, ":at": at, ":code": error_code},
    )


# --- change history ------------------------------------------------------------------------------


def record_change(
    workspace_id: str, monitored_url_id: str, scan_job_id: str, data: dict[str, Any], *, detected_at: str
) -> None:
    """Keeps one ``monitoring.findings_changed`` event's data (plus ``detected_at``) in the URL's
    change history. Keyed by the scan that found the change, so a retried publish writes the same
    entry again."""
    table().put_item(
        Item={
            **_change_key(workspace_id, monitored_url_id, scan_job_id),
            "entry": to_dynamo({**data, "detected_at": detected_at}),
            "expires_at": ttl_after(CHANGE_HISTORY_TTL_SECONDS),
        }
    )


def list_changes(
    workspace_id: str, monitored_url_id: str, *, limit: int, starting_after: str | None = None
) -> tuple[list[ChangeEntry], bool]:
    """Newest first; ``starting_after`` is the ``scan_job_id`` of the last entry of the previous page.
    Returns ``(entries, has_more)``."""
    prefix = f"MONCHG#{monitored_url_id}#"
    values: dict[str, Any] = {":pk": ws_pk(workspace_id), ":low": prefix}
    if starting_after:
        # BETWEEN is inclusive: the previous page's last entry is read again and dropped.
        values[":high"] = f"{prefix}{starting_after}"
    else:
        values[":high"] = prefix + "\uffff"
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
        "ExpressionAttributeValues": values,
        "ScanIndexForward": False,
        "Limit": limit + 2,
        "ConsistentRead": True,
    }
    while True:
        page = table().query(**kwargs)
        items.extend(i for i in page.get("Items", []) if i["sk"] != values[":high"])
        if len(items) > limit or "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [ChangeRecord.from_item(i).entry for i in items[:limit]], len(items) > limit
