"""The audit log (enterprise): who did what, when. Every credential, webhook, monitoring and
scan-start action calls ``record``.

Actions in use: ``key.created``, ``key.revoked``, ``scan.started``, ``monitoring.enrolled``,
``monitoring.released``, ``webhook.created``, ``webhook.deleted``. Records are written for every
plan (so an upgrade to enterprise shows recent history); only enterprise may read them.
"""

from __future__ import annotations

from typing import Any

from botscope.auth.principal import Principal
from botscope.redaction import redact_urls_in
from botscope.store import audit as audit_store


def record(principal: Principal, action: str, target: str, details: dict[str, Any] | None = None) -> str:
    """Writes one audit record for ``principal``'s workspace and returns its id (``aud_…``). URLs in
    ``details`` are stored with their query values redacted (``botscope.redaction``)."""
    return audit_store.put_record(
        principal.workspace_id,
        actor_type=principal.actor_type,
        actor_id=principal.actor_id,
        action=action,
        target=target,
        request_id=principal.request_id,
        source_ip=principal.source_ip,
        details=redact_urls_in(details) if details else details,
    )
