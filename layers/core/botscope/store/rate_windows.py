"""The counters rate limits and webhook traffic bounds read and claim (docs/data-model.md).

* **fixed windows** ``RL#<counter>`` / ``W#<window start epoch>``: ``hits``, one atomic ``ADD``
  guarded by ``hits < quota`` so concurrent Lambdas share one count and a refused hit is not
  counted; the item expires with its window (``expires_at`` = window end + 60 s).
* **webhook in-flight leases** ``WHFLIGHT#<scope>`` / ``S#<nnn>``: ``holder``, ``claimed_at``,
  ``expires_at``; a slot is claimed with a conditional put (free when absent or expired) and
  released by its holder only.

The policy (quotas, window lengths, which counters) lives with the callers: ``botscope.ratelimit``
and ``botscope.webhooks.limits``.
"""

from __future__ import annotations

import random

from botocore.exceptions import ClientError

from botscope.store.table import is_conditional_failure, now_iso, table, ttl_after, utcnow

WINDOW_TTL_GRACE_SECONDS = 60


def count_hit(counter: str, window_start: int, window_seconds: int, quota: int) -> int | None:
    """Counts one hit in the window of ``counter`` starting at ``window_start`` (epoch seconds).
    Returns the window's hits including this one, or ``None`` when it already holds ``quota``
    hits (this one is then not counted)."""
    try:
        updated = table().update_item(
            Key={"pk": f"RL#{counter}", "sk": f"W#{window_start}"},
            UpdateExpression="ADD hits :one SET expires_at = :exp",
            ConditionExpression="attribute_not_exists(hits) OR hits < :quota",
            ExpressionAttributeValues={
                ":one": 1,
                ":quota": quota,
                ":exp": window_start + window_seconds + WINDOW_TTL_GRACE_SECONDS,
            },
            ReturnValues="UPDATED_NEW",
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
        return None
    return int(updated["Attributes"]["hits"])


def _slot_key(scope: str, slot: int) -> dict[str, str]:
    return {"pk": f"WHFLIGHT#{scope}", "sk": f"S#{slot:03d}"}


def claim_flight_slot(scope: str, limit: int, holder: str, ttl_seconds: int) -> int | None:
    """One of the ``limit`` in-flight slots of ``scope`` for ``holder`` for ``ttl_seconds``, or
    ``None`` when all are held. Slots are tried from a random one on, so concurrent claimers
    spread instead of all racing for slot 0."""
    start = random.randrange(limit)  # noqa: S311 - spreads contention, not a secret
    for offset in range(limit):
        slot = (start + offset) % limit
        try:
            table().put_item(
                Item={
                    **_slot_key(scope, slot),
                    "holder": holder,
                    "claimed_at": now_iso(),
                    "expires_at": ttl_after(ttl_seconds),
                },
                ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now",
                ExpressionAttributeValues={":now": int(utcnow().timestamp())},
            )
            return slot
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
    return None


def release_flight_slot(scope: str, slot: int, holder: str) -> None:
    """Frees the slot if ``holder`` still holds it (a lease that expired and was taken over by
    another attempt is left alone)."""
    try:
        table().delete_item(
            Key=_slot_key(scope, slot),
            ConditionExpression="holder = :h",
            ExpressionAttributeValues={":h": holder},
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
