"""Webhook endpoint management: create (secret shown once), list, delete, test, delivery log.

Rules (docs/api.md "Webhooks"): a label; an https URL that passes the SSRF guard (http only in local
mode for explicitly allowed private ranges); known event types only; one endpoint per URL per
workspace; at most ``MAX_ENDPOINTS_PER_WORKSPACE``. Another workspace's endpoint is 404.
"""

from __future__ import annotations

from typing import Any

from botscope import audit, ids
from botscope.auth.principal import Principal
from botscope.errors import Conflict, InvalidTarget, NotFound, TargetNotPublic, ValidationFailed
from botscope.store import webhooks as store
from botscope.webhooks import fanout, secrets, signing, urls

LABEL_MAX_CHARS = 64
PUBLIC_FIELDS = ("webhook_id", "label", "url", "event_types", "status", "disabled_reason", "disabled_at",
                 "created_at", "last_success_at", "last_failure_at", "failing_since")
ATTEMPT_FIELDS = ("attempt", "at", "status_code", "duration_ms", "error", "next_retry_at")
MAX_DELIVERIES_PAGE = 100


def _invalid(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {problem}.", errors=[{"field": field, "message": problem}])


def validate_label(label: Any) -> str:
    if not isinstance(label, str):
        raise _invalid("label", "must be a string")
    trimmed = label.strip()
    if not trimmed:
        raise _invalid("label", "must not be empty")
    if len(trimmed) > LABEL_MAX_CHARS:
        raise _invalid("label", f"must be at most {LABEL_MAX_CHARS} characters")
    if not trimmed.isprintable():
        raise _invalid("label", "must contain only printable characters")
    return trimmed


def validate_event_types(event_types: Any) -> list[str]:
    if not isinstance(event_types, list) or not event_types:
        raise _invalid("event_types", "must be a non-empty list")
    unknown = [t for t in event_types if t not in fanout.EVENT_TYPES]
    if unknown:
        raise _invalid("event_types", f"unknown event type(s) {', '.join(map(str, unknown))}; known: "
                                      f"{', '.join(fanout.EVENT_TYPES)}")
    return list(dict.fromkeys(event_types))


def public_view(endpoint: dict[str, Any]) -> dict[str, Any]:
    return {k: endpoint.get(k) for k in PUBLIC_FIELDS}


def create_webhook(principal: Principal, *, label: Any, url: Any, event_types: Any) -> dict[str, Any]:
    """Returns the endpoint plus ``secret`` (``whsec_…``): the only time the secret is shown."""
    clean_label = validate_label(label)
    clean_types = validate_event_types(event_types)
    if not isinstance(url, str):
        raise _invalid("url", "must be a string")
    try:
        target, _ = urls.guard_endpoint(url)
    except (InvalidTarget, TargetNotPublic) as exc:  # 422 with the stable code, pointed at the field
        exc.errors = exc.errors or [{"field": "url", "message": exc.message}]
        raise
    webhook_id = ids.new_id("wh")
    secret = signing.generate_secret()
    item = {"webhook_id": webhook_id, "workspace_id": principal.workspace_id, "label": clean_label,
            "url": target.url, "event_types": clean_types, "created_by": principal.actor,
            **secrets.encrypt(secret, workspace_id=principal.workspace_id, webhook_id=webhook_id)}
    try:
        created = store.create_endpoint(item)
    except store.DuplicateEndpoint as exc:
        raise Conflict("This workspace already has a webhook for this URL.", code="webhook_exists") from exc
    except store.EndpointLimitReached as exc:
        raise Conflict(f"A workspace can have at most {store.MAX_ENDPOINTS_PER_WORKSPACE} webhooks; delete one "
                       "first.", code="webhook_limit_reached") from exc
    audit.record(principal, "webhook.created", webhook_id, {"label": clean_label, "host": target.host,
                                                            "event_types": clean_types})
    return {**public_view(created), "secret": secret}


def _owned_endpoint(principal: Principal, webhook_id: str) -> dict[str, Any]:
    endpoint = store.get_endpoint(principal.workspace_id, webhook_id) if ids.is_id(webhook_id, "wh") else None
    if endpoint is None:
        raise NotFound("No webhook with this id in your workspace.")
    return endpoint


def get_webhook(principal: Principal, webhook_id: str) -> dict[str, Any]:
    return public_view(_owned_endpoint(principal, webhook_id))


def list_webhooks(principal: Principal) -> dict[str, Any]:
    return {"data": [public_view(e) for e in store.list_endpoints(principal.workspace_id)], "has_more": False}


def delete_webhook(principal: Principal, webhook_id: str) -> None:
    _owned_endpoint(principal, webhook_id)
    if not store.delete_endpoint(principal.workspace_id, webhook_id):
        raise NotFound("No webhook with this id in your workspace.")
    audit.record(principal, "webhook.deleted", webhook_id)


def send_test(principal: Principal, webhook_id: str) -> dict[str, Any]:
    endpoint = _owned_endpoint(principal, webhook_id)
    if endpoint.get("status") != store.ENABLED:
        raise Conflict(f"The webhook is disabled: {endpoint.get('disabled_reason')}", code="webhook_disabled")
    event_id, delivery_id = fanout.send_test_event(principal.workspace_id, endpoint)
    return {"event_id": event_id, "delivery_id": delivery_id, "type": fanout.TEST_EVENT_TYPE, "status": "queued"}


def list_deliveries(principal: Principal, webhook_id: str, *, limit: int = 25,
                    starting_after: str | None = None) -> dict[str, Any]:
    _owned_endpoint(principal, webhook_id)
    if starting_after is not None and not ids.is_id(starting_after, "evt"):
        raise _invalid("starting_after", "must be an event id (evt_…)")
    items, has_more = store.list_deliveries(webhook_id, limit=max(1, min(limit, MAX_DELIVERIES_PAGE)),
                                            starting_after=starting_after)
    return {"data": [_delivery_view(i) for i in items], "has_more": has_more}


def _delivery_view(item: dict[str, Any]) -> dict[str, Any]:
    attempts = [{k: (int(a[k]) if k in ("attempt", "status_code", "duration_ms") and a.get(k) is not None
                     else a.get(k)) for k in ATTEMPT_FIELDS} for a in item.get("attempts", [])]
    return {"delivery_id": item.get("delivery_id"), "event_id": item["event_id"],
            "event_type": item.get("event_type"), "status": item["status"],
            "attempt_count": int(item.get("attempt_count", 0)), "next_retry_at": item.get("next_retry_at"),
            "error": item.get("error"), "created_at": item.get("created_at"), "updated_at": item.get("updated_at"),
            "attempts": attempts}
