"""The audit log (enterprise): who did what, when. Every credential, webhook, monitoring and
scan-start action calls ``record``."""

from __future__ import annotations

from typing import Any

from botscope import ids
from botscope.auth.principal import Principal
from botscope.store.table import now_iso, table, ttl_after

AUDIT_RETENTION_SECONDS = 400 * 24 * 3600


def record(principal: Principal, action: str, target: str, details: dict[str, Any] | None = None) -> None:
    audit_id = ids.new_id("aud")
    table().put_item(Item={
        "pk": f"WS#{principal.workspace_id}#AUDIT", "sk": audit_id, "audit_id": audit_id,
        "actor": principal.actor, "action": action, "target": target,
        "request_id": principal.request_id, "source_ip": principal.source_ip, "at": now_iso(),
        "details": details or {}, "expires_at": ttl_after(AUDIT_RETENTION_SECONDS),
    })
