"""Public share links of a scan's report (docs/data-model.md "report share").

A scan has at most one active share. The share token (``shr_…``, shown once) is never stored:
its SHA-256 keys the lookup item, like API keys. The share id (``shr_`` + ULID, not secret) names
the badge, which shows only the posture and the AI-crawler verdict stored with it.

Items, written and deleted together in one transaction:
- ``SCAN#<scan>`` / ``SHARE``          the scan's current share (``share_id``, ``token_hash``)
- ``SHARE#<sha256(token)>`` / ``SHARE`` lookup by token → scan
- ``SHAREID#<share_id>`` / ``SHARE``   lookup by share id → badge values
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from botscope import ids
from botscope.auth import tokens
from botscope.store.entity import Entity
from botscope.store.table import is_conditional_failure, now_iso, scan_pk, table


class Share(Entity):
    """A share item, read through any of its three keys."""

    share_id: str
    scan_job_id: str
    workspace_id: str
    created_at: str
    token_hash: str | None = None  # the scan's current-share item only
    posture: str | None = None  # the by-id item only (the badge values)
    ai_access: str | None = None


class ShareConflict(Exception):
    """Another request changed the scan's share at the same moment."""


def _current_key(scan_job_id: str) -> dict[str, str]:
    return {"pk": scan_pk(scan_job_id), "sk": "SHARE"}


def _token_key(token_hash: str) -> dict[str, str]:
    return {"pk": f"SHARE#{token_hash}", "sk": "SHARE"}


def _id_key(share_id: str) -> dict[str, str]:
    return {"pk": f"SHAREID#{share_id}", "sk": "SHARE"}


def _share(item: dict[str, Any] | None) -> Share | None:
    return Share.from_item(item) if item else None


def get_current(scan_job_id: str) -> Share | None:
    return _share(table().get_item(Key=_current_key(scan_job_id), ConsistentRead=True).get("Item"))


def create(workspace_id: str, scan_job_id: str, badge: dict[str, str]) -> tuple[Share, str]:
    """A new share of the scan, replacing (revoking) the previous one. Returns the share and its
    token (shown once; only its hash is stored)."""
    issued = tokens.issue("shr")
    share_id = ids.new_id("shr")
    created_at = now_iso()
    previous = get_current(scan_job_id)
    record = {
        "share_id": share_id,
        "scan_job_id": scan_job_id,
        "workspace_id": workspace_id,
        "created_at": created_at,
    }
    name = table().name
    items: list[dict[str, Any]] = [
        {
            "Put": {
                "TableName": name,
                "Item": {**_current_key(scan_job_id), **record, "token_hash": issued.token_hash},
                **(
                    {
                        "ConditionExpression": "share_id = :old",
                        "ExpressionAttributeValues": {":old": previous.share_id},
                    }
                    if previous
                    else {"ConditionExpression": "attribute_not_exists(pk)"}
                ),
            }
        },
        {"Put": {"TableName": name, "Item": {**_token_key(issued.token_hash), **record}}},
        {"Put": {"TableName": name, "Item": {**_id_key(share_id), **record, **badge}}},
    ]
    if previous:
        items += [
            {"Delete": {"TableName": name, "Key": _token_key(str(previous.token_hash))}},
            {"Delete": {"TableName": name, "Key": _id_key(previous.share_id)}},
        ]
    try:
        table().meta.client.transact_write_items(TransactItems=items)
    except ClientError as exc:
        if is_conditional_failure(exc):
            raise ShareConflict(scan_job_id) from exc
        raise
    return Share(**record, token_hash=issued.token_hash), issued.token


def revoke(scan_job_id: str) -> bool:
    """Deletes the scan's share; False when it had none."""
    current = get_current(scan_job_id)
    if current is None:
        return False
    name = table().name
    try:
        table().meta.client.transact_write_items(
            TransactItems=[
                {
                    "Delete": {
                        "TableName": name,
                        "Key": _current_key(scan_job_id),
                        "ConditionExpression": "share_id = :id",
                        "ExpressionAttributeValues": {":id": current.share_id},
                    }
                },
                {"Delete": {"TableName": name, "Key": _token_key(str(current.token_hash))}},
                {"Delete": {"TableName": name, "Key": _id_key(current.share_id)}},
            ]
        )
    except ClientError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def get_by_token(token: str) -> Share | None:
    """The share of a presented token; shape and checksum are checked first (no read for junk)."""
    if not tokens.is_well_formed(token, "shr"):
        return None
    return _share(table().get_item(Key=_token_key(tokens.hash_token(token)), ConsistentRead=True).get("Item"))


def get_by_id(share_id: str) -> Share | None:
    """The share by its public id, with the badge values."""
    if not ids.is_id(share_id, "shr"):
        return None
    return _share(table().get_item(Key=_id_key(share_id)).get("Item"))
