"""``/api/v1/webhooks``: endpoints (secret shown once), test event, delivery log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from botscope.api.deps import body_size_limit, get_principal
from botscope.api.problems import problem_docs
from botscope.auth.principal import Principal
from botscope.service import webhooks

router = APIRouter(tags=["webhooks"])
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
MAX_BODY_BYTES = 8 * 1024  # a label, a URL (at most 2048 characters) and up to three event types


class CreateWebhook(BaseModel):
    label: str = Field(description="1–64 printable characters, trimmed.")
    url: str = Field(description="https URL of the receiver; must resolve to public addresses only.")
    event_types: list[str] = Field(
        description="scan.completed, scan.failed, scan.cancelled, monitoring.findings_changed"
    )
    description: str | None = Field(default=None, description="Up to 500 characters.")


class UpdateWebhook(BaseModel):
    """Only the fields sent change. ``url`` passes the SSRF guard again; ``enabled: true`` on a
    disabled endpoint clears its failure streak (``failing_since``)."""

    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(default=None, description="1–64 printable characters, trimmed.")
    description: str | None = Field(default=None, description="Up to 500 characters; null clears it.")
    url: str | None = Field(default=None, description="https URL of the receiver; public addresses only.")
    event_types: list[str] | None = None
    enabled: StrictBool | None = None


class Webhook(BaseModel):
    webhook_id: str
    label: str
    description: str | None = None
    url: str
    event_types: list[str]
    status: str = Field(description="enabled | disabled")
    disabled_reason: str | None = None
    disabled_at: str | None = None
    created_at: str
    last_success_at: str | None = None
    last_failure_at: str | None = None
    failing_since: str | None = None
    updated_at: str | None = None
    rotated_at: str | None = None
    rotation_overlap_until: str | None = Field(
        default=None, description="Until then deliveries carry a signature with the previous secret too."
    )


class WebhookCreated(Webhook):
    secret: str = Field(
        description="Signing secret (whsec_…, Standard Webhooks). Shown only in this response."
    )


class WebhookList(BaseModel):
    data: list[Webhook]
    has_more: bool


class TestQueued(BaseModel):
    event_id: str
    delivery_id: str
    type: str
    status: str


class Redelivery(BaseModel):
    delivery_id: str | None = None
    event_id: str = Field(description="The webhook-id header of the new attempt (the same event).")
    attempt: int
    status: str


class Attempt(BaseModel):
    attempt: int
    at: str
    status_code: int | None = None
    duration_ms: int | None = None
    error: str | None = None
    next_retry_at: str | None = None


class Delivery(BaseModel):
    delivery_id: str | None = None
    event_id: str
    event_type: str | None = None
    status: str = Field(description="pending | delivered | failed")
    attempt_count: int
    next_retry_at: str | None = None
    error: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    attempts: list[Attempt]


class DeliveryList(BaseModel):
    data: list[Delivery]
    has_more: bool


@router.post(
    "/webhooks",
    status_code=201,
    response_model=WebhookCreated,
    summary="Create a webhook endpoint",
    dependencies=[Depends(body_size_limit(MAX_BODY_BYTES))],
)
def create_webhook(body: CreateWebhook, principal: CurrentPrincipal) -> dict[str, Any]:
    return webhooks.create_webhook(
        principal, label=body.label, url=body.url, event_types=body.event_types, description=body.description
    )


@router.get("/webhooks", response_model=WebhookList, summary="List webhook endpoints (no secrets)")
def list_webhooks(principal: CurrentPrincipal) -> dict[str, Any]:
    return webhooks.list_webhooks(principal)


@router.get("/webhooks/{webhook_id}", response_model=Webhook, summary="One webhook endpoint")
def get_webhook(webhook_id: str, principal: CurrentPrincipal) -> dict[str, Any]:
    return webhooks.get_webhook(principal, webhook_id)


@router.delete("/webhooks/{webhook_id}", status_code=204, response_class=Response, summary="Delete a webhook")
def delete_webhook(webhook_id: str, principal: CurrentPrincipal) -> Response:
    webhooks.delete_webhook(principal, webhook_id)
    return Response(status_code=204)


_MANUAL_SEND_LIMIT = (
    "rate_limited: too many test events or redeliveries to this webhook this minute (Retry-After)"
)


@router.post(
    "/webhooks/{webhook_id}/test",
    status_code=202,
    response_model=TestQueued,
    summary="Send a webhook.test event",
    responses=problem_docs(
        **{
            "409": "webhook_disabled: enable the webhook first (PATCH enabled: true)",
            "429": _MANUAL_SEND_LIMIT,
        }
    ),
)
def send_test(webhook_id: str, principal: CurrentPrincipal) -> dict[str, Any]:
    return webhooks.send_test(principal, webhook_id)


@router.patch(
    "/webhooks/{webhook_id}",
    response_model=Webhook,
    summary="Change a webhook endpoint",
    dependencies=[Depends(body_size_limit(MAX_BODY_BYTES))],
    responses=problem_docs(
        **{
            "409": "webhook_exists: the workspace already has a webhook for this URL",
            "422": "validation_error, invalid_target or target_not_public (url)",
        }
    ),
)
def update_webhook(webhook_id: str, body: UpdateWebhook, principal: CurrentPrincipal) -> dict[str, Any]:
    return webhooks.update_webhook(principal, webhook_id, body.model_dump(exclude_unset=True))


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    response_model=WebhookCreated,
    summary="Rotate the signing secret (the new one is shown once; the old one signs for 24 h more)",
)
def rotate_secret(webhook_id: str, principal: CurrentPrincipal) -> dict[str, Any]:
    return webhooks.rotate_secret(principal, webhook_id)


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=Redelivery,
    summary="Send a finished delivery again (same event, same webhook-id)",
    responses=problem_docs(
        **{
            "404": "not_found: no such webhook, or no such delivery (dlv_… or evt_…) for it",
            "409": "delivery_pending: the delivery is still being attempted; "
            "webhook_disabled: enable the webhook first",
            "429": _MANUAL_SEND_LIMIT,
        }
    ),
)
def redeliver(webhook_id: str, delivery_id: str, principal: CurrentPrincipal) -> dict[str, Any]:
    return webhooks.redeliver(principal, webhook_id, delivery_id)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=DeliveryList,
    summary="Deliveries of an endpoint with every attempt, newest first",
)
def list_deliveries(
    webhook_id: str,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    starting_after: Annotated[str | None, Query(description="event id (evt_…) cursor")] = None,
) -> dict[str, Any]:
    return webhooks.list_deliveries(principal, webhook_id, limit=limit, starting_after=starting_after)
