"""Monitoring's DynamoDB access beyond enrollment (``botscope.store.monitoring`` owns enroll, release,
get and list): the due index, claims, rescheduling, and the change-detection state kept on the
monitored URL item. Keys are in docs/data-model.md.

Due index (GSI ``gsi2``): ``gsi2pk = DUE#<shard 00-31>``, ``gsi2sk = <next_scan_at>#<mon>``. The
shard is a hash of the monitored URL id, so the scheduler's reads and the index's writes spread
over 32 partition keys. Every write that moves ``next_scan_at`` moves ``gsi2sk`` with it.

Attributes this module adds to the monitored URL item:
- ``claim``: ``{due_at, scan_job_id, attempts, claimed_at}`` while a scan for ``due_at`` is being
  started; removed when the start is confirmed.
- ``baseline``, ``pending_changes``, ``last_evaluated_scan_job_id``, ``last_completed_scan_job_id``,
  ``outbox_event``: change detection (``botscope.monitoring.changes``).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from botscope.store.monitoring import due_index_keys
from botscope.store.table import (
    DUE_SHARDS,
    conditional_update,
    is_conditional_failure,
    plain_item,
    table,
    to_dynamo,
    ws_pk,
)


def mon_key(workspace_id: str, monitored_url_id: str) -> dict[str, str]:
    return {"pk": ws_pk(workspace_id), "sk": f"MON#{monitored_url_id}"}


def shard_key(shard: int) -> str:
    return f"DUE#{shard:02d}"


def _due_sk_upper_bound(now_iso: str) -> str:
    # gsi2sk is "<iso>#<mon>"; "$" sorts right after "#", so "< iso$" keeps every entry due at or before now.
    return f"{now_iso}$"


class DynamoScheduleStore:
    """The scheduler's view of the table (see ``botscope.monitoring.scheduler.ScheduleStore``)."""

    shards = DUE_SHARDS

    def due(
        self, shard: int, now_iso: str, limit: int, after: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` items of one shard due at or before ``now_iso``, oldest first, continuing
        after the item ``after`` (the last one of the previous page). The index is eventually
        consistent: a caller must claim with a conditional write before acting."""
        kwargs: dict[str, Any] = {
            "IndexName": "gsi2",
            "KeyConditionExpression": "gsi2pk = :pk AND gsi2sk < :upper",
            "ExpressionAttributeValues": {":pk": shard_key(shard), ":upper": _due_sk_upper_bound(now_iso)},
            "ScanIndexForward": True,
            "Limit": limit,
        }
        if after is not None:
            kwargs["ExclusiveStartKey"] = {
                **mon_key(after["workspace_id"], after["monitored_url_id"]),
                **due_index_keys(after["monitored_url_id"], after["next_scan_at"]),
            }
        items: list[dict[str, Any]] = []
        while len(items) < limit:
            response = table().query(**kwargs)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            kwargs["Limit"] = limit - len(items)
        return [plain_item(i) for i in items]

    def get_workspace(self, workspace_id: str) -> dict[str, Any] | None:
        from botscope.store.workspaces import get_workspace

        workspace = get_workspace(workspace_id)
        return workspace.to_dict() if workspace else None

    def claim(self, item: dict[str, Any], *, lease_until: str, claim: dict[str, Any]) -> bool:
        """Takes the due item for this run: only if ``next_scan_at`` is still the value read (so of
        two racing schedulers exactly one wins) and the URL is still monitored. The item moves to
        ``lease_until`` in the due index: if this run dies before confirming, a later run retries."""
        # A paused URL (PATCH /monitoring/{id}) left the due index; a run that read it just before
        # must not start it either.
        return self._update(
            item,
            "SET next_scan_at = :next, gsi2sk = :sk, claim = :claim",
            "attribute_exists(pk) AND next_scan_at = :seen AND "
            "(attribute_not_exists(paused) OR paused = :unpaused)",
            {
                ":next": lease_until,
                ":sk": due_index_keys(item["monitored_url_id"], lease_until)["gsi2sk"],
                ":claim": claim,
                ":seen": item["next_scan_at"],
                ":unpaused": False,
            },
        )

    def confirm(
        self, item: dict[str, Any], *, scan_job_id: str, due_at: str, next_scan_at: str, started_at: str
    ) -> bool:
        """The scan for the claimed due time is started: schedule the next one and drop the claim.
        Conditional on the claim being ours (a later run may have re-claimed an expired lease; it
        re-uses the same scan id, so whichever confirms first is right and the other is a no-op)."""
        return self._update(
            item,
            "SET next_scan_at = :next, gsi2sk = :sk, last_due_at = :due, last_started_scan_job_id = :scan, "
            "last_started_at = :started REMOVE claim",
            "attribute_exists(pk) AND claim.scan_job_id = :scan",
            {
                ":next": next_scan_at,
                ":sk": due_index_keys(item["monitored_url_id"], next_scan_at)["gsi2sk"],
                ":due": due_at,
                ":scan": scan_job_id,
                ":started": started_at,
            },
        )

    def skip(self, item: dict[str, Any], *, next_scan_at: str, reason: str) -> bool:
        """Moves a due item on without scanning (workspace cancelled, past due or gone)."""
        return self._update(
            item,
            "SET next_scan_at = :next, gsi2sk = :sk, last_skipped_reason = :reason REMOVE claim",
            "attribute_exists(pk) AND next_scan_at = :seen",
            {
                ":next": next_scan_at,
                ":sk": due_index_keys(item["monitored_url_id"], next_scan_at)["gsi2sk"],
                ":reason": reason,
                ":seen": item["next_scan_at"],
            },
        )

    @staticmethod
    def _update(item: dict[str, Any], update: str, condition: str, values: dict[str, Any]) -> bool:
        return conditional_update(
            Key=mon_key(item["workspace_id"], item["monitored_url_id"]),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeValues=to_dynamo(values),
        )


# --- change-detection state ----------------------------------------------------------------------


def get_item(workspace_id: str, monitored_url_id: str) -> dict[str, Any] | None:
    raw = table().get_item(Key=mon_key(workspace_id, monitored_url_id), ConsistentRead=True).get("Item")
    return plain_item(raw) if raw else None


def save_evaluation(
    workspace_id: str, monitored_url_id: str, *, expected_last_evaluated: str | None, values: dict[str, Any]
) -> bool:
    """Writes the result of evaluating one scan, only if no other scan was evaluated since we read
    the item (optimistic concurrency on ``last_evaluated_scan_job_id``) and the URL is still monitored.
    ``values`` maps attribute names to new values; a value of None removes the attribute."""
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
    update = ("SET " + ", ".join(sets) if sets else "") + (" REMOVE " + ", ".join(removes) if removes else "")
    if expected_last_evaluated is None:
        condition = "attribute_exists(pk) AND (attribute_not_exists(#lev) OR attribute_type(#lev, :null))"
        expr_values[":null"] = "NULL"
    else:
        condition = "attribute_exists(pk) AND #lev = :expected"
        expr_values[":expected"] = expected_last_evaluated
    return conditional_update(
        Key=mon_key(workspace_id, monitored_url_id),
        UpdateExpression=update.strip(),
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=to_dynamo(expr_values),
    )


def clear_outbox(workspace_id: str, monitored_url_id: str, event_key: str) -> None:
    """Removes the outbox entry once its event is published (only the entry we published)."""
    try:
        table().update_item(
            Key=mon_key(workspace_id, monitored_url_id),
            UpdateExpression="REMOVE outbox_event",
            ConditionExpression="outbox_event.event_key = :k",
            ExpressionAttributeValues={":k": event_key},
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise


def record_failed_scan(
    workspace_id: str, monitored_url_id: str, scan_job_id: str, at: str, error_code: str | None
) -> None:
    """Notes a failed scan on the URL (shown nowhere as a defense change; the schedule already moved on)."""
    try:
        table().update_item(
            Key=mon_key(workspace_id, monitored_url_id),
            UpdateExpression="SET last_failed_scan_job_id = :s, last_failed_at = :at, "
            "last_failure_code = :code",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":s": scan_job_id, ":at": at, ":code": error_code},
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
