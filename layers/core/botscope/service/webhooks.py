"""Webhook endpoint management: create (secret shown once), list, update, delete, test, secret
rotation, delivery log and redelivery.

Rules (docs/api.md "Webhooks"): a label; an https URL that passes the SSRF guard (http only in local
mode for explicitly allowed private ranges) at creation and on every change; known event types
only; one endpoint per URL per workspace; at most ``MAX_ENDPOINTS_PER_WORKSPACE``. Another
workspace's endpoint is 404. Manual sends (``/test`` and redelivery) are rate-limited per endpoint
(``botscope.webhooks.limits``).

Why no verification handshake before a new endpoint gets events: Standard Webhooks receivers do
not implement one (a challenge would break every off-the-shelf receiver), and it would not bound
what an attacker can send anyway (an endpoint the attacker controls passes it). The traffic any
endpoint or host can receive is bounded instead: docs/invariants.md "Webhook traffic".
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from botscope import audit, ids
from botscope.auth.principal import Principal
from botscope.config import get_settings
from botscope.errors import Conflict, InvalidTarget, NotFound, RateLimited, TargetNotPublic, ValidationFailed
from botscope.isotime import iso, utcnow
from botscope.scanner.model import Target
from botscope.store import webhooks as store
from botscope.webhooks import fanout, limits, secrets, signing, urls

LABEL_MAX_CHARS = 64
DESCRIPTION_MAX_CHARS = 500
PUBLIC_FIELDS = (
    "webhook_id",
    "label",
    "description",
    "url",
    "event_types",
    "status",
    "disabled_reason",
    "disabled_at",
    "created_at",
    "updated_at",
    "last_success_at",
    "last_failure_at",
    "failing_since",
    "rotated_at",
    "rotation_overlap_until",
)
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


def validate_description(description: Any) -> str | None:
    if description is None:
        return None
    if not isinstance(description, str):
        raise _invalid("description", "must be a string or null")
    trimmed = description.strip()
    if len(trimmed) > DESCRIPTION_MAX_CHARS:
        raise _invalid("description", f"must be at most {DESCRIPTION_MAX_CHARS} characters")
    if not all(c.isprintable() or c in "\n\t" for c in trimmed):
        raise _invalid("description", "must contain only printable characters")
    return trimmed or None


def validate_event_types(event_types: Any) -> list[str]:
    if not isinstance(event_types, list) or not event_types:
        raise _invalid("event_types", "must be a non-empty list")
    unknown = [t for t in event_types if t not in fanout.EVENT_TYPES]
    if unknown:
        raise _invalid(
            "event_types",
            f"unknown event type(s) {', '.join(map(str, unknown))}; known: {', '.join(fanout.EVENT_TYPES)}",
        )
    return list(dict.fromkeys(event_types))


def public_view(endpoint: store.Webhook) -> dict[str, Any]:
    """An endpoint as the API and MCP show it: never its secrets."""
    return {k: getattr(endpoint, k) for k in PUBLIC_FIELDS}


def create_webhook(
    principal: Principal, *, label: Any, url: Any, event_types: Any, description: Any = None
) -> dict[str, Any]:
    """Returns the endpoint plus ``secret`` (``whsec_…``): the only time the secret is shown."""
    clean_label = validate_label(label)
    clean_description = validate_description(description)
    clean_types = validate_event_types(event_types)
    target = _guarded_url(url)
    webhook_id = ids.new_id("wh")
    secret = signing.generate_secret()
    try:
        created = store.create_endpoint(
            webhook_id=webhook_id,
            workspace_id=principal.workspace_id,
            label=clean_label,
            url=target.url,
            event_types=clean_types,
            created_by=principal.actor,
            description=clean_description,
            **secrets.encrypt(secret, workspace_id=principal.workspace_id, webhook_id=webhook_id),
        )
    except store.DuplicateEndpoint as exc:
        raise Conflict("This workspace already has a webhook for this URL.", code="webhook_exists") from exc
    except store.EndpointLimitReached as exc:
        raise Conflict(
            f"A workspace can have at most {store.MAX_ENDPOINTS_PER_WORKSPACE} webhooks; delete one first.",
            code="webhook_limit_reached",
        ) from exc
    audit.record(
        principal,
        "webhook.created",
        webhook_id,
        {"label": clean_label, "host": target.host, "event_types": clean_types},
    )
    return {**public_view(created), "secret": secret}


def _guarded_url(url: Any) -> Target:
    if not isinstance(url, str):
        raise _invalid("url", "must be a string")
    try:
        target, _ = urls.guard_endpoint(url)
    except (InvalidTarget, TargetNotPublic) as exc:  # 422 with the stable code, pointed at the field
        exc.errors = exc.errors or [{"field": "url", "message": exc.message}]
        raise
    return target


def _owned_endpoint(principal: Principal, webhook_id: str) -> store.Webhook:
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
    if endpoint.status != store.ENABLED:
        raise Conflict(f"The webhook is disabled: {endpoint.disabled_reason}", code="webhook_disabled")
    _check_manual_send_rate(webhook_id)
    event_id, delivery_id = fanout.send_test_event(principal.workspace_id, endpoint)
    return {
        "event_id": event_id,
        "delivery_id": delivery_id,
        "type": fanout.TEST_EVENT_TYPE,
        "status": "queued",
    }


def list_deliveries(
    principal: Principal, webhook_id: str, *, limit: int = 25, starting_after: str | None = None
) -> dict[str, Any]:
    _owned_endpoint(principal, webhook_id)
    if starting_after is not None and not ids.is_id(starting_after, "evt"):
        raise _invalid("starting_after", "must be an event id (evt_…)")
    items, has_more = store.list_deliveries(
        webhook_id, limit=max(1, min(limit, MAX_DELIVERIES_PAGE)), starting_after=starting_after
    )
    return {"data": [_delivery_view(i) for i in items], "has_more": has_more}


def _delivery_view(delivery: store.Delivery) -> dict[str, Any]:
    """A delivery as the delivery log shows it: without its payload or lease."""
    return {
        "delivery_id": delivery.delivery_id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "status": delivery.status,
        "attempt_count": delivery.attempt_count,
        "next_retry_at": delivery.next_retry_at,
        "error": delivery.error,
        "created_at": delivery.created_at,
        "updated_at": delivery.updated_at,
        "attempts": [a.to_dict() for a in delivery.attempts],
    }


# --- manage an endpoint ------------------------------------------------------------------------

_PATCH_FIELDS = ("label", "description", "url", "event_types", "enabled")


def _check_manual_send_rate(webhook_id: str) -> None:
    wait = limits.check_test_rate(webhook_id)
    if wait is not None:
        quota = get_settings().webhook_test_per_endpoint_minute
        raise RateLimited(
            f"This webhook received {quota} test events or redeliveries in the current minute; "
            f"retry after {wait} seconds.",
            code="rate_limited",
            headers={
                "Retry-After": str(wait),
                "RateLimit-Policy": f'"webhook-manual-sends";q={quota};w={limits.MINUTE}',
                "RateLimit": f'"webhook-manual-sends";r=0;t={wait}',
            },
        )


def _status_change(endpoint: store.Webhook, enabled: Any) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The attributes ``enabled`` sets and removes: enabling a disabled endpoint clears its
    disabled reason and its failure streak (``failing_since``)."""
    if not isinstance(enabled, bool):
        raise _invalid("enabled", "must be true or false")
    if enabled and endpoint.status != store.ENABLED:
        return {"status": store.ENABLED, "disabled_reason": None, "disabled_at": None}, ("failing_since",)
    if not enabled and endpoint.status == store.ENABLED:
        disabled = {
            "status": store.DISABLED,
            "disabled_reason": "disabled by the workspace",
            "disabled_at": iso(utcnow()),
        }
        return disabled, ()
    return {}, ()


def _validated_changes(
    endpoint: store.Webhook, changes: dict[str, Any]
) -> tuple[dict[str, Any], tuple[str, ...], str | None]:
    """What a PATCH sets and removes, every field validated, and the new URL's host if any."""
    unknown = sorted(set(changes) - set(_PATCH_FIELDS))
    if unknown:
        raise _invalid(unknown[0], "is not a field you can change")
    if not changes:
        raise _invalid("body", f"name at least one of {', '.join(_PATCH_FIELDS)}")
    updates: dict[str, Any] = {}
    if "label" in changes:
        updates["label"] = validate_label(changes["label"])
    if "description" in changes:
        updates["description"] = validate_description(changes["description"])
    if "event_types" in changes:
        updates["event_types"] = validate_event_types(changes["event_types"])
    host = None
    if "url" in changes:
        target = _guarded_url(changes["url"])
        updates["url"], host = target.url, target.host
    remove: tuple[str, ...] = ()
    if "enabled" in changes:
        status, remove = _status_change(endpoint, changes["enabled"])
        updates.update(status)
    updates["updated_at"] = iso(utcnow())
    return updates, remove, host


def update_webhook(principal: Principal, webhook_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """PATCH: any of label, description, url (SSRF guard again), event_types, enabled. Enabling a
    disabled endpoint clears its failure streak (``failing_since``) and disabled reason."""
    endpoint = _owned_endpoint(principal, webhook_id)
    updates, remove, host = _validated_changes(endpoint, changes)
    try:
        updated = store.update_endpoint(
            principal.workspace_id,
            webhook_id,
            updates,
            old_url=endpoint.url if "url" in updates else None,
            remove=remove,
        )
    except store.DuplicateEndpoint as exc:
        raise Conflict("This workspace already has a webhook for this URL.", code="webhook_exists") from exc
    if updated is None:
        raise NotFound("No webhook with this id in your workspace.")
    details: dict[str, Any] = {"fields": sorted(k for k in changes)}
    if host:
        details["host"] = host
    if "enabled" in changes:
        details["enabled"] = changes["enabled"]
    audit.record(principal, "webhook.updated", webhook_id, details)
    return public_view(updated)


def rotate_secret(principal: Principal, webhook_id: str) -> dict[str, Any]:
    """A new signing secret, returned once. The previous one keeps signing (both signatures in
    ``webhook-signature``) for ``webhook_secret_overlap_seconds``, so receivers switch without a gap.
    Rotating again during an overlap drops the oldest secret."""
    endpoint = _owned_endpoint(principal, webhook_id)
    secret = signing.generate_secret()
    fresh = secrets.encrypt(secret, workspace_id=principal.workspace_id, webhook_id=webhook_id)
    now = utcnow()
    overlap_ends = iso(now + timedelta(seconds=get_settings().webhook_secret_overlap_seconds))
    updates = {
        **fresh,
        "previous_secret_scheme": endpoint.secret_scheme,
        "previous_secret_ciphertext": endpoint.secret_ciphertext,
        "rotation_overlap_until": overlap_ends,
        "rotated_at": iso(now),
        "updated_at": iso(now),
    }
    updated = store.update_endpoint(principal.workspace_id, webhook_id, updates)
    if updated is None:
        raise NotFound("No webhook with this id in your workspace.")
    audit.record(
        principal, "webhook.secret_rotated", webhook_id, {"previous_secret_valid_until": overlap_ends}
    )
    return {**public_view(updated), "secret": secret}


def redeliver(principal: Principal, webhook_id: str, delivery_id: str) -> dict[str, Any]:
    """One new attempt of a finished delivery: the same event, payload and ``webhook-id``."""
    endpoint = _owned_endpoint(principal, webhook_id)
    delivery = None
    if ids.is_id(delivery_id, "dlv"):
        delivery = store.find_delivery(webhook_id, delivery_id)
    elif ids.is_id(delivery_id, "evt"):
        delivery = store.get_delivery(webhook_id, delivery_id)
    if delivery is None:
        raise NotFound("No delivery with this id for this webhook.")
    if endpoint.status != store.ENABLED:
        raise Conflict(f"The webhook is disabled: {endpoint.disabled_reason}", code="webhook_disabled")
    if delivery.status == store.PENDING:
        raise Conflict(
            "This delivery is still being attempted; redeliver it once it has finished.",
            code="delivery_pending",
        )
    _check_manual_send_rate(webhook_id)
    attempt_count = delivery.attempt_count
    if not store.reopen_delivery(webhook_id, delivery.event_id, attempt_count=attempt_count):
        raise Conflict(
            "This delivery is still being attempted; redeliver it once it has finished.",
            code="delivery_pending",
        )
    fanout.send_messages(
        [
            fanout.delivery_message(
                event_id=delivery.event_id,
                webhook_id=webhook_id,
                workspace_id=principal.workspace_id,
                attempt=attempt_count + 1,
            )
        ]
    )
    audit.record(
        principal,
        "webhook.redelivered",
        webhook_id,
        {"delivery_id": delivery.delivery_id, "event_id": delivery.event_id},
    )
    return {
        "delivery_id": delivery.delivery_id,
        "event_id": delivery.event_id,
        "attempt": attempt_count + 1,
        "status": "queued",
    }
