"""``/api/v1/api-keys``: create (secret shown once), list (no secrets), revoke (effective at once)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from botscope.api.deps import get_principal
from botscope.api.problems import problem_docs
from botscope.auth.principal import Principal
from botscope.errors import PayloadTooLarge, ValidationFailed
from botscope.service import api_keys

router = APIRouter(tags=["api-keys"])
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
MAX_BODY_BYTES = 4 * 1024  # a label


class CreateApiKey(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"label": "ci pipeline"}]})

    label: str = Field(description="1–64 printable characters, trimmed; says where the key is used.")


async def create_body(request: Request) -> CreateApiKey:
    """The JSON body, parsed only after the caller is authenticated (FastAPI would parse a declared
    body first, so an unauthenticated caller could learn validation details or get a 400)."""
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body must be at most {MAX_BODY_BYTES} bytes.")
    try:
        document = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            "The body must be a JSON object.", errors=[{"field": "body", "message": "invalid JSON"}]
        ) from exc
    try:
        return CreateApiKey.model_validate(document)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from exc


_AUTH = {
    "401": "unauthorized: missing, malformed, unknown or revoked credential (WWW-Authenticate: Bearer)",
    "403": "csrf (session cookie without an allowed Origin) or insufficient_scope (an mcp_ token)",
    "429": "rate_limited (Retry-After, RateLimit, RateLimit-Policy)",
}
_CREATE_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": CreateApiKey.model_json_schema()}},
    }
}


class ApiKeyCreated(BaseModel):
    api_key_id: str
    key: str = Field(description="The full secret. Shown only in this response: store it now.")
    label: str
    prefix: str
    last4: str
    created_at: str


class ApiKeySummary(BaseModel):
    api_key_id: str
    label: str
    prefix: str
    last4: str
    created_at: str
    last_used_at: str | None = None


class ApiKeyList(BaseModel):
    data: list[ApiKeySummary]
    has_more: bool


@router.get(
    "/api-keys",
    response_model=ApiKeyList,
    summary="List the workspace's active API keys",
    responses=problem_docs(**_AUTH),
)
def list_api_keys(principal: CurrentPrincipal) -> dict[str, Any]:
    return api_keys.list_api_keys(principal)


@router.post(
    "/api-keys",
    status_code=201,
    response_model=ApiKeyCreated,
    summary="Create an API key",
    description="The full `key` is in this response only; store it. A workspace holds at most 25 "
    "active keys (409 `api_key_limit_reached`).",
    openapi_extra=_CREATE_BODY_DOC,
    responses=problem_docs(
        **_AUTH,
        **{
            "409": "api_key_limit_reached: revoke a key first",
            "413": "payload_too_large",
            "422": "validation_error (errors[]: label)",
        },
    ),
)
def create_api_key(
    principal: CurrentPrincipal, body: Annotated[CreateApiKey, Depends(create_body)]
) -> dict[str, Any]:
    return api_keys.create_api_key(principal, body.label)


@router.delete(
    "/api-keys/{api_key_id}",
    status_code=204,
    response_class=Response,
    summary="Revoke an API key",
    description="Effective at once: the key's next request is 401.",
    responses=problem_docs(
        **_AUTH,
        **{"404": "not_found: no active key with this id in your workspace", "422": "validation_error"},
    ),
)
def revoke_api_key(api_key_id: str, principal: CurrentPrincipal) -> Response:
    api_keys.revoke_api_key(principal, api_key_id)
    return Response(status_code=204)
